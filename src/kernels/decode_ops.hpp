// Op encoders of the fused decode kernels (src/kernels/params/fused_decode.hpp,
// attention_decode.hpp): one query token, the RMSNorm folded into the projection that reads it,
// the epilogues (bias, residual, RoPE with the KV-cache write, SwiGLU) in the projection.
// Sizes are checked before anything is recorded, as in ops.hpp.
#pragma once
#include <cstdint>

#include "kernels/ops.hpp"

namespace stagefence::kernels::ops {

// An RMSNorm applied to a projection's input: a = x / rms(x) · w (· (1 + w) with add_one).
struct FoldedNorm {
  const Buffer* weight = nullptr;
  float eps = 0.0f;
  bool add_one = false;
};

// Whether mv, qkv and glu take rows of `cols` elements of type wt (whole blocks; whole 16-byte
// units of float types).
bool decode_row_supported(DType wt, int64_t cols);

// y[rows] = W · a (+ bias) (+ y when accumulate); a = x, or norm(x) when `norm` is given.
void mv(CommandEncoder& enc, const Buffer& w, DType wt, int rows, int cols, const Buffer& x,
        const Buffer& y, const Buffer* bias = nullptr, bool accumulate = false,
        const FoldedNorm* norm = nullptr);

struct QkvShape {
  int dim = 0;
  int heads = 0;
  int kv_heads = 0;
  int cap = 0;  // KV cache positions
  RopeParams rope;
};

// q_out = rope(Wq·a + bq); the caches at *position get rope(Wk·a + bk) and Wv·a + bv, a = norm(x).
// Biases are all present or all absent.
void qkv(CommandEncoder& enc, const Buffer& wq, const Buffer& wk, const Buffer& wv, DType wt,
         const QkvShape& shape, const Buffer& x, const FoldedNorm& norm, const Buffer* bq,
         const Buffer* bk, const Buffer* bv, const Buffer& position, const Buffer& q_out,
         const Buffer& k_cache, const Buffer& v_cache);

// out[ffn] = act(Wg·a) · (Wu·a), a = norm(x).
void glu(CommandEncoder& enc, const Buffer& wg, const Buffer& wu, DType wt, int ffn, int dim,
         const Buffer& x, const FoldedNorm& norm, const Buffer& out,
         Activation act = Activation::Silu);

// Whether attention_decode handles this head size (32, 64, 128 or 256).
bool attention_decode_supports(int head_dim);
uint64_t attention_decode_scratch_bytes(const AttentionParams& params, int splits);
// out = attention of q (one token at *position) over the caches; `scratch` holds
// attention_decode_scratch_bytes and starts zeroed (the kernel leaves it reusable).
void attention_decode(CommandEncoder& enc, const Buffer& q, const Buffer& k_cache,
                      const Buffer& v_cache, const Buffer& position, const Buffer& scratch,
                      const Buffer& out, int splits, const AttentionParams& params);

}  // namespace stagefence::kernels::ops
