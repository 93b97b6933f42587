// Decoding of weight rows (plain and GGML block-quantised types) into f32, and the f32 dot
// products the matrix-vector kernels use. Activations always stay f32.
#pragma once
#include <cstdint>
#include <span>

#include "stagefence/dtype.hpp"

namespace stagefence::kernels {

// Weight types that have forward kernels ("matvec.<dtype_name>" etc.), in a fixed order.
std::span<const DType> forward_weight_types();
bool is_forward_weight_type(DType t);
// A forward weight type stored in GGML blocks (every one but F32, F16 and BF16).
bool is_block_weight_type(DType t);

// Decodes n elements (a whole number of blocks) of type t at src into dst.
using DequantizeFn = void (*)(const void* src, float* dst, int64_t n);
// Dot product of n elements of a type-t row with f32 x, accumulated in f32.
using DotFn = float (*)(const void* row, const float* x, int64_t n);

struct RowCodec {
  DType type;
  DequantizeFn dequantize;
  DotFn dot;
};

// The codec of a forward weight type; throws Unsupported for any other type.
const RowCodec& row_codec(DType t);

inline void dequantize(DType t, const void* src, float* dst, int64_t n) {
  row_codec(t).dequantize(src, dst, n);
}
inline float dot(DType t, const void* row, const float* x, int64_t n) {
  return row_codec(t).dot(row, x, n);
}

// f32 dot product with a fixed accumulation order: element j goes to lane j mod 16, lanes are
// summed pairwise at the end. Every dot product above decodes its row and then follows exactly
// this order, so a row's result never depends on how it was chunked.
float dot_f32(const float* a, const float* b, int64_t n);

// Exact IEEE half to float for a row (branch-free, so it vectorises).
void half_to_float_row(const uint16_t* src, float* dst, int64_t n);

}  // namespace stagefence::kernels
