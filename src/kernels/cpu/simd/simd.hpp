// SIMD forms of the CPU decode kernels' inner loops (Google Highway, dispatched at run time to
// the best instruction set the machine has). Each computes exactly the function of its scalar
// definition: the q8 dots and the activation quantiser of q8_dot.hpp bit for bit (integer sums
// are exact, the float terms are scaled and added in the same order), and the float dots of
// dequant.hpp bit for bit (the same 16 lanes, the same pairwise lane sum, no fused multiply-add).
#pragma once
#include <cstdint>

#include "kernels/act_q8.hpp"
#include "stagefence/dtype.hpp"

namespace stagefence::kernels::cpu::simd {

// q8_dot.hpp's quantize_activations and dot_q8_row.
void quantize_activations(const float* x, int64_t n, ActBlockQ8* out);
float dot_q8_row(DType t, const uint8_t* row, const ActBlockQ8* x, int64_t cols);
// out[r] = dot_q8_row(t, rows[r], x, cols) for r < n, bit for bit; faster than n single rows
// (eight rows share each activation load where the target allows).
void dot_q8_rows(DType t, const uint8_t* const* rows, int64_t n, const ActBlockQ8* x, int64_t cols,
                 float* out);

// dequant.hpp's dot of an f32, f16 or bf16 row with f32 x (dot_f32's lane order).
float dot_f32(const float* a, const float* x, int64_t n);
float dot_f16(const uint16_t* row, const float* x, int64_t n);
float dot_bf16(const uint16_t* row, const float* x, int64_t n);

// dequant.hpp's dot(t, row, x, n) for a forward weight type t (f32 activations); nullptr for
// any other type.
using FloatDotFn = float (*)(const void* row, const float* x, int64_t n);
FloatDotFn row_dot(DType t);
// out[i] = row_dot(t)(rows[i], x, n) for i < count, bit for bit, for a forward weight type t;
// faster than count single rows for the block types (four rows share each load of x and
// their blocks are decoded with byte-wide vector operations).
void row_dots(DType t, const uint8_t* const* rows, int64_t count, const float* x, int64_t n,
              float* out);

}  // namespace stagefence::kernels::cpu::simd
