// Block-quantised weight rows against 8-bit activation blocks (kernels/act_q8.hpp), on the CPU.
#pragma once
#include <cstdint>

#include "kernels/act_q8.hpp"
#include "stagefence/dtype.hpp"

namespace stagefence::kernels::cpu {

// True for the weight types whose decode products use 8-bit activations.
bool is_q8_activation_type(DType t);

// x[n] (n a multiple of 32) into n / 32 blocks.
void quantize_activations(const float* x, int64_t n, ActBlockQ8* out);

// Σ over the row's 32-element groups of their terms, added in row order; cols = the row length.
float dot_q8_row(DType t, const uint8_t* row, const ActBlockQ8* x, int64_t cols);

}  // namespace stagefence::kernels::cpu
