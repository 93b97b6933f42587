// Constants of the GGUF container format shared by the reader and the writer.
#pragma once
#include <bit>
#include <cstdint>
#include <string_view>

namespace stagefence::gguf {

// The parser copies little-endian fields straight into host integers.
static_assert(std::endian::native == std::endian::little,
              "GGUF support assumes a little-endian host");

inline constexpr uint32_t kMagic = 0x46554747;  // the bytes "GGUF" read as a little-endian u32
inline constexpr uint32_t kMinVersion = 2;
inline constexpr uint32_t kMaxVersion = 3;
inline constexpr uint32_t kWriteVersion = 3;
inline constexpr uint32_t kDefaultAlignment = 32;
inline constexpr std::string_view kAlignmentKey = "general.alignment";
inline constexpr uint64_t kHeaderBytes = 24;  // magic, version, tensor count, metadata count
inline constexpr uint32_t kMaxDims = 4;

// Smallest encodings, used to reject counts that cannot fit in the bytes that remain.
inline constexpr uint64_t kMinMetadataBytes = 8 + 1 + 4 + 1;  // length, 1-byte key, type, u8
inline constexpr uint64_t kMinTensorInfoBytes =
    8 + 1 + 4 + 8 + 4 + 8;  // name, n_dims, 1 dim, type, offset

}  // namespace stagefence::gguf
