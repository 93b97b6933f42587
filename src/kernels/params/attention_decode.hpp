// Parameters of "attn.decode": causal attention of one query token over the f16 KV cache, split
// over the keys with the partial results merged in the same launch. Compiles under nvcc and C++.
//
//   b0 q f32 [heads, head_dim]  b1 k cache f16 [kv_heads, cap, head_dim]  b2 v cache (same)
//   b3 scratch (attn_decode_scratch_bytes: per kv head and split the unnormalised outputs of its
//      query group, then the running max m and sum l; then one int32 counter per kv head, which
//      must be zero before the first launch and is zero again after every launch)
//   b4 position int32 [1]: the query sees keys [lo, min(pos, cap - 1)], lo = window ? max(0,
//      pos - window + 1) : 0
//   b5 out f32 [heads, head_dim]
// Query head h reads kv head h / (heads / kv_heads). Scores are q·k · scale, then
// softcap · tanh(s / softcap) when softcap > 0. Keys are cut into `splits` contiguous equal
// slices (the last may be short or empty); the merge adds the slices in order.
#pragma once
#include <cstdint>

#include "kernels/params/shape_check.hpp"

namespace stagefence::kernels {

struct AttnDecodeParams {
  int32_t heads = 0;
  int32_t kv_heads = 0;
  int32_t head_dim = 0;
  int32_t cap = 0;
  float scale = 0.0f;
  int32_t splits = 1;
  int32_t window = 0;
  float softcap = 0.0f;

  // Head sizes 32, 64, 128 and 256 ("attn.decode.hd<N>"); query groups of at most 8 heads.
  std::string check() const {
    return ShapeCheck()
        .require(head_dim == 32 || head_dim == 64 || head_dim == 128 || head_dim == 256,
                 "head_dim must be 32, 64, 128 or 256")
        .range("kv_heads", kv_heads, 1, kMaxExtent)
        .require(
            kv_heads > 0 && heads % kv_heads == 0 && heads / kv_heads >= 1 && heads / kv_heads <= 8,
            "heads must be 1 to 8 times kv_heads")
        .range("cap", cap, 1, kMaxExtent)
        .range("splits", splits, 1, 1024)
        .range("window", window, 0, kMaxExtent)
        .result();
  }
};

inline uint64_t attn_decode_scratch_bytes(int heads, int kv_heads, int head_dim, int splits) {
  const uint64_t group = uint64_t(heads / (kv_heads > 0 ? kv_heads : 1));
  return uint64_t(kv_heads) * uint64_t(splits) * group * uint64_t(head_dim + 2) * 4 +
         uint64_t(kv_heads) * 4;
}

}  // namespace stagefence::kernels
