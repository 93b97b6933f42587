// Element types of buffers and tensors, including the GGUF block-quantised ones.
#pragma once
#include <cstddef>
#include <cstdint>
#include <string_view>

namespace stagefence {

// Values match the GGML/GGUF type ids so a GGUF tensor type maps directly.
enum class DType : uint32_t {
  F32 = 0,
  F16 = 1,
  Q4_0 = 2,
  Q4_1 = 3,
  Q5_0 = 6,
  Q5_1 = 7,
  Q8_0 = 8,
  Q8_1 = 9,
  Q2_K = 10,
  Q3_K = 11,
  Q4_K = 12,
  Q5_K = 13,
  Q6_K = 14,
  Q8_K = 15,
  I8 = 24,
  I16 = 25,
  I32 = 26,
  I64 = 27,
  F64 = 28,
  BF16 = 30,
  U8 = 1000,  // raw bytes; not a GGUF type
  U32 = 1001,
};

struct DTypeInfo {
  DType type;
  std::string_view name;
  uint32_t block_elems;  // elements per block (1 for plain types)
  uint32_t block_bytes;  // bytes per block
};

// Returns nullptr for ids that stagefence does not know.
const DTypeInfo* dtype_info(DType t);
const DTypeInfo* dtype_info_from_id(uint32_t ggml_id);
std::string_view dtype_name(DType t);
// Bytes of `elems` elements; throws InvalidArgument if elems is not a whole number of blocks.
uint64_t dtype_bytes(DType t, uint64_t elems);

}  // namespace stagefence
