// Encoding of f32 rows into weight types (round-to-nearest scale choice). Used to write the
// built-in model and test models; the blocks decode with ggml's definitions.
#pragma once
#include <cstdint>
#include <span>
#include <vector>

#include "stagefence/dtype.hpp"

namespace stagefence::kernels {

// Types quantize() can write: F32 F16 BF16 Q8_0 Q4_0 Q4_1 Q5_0 Q4_K Q5_K Q6_K.
bool can_quantize(DType t);

// Encodes n elements (a whole number of blocks of t) from src into dst, which must hold
// dtype_bytes(t, n) bytes. Throws Unsupported for other types, InvalidArgument for partial blocks.
void quantize(DType t, const float* src, void* dst, int64_t n);
std::vector<uint8_t> quantize(DType t, std::span<const float> src);

}  // namespace stagefence::kernels
