// 8-bit activation blocks: the numerics of every decode matrix-vector product whose weights are
// block-quantised (q8_0 q4_0 q4_1 q5_0 q4_k q5_k q6_k), on every backend. Float weights (f32,
// f16, bf16) and prefill GEMMs keep f32 activations. STAGEFENCE_ACTIVATIONS=f32 selects the f32
// activation path for quantised weights too.
//
// The activation vector x[n] (n a multiple of 32) is cut into blocks of 32. Block j:
//   amax = max |x_i|,  d_j = amax / 127,  q_i = rint(x_i * (amax > 0 ? 127 / amax : 0))
// (f32 arithmetic, correctly rounded division, rint rounds half to even), so q_i is in
// [-127, 127]; s_j = sum of the block's q_i. The dot product of a weight row with x is then a sum
// over the row's 32-element groups of exact integer sums scaled in f32, each term evaluated left
// to right as written:
//   q8_0  d_w · d_j · Σ qw·q
//   q4_0  d_w · d_j · (Σ qw·q − 8·s_j)           qw the unsigned nibble, 0..15
//   q5_0  d_w · d_j · (Σ qw·q − 16·s_j)          qw the 5-bit value, 0..31
//   q4_1  d_w · d_j · Σ qw·q + m_w · d_j · s_j
//   q4_k  d·sc_g · d_j · Σ qw·q − dmin·m_g · d_j · s_j   g: the 32-group's sub-block
//   q5_k  as q4_k, with 5-bit qw
//   q6_k  d · d_j · (sc_a · Σ_a (qw−32)·q + sc_b · Σ_b (qw−32)·q)   a, b: its two 16-halves
// A block holding NaN or ±inf gets d = NaN and q = 0, so the product is NaN (never a silently
// finite value). The order in which a row's group terms are added is each backend's own (f32
// rounding may differ between backends); the blocks, the integer sums and each term's scale order
// may not.
#pragma once
#include <cmath>
#include <cstdint>

#include "stagefence/kernel_args.hpp"  // SF_HD

namespace stagefence::kernels {

inline constexpr int kActBlock = 32;

// One block of 32 quantised activations (40 bytes; arrays of them stay 8-byte aligned).
struct ActBlockQ8 {
  float d;      // scale: x_i ≈ d · q[i]
  int32_t sum;  // Σ q[i]
  int8_t q[kActBlock];
};
static_assert(sizeof(ActBlockQ8) == 40, "ActBlockQ8 is 40 bytes");

// The scale's reciprocal factor of a block with largest magnitude amax (0 for an all-zero block).
SF_HD float act_q8_inverse(float amax) {
  return amax > 0.0f ? 127.0f / amax : 0.0f;
}

// Quantises one block of 32 activations, exactly as the header comment defines.
SF_HD void quantize_act_block(const float* x, ActBlockQ8* out) {
  float amax = 0.0f;
  bool finite = true;
  for (int i = 0; i < kActBlock; ++i) {
    const float a = fabsf(x[i]);
    finite = finite && a <= 3.402823466e38f;  // false for NaN and inf
    amax = fmaxf(amax, a);
  }
  const float inv = finite ? act_q8_inverse(amax) : 0.0f;
  int32_t sum = 0;
  for (int i = 0; i < kActBlock; ++i) {
    const int v = finite ? int(rintf(x[i] * inv)) : 0;
    out->q[i] = int8_t(v);
    sum += v;
  }
  out->d = finite ? amax / 127.0f : __builtin_nanf("");
  out->sum = sum;
}

}  // namespace stagefence::kernels
