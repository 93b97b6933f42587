// Parameters of the decode kernels that fuse the RMSNorm, the projections and their epilogues
// (one query token; the position is read from the device). Compiles under nvcc and C++.
//
// Activations: block-quantised weights multiply 8-bit activation blocks (kernels/act_q8.hpp);
// f32, f16 and bf16 weights multiply f32 activations. A normalised input is
// a = x / sqrt(mean(x²) + eps) · w (or · (1 + w) with kNormAddOne), evaluated in that order.
//
// "mv.<wt>"   y[r] = Σ_c W[r,c]·a[c] (+ bias[r]) (+ y_old[r])
//             b0 W [rows, cols]  b1 x f32 [cols]  b2 y f32 [rows] (read-write with kMvAccumulate)
//             b3 bias f32 [rows] (kMvBias)  b4 norm weight f32 [cols] (kMvNorm; else a = x)
//             An absent optional binding is bound to x (read-only, never touched).
//
// "qkv.<wt>"  q, k, v = Wq·a, Wk·a, Wv·a (+ biases), a the normalised x; RoPE (the "rope"
//             kernel's angle and pairing) on q and k; q is written to q_out, k and v (as f16) to
//             the caches at the position (skipped when position >= cap).
//             b0 Wq [heads·hd, dim]  b1 Wk [kv·hd, dim]  b2 Wv [kv·hd, dim]  b3 x f32 [dim]
//             b4 norm weight f32 [dim]  b5 bq  b6 bk  b7 bv (kQkvBias; else bound to x)
//             b8 position int32 [1]  b9 q_out f32 [heads·hd]  b10 k cache f16 [kv, cap, hd]
//             b11 v cache f16 [kv, cap, hd]
//
// "glu.<wt>"  out[i] = act(Wg[i]·a) · (Wu[i]·a), a the normalised x, act silu or gelu_tanh
//             (the "swiglu" kernel's formulas).
//             b0 Wg [ffn, dim]  b1 Wu [ffn, dim]  b2 x f32 [dim]  b3 norm weight f32 [dim]
//             b4 out f32 [ffn]
#pragma once
#include <cstdint>

#include "kernels/params/shape_check.hpp"

namespace stagefence::kernels {

inline constexpr uint32_t kMvBias = 1u;
inline constexpr uint32_t kMvAccumulate = 2u;
inline constexpr uint32_t kMvNorm = 4u;
inline constexpr uint32_t kNormAddOne = 8u;  // mv, qkv, glu: a = x̂ · (1 + w)
inline constexpr uint32_t kQkvBias = 16u;
// The most input elements a row may have: the activations sit in shared memory (8-bit blocks for
// block types; the op encoder holds f32 ones to 16384).
inline constexpr int64_t kDecodeMaxCols = 49152;

struct MvParams {
  int32_t rows = 0;
  int32_t cols = 0;
  uint32_t flags = 0;
  float eps = 0.0f;

  std::string check() const {
    return ShapeCheck()
        .range("rows", rows, 1, kMaxExtent)
        .range("cols", cols, 1, kDecodeMaxCols)
        .require((flags & ~(kMvBias | kMvAccumulate | kMvNorm | kNormAddOne)) == 0,
                 "flags hold only kMvBias, kMvAccumulate, kMvNorm and kNormAddOne")
        .result();
  }
};

struct QkvParams {
  int32_t dim = 0;
  int32_t heads = 0;
  int32_t kv_heads = 0;
  int32_t head_dim = 0;
  int32_t rot_dim = 0;
  int32_t rope_mode = 0;  // 0: pairs (2i, 2i+1); 1: pairs (i, i + rot_dim/2)
  float theta_base = 10000.0f;
  float freq_scale = 1.0f;
  float eps = 0.0f;
  int32_t cap = 0;
  uint32_t flags = 0;

  std::string check() const {
    return ShapeCheck()
        .range("dim", dim, 1, kDecodeMaxCols)
        .range("heads", heads, 1, kMaxExtent)
        .range("kv_heads", kv_heads, 1, heads)
        .require(kv_heads > 0 && heads % kv_heads == 0, "heads must be a multiple of kv_heads")
        .range("head_dim", head_dim, 2, kMaxExtent)
        .multiple("head_dim", head_dim, 2, "dims rotate in pairs")
        .range("rot_dim", rot_dim, 0, head_dim)
        .multiple("rot_dim", rot_dim, 2, "dims rotate in pairs")
        .range("rope_mode", rope_mode, 0, 1)
        .range("cap", cap, 1, kMaxExtent)
        .require((flags & ~(kQkvBias | kNormAddOne)) == 0,
                 "flags hold only kQkvBias and kNormAddOne")
        .result();
  }
};

struct GluParams {
  int32_t ffn = 0;
  int32_t dim = 0;
  int32_t act = 0;  // 0: silu, 1: gelu_tanh
  float eps = 0.0f;
  uint32_t flags = 0;

  std::string check() const {
    return ShapeCheck()
        .range("ffn", ffn, 1, kMaxExtent)
        .range("dim", dim, 1, kDecodeMaxCols)
        .range("act", act, 0, 1)
        .require((flags & ~kNormAddOne) == 0, "flags hold only kNormAddOne")
        .result();
  }
};

// The pair of rows a RoPE task covers inside one head: rows (first, second) of the head; a pair
// with rotated == false lies past rot_dim and is written as is.
struct RopePair {
  int first = 0;
  int second = 0;
  int freq = 0;  // i of theta^(-2i/rot_dim)
  bool rotated = false;
};

// Pair j (0 <= j < head_dim/2) of a head under the given mode and rotary width.
#if defined(__CUDACC__)
__host__ __device__
#endif
    inline RopePair
    rope_pair(int j, int head_dim, int rot_dim, int mode) {
  (void)head_dim;
  const int half = rot_dim / 2;
  if (j < half) {
    if (mode == 0) return {2 * j, 2 * j + 1, j, true};
    return {j, j + half, j, true};
  }
  const int rest = rot_dim + 2 * (j - half);
  return {rest, rest + 1, 0, false};
}

}  // namespace stagefence::kernels
