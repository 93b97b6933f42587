// Parameters of "attn.split" and "attn.merge" (kernel_spec.hpp): one scalar word per field, in
// the spec's order. head_dim is a multiple of 8 and at most 256 on every backend: the CUDA
// kernels give each lane 8 dims of a key and at least one key to each warp step.
#pragma once
#include <cstdint>

#include "kernels/params/shape_check.hpp"

namespace stagefence::kernels {

inline constexpr int64_t kAttnMaxHeadDim = 256;
inline constexpr int64_t kAttnHeadDimStep = 8;

struct AttnSplitParams {
  int64_t tokens = 0;
  int64_t heads = 0;
  int64_t kv_heads = 0;
  int64_t head_dim = 0;
  int64_t cap = 0;  // KV cache capacity in positions
  ScalarF32 scale = 0.0f;
  int64_t splits = 1;
  int64_t window = 0;        // sliding window in keys; 0: none
  ScalarF32 softcap = 0.0f;  // 0: none

  std::string check() const {
    return ShapeCheck()
        .range("T", tokens, 0, kMaxExtent)
        .range("heads", heads, 1, kMaxExtent)
        .range("kv_heads", kv_heads, 1, heads)
        .require(kv_heads > 0 && heads % kv_heads == 0, "heads must be a multiple of kv_heads")
        .range("head_dim", head_dim, kAttnHeadDimStep, kAttnMaxHeadDim)
        .multiple("head_dim", head_dim, kAttnHeadDimStep, "8 dims per lane")
        .range("cap", cap, 1, kMaxExtent)
        .range("splits", splits, 1, kMaxExtent)
        .range("window", window, 0, kMaxExtent)
        .result();
  }
};

struct AttnMergeParams {
  int64_t tokens = 0;
  int64_t heads = 0;
  int64_t head_dim = 0;
  int64_t splits = 1;

  std::string check() const {
    return ShapeCheck()
        .range("T", tokens, 0, kMaxExtent)
        .range("heads", heads, 1, kMaxExtent)
        .range("head_dim", head_dim, kAttnHeadDimStep, kAttnMaxHeadDim)
        .multiple("head_dim", head_dim, kAttnHeadDimStep, "8 dims per lane")
        .range("splits", splits, 1, kMaxExtent)
        .result();
  }
};

static_assert(sizeof(AttnSplitParams) == 9 * 8, "AttnSplitParams: one word per scalar of the spec");
static_assert(sizeof(AttnMergeParams) == 4 * 8, "AttnMergeParams: one word per scalar of the spec");

}  // namespace stagefence::kernels
