// Copies out of a GGUF file's bytes for the loader, with the two failures a big load meets
// turned into errors that name their cause: the mapped file shrinking under the copy (SIGBUS)
// and host memory running out (std::bad_alloc).
#pragma once
#include <cstddef>
#include <cstdint>
#include <string>
#include <vector>

#include "model/gguf/gguf_file.hpp"

namespace stagefence::gguf {

// Copies n bytes at `src`, which lie inside file.bytes(), to dst. When the file is mapped, a
// SIGBUS while reading (it was truncated, or its storage failed, after it was mapped) throws
// Error(Io) naming the file and the offset instead of killing the process. The handler is
// installed only around the copy and the previous one restored after; a SIGBUS from anywhere
// else goes to the previous handler.
void copy_out(const GgufFile& file, const std::byte* src, size_t n, void* dst);

// n bytes of host memory for `what`: throws Error(OutOfRange) naming what and n instead of
// std::bad_alloc when they cannot be had.
std::vector<uint8_t> host_bytes(uint64_t n, const std::string& what);

// The bytes of tensor t, copied out of the file (copy_out) into host memory (host_bytes).
std::vector<uint8_t> read_tensor(const GgufFile& file, const TensorView& t);

}  // namespace stagefence::gguf
