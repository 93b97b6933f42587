// "attn.split" and "attn.merge": causal attention of T queries over the f16 KV cache, split
// over the keys (flash-decoding style) so that long contexts spread across blocks.
#include "kernels/params/attention.hpp"

#include <algorithm>
#include <cmath>
#include <cstdint>
#include <limits>
#include <string>
#include <vector>

#include "kernels/cpu/cpu_kernels.hpp"
#include "kernels/cpu/kernel_util.hpp"
#include "kernels/cpu/simd/simd.hpp"
#include "kernels/dequant.hpp"
#include "stagefence/error.hpp"

namespace stagefence::kernels::cpu {
namespace {

constexpr float kNegInf = -std::numeric_limits<float>::infinity();

// One (query, head, split) partial: unnormalised output, running max m and sum l.
void attn_split(const KernelArgs& args, const Launch& launch, uint64_t block_begin,
                uint64_t block_end) {
  constexpr const char* kName = "attn.split";
  const AttnSplitParams p = checked_params<AttnSplitParams>(args, kName);
  const int64_t tokens = p.tokens, heads = p.heads, kv_heads = p.kv_heads;
  const int64_t head_dim = p.head_dim, cap = p.cap, splits = p.splits, window = p.window;
  const float scale = p.scale, softcap = p.softcap;
  if (heads % kv_heads != 0)
    raise(ErrorCode::InvalidArgument,
          std::string(kName) + ": heads = " + std::to_string(heads) +
              " is not a multiple of kv_heads = " + std::to_string(kv_heads));
  const int64_t stride = head_dim + 2;
  require_binding(args, 0, uint64_t(tokens * heads * head_dim) * 4, kName, "q");
  require_binding(args, 1, uint64_t(kv_heads * cap * head_dim) * 2, kName, "k cache");
  require_binding(args, 2, uint64_t(kv_heads * cap * head_dim) * 2, kName, "v cache");
  require_binding(args, 3, uint64_t(tokens * heads * splits * stride) * 4, kName, "partial");
  require_binding(args, 4, uint64_t(tokens) * 4, kName, "positions");

  const float* q_all = args.p<const float>(0);
  const uint16_t* k_cache = args.p<const uint16_t>(1);
  const uint16_t* v_cache = args.p<const uint16_t>(2);
  float* partial = args.p<float>(3);
  const int32_t* positions = args.p<const int32_t>(4);
  const int64_t group = heads / kv_heads;
  thread_local std::vector<float> row, scores;
  row.resize(size_t(head_dim));

  const ItemRange range = items_of_blocks(tokens * heads * splits, launch, block_begin, block_end);
  for (int64_t item = range.begin; item < range.end; ++item) {
    const int64_t split = item % splits;
    const int64_t h = (item / splits) % heads;
    const int64_t t = item / (splits * heads);
    float* out = partial + item * stride;

    // Keys this query sees, [lo, hi]; keys past the cache's capacity were never stored.
    const int64_t pos = positions[t];
    const int64_t hi = std::min(pos, cap - 1);
    const int64_t lo = window > 0 ? std::max<int64_t>(0, pos - window + 1) : 0;
    const int64_t count = std::max<int64_t>(0, hi - lo + 1);
    const int64_t slice = (count + splits - 1) / splits;
    const int64_t k0 = lo + split * slice;
    const int64_t k1 = std::min(hi + 1, k0 + slice);
    std::fill(out, out + head_dim, 0.0f);
    if (k0 >= k1) {
      out[head_dim] = kNegInf;
      out[head_dim + 1] = 0.0f;
      continue;
    }

    const float* q = q_all + (t * heads + h) * head_dim;
    const int64_t kv = h / group;
    const uint16_t* k_head = k_cache + kv * cap * head_dim;
    const uint16_t* v_head = v_cache + kv * cap * head_dim;
    scores.resize(size_t(k1 - k0));
    float m = kNegInf;
    for (int64_t k = k0; k < k1; ++k) {
      half_to_float_row(k_head + k * head_dim, row.data(), head_dim);
      float s = simd::dot_f32(q, row.data(), head_dim) * scale;
      if (softcap > 0.0f) s = softcap * std::tanh(s / softcap);
      scores[size_t(k - k0)] = s;
      m = std::max(m, s);
    }
    float l = 0.0f;
    for (int64_t k = k0; k < k1; ++k) {
      const float p = std::exp(scores[size_t(k - k0)] - m);
      l += p;
      half_to_float_row(v_head + k * head_dim, row.data(), head_dim);
      for (int64_t d = 0; d < head_dim; ++d) out[d] += p * row[size_t(d)];
    }
    out[head_dim] = m;
    out[head_dim + 1] = l;
  }
}

// Work per item grows with the context, so blocks are small: ~8 (query, head, split) items.
Launch attn_split_launch(const KernelArgs& args) {
  const AttnSplitParams p = args.params<AttnSplitParams>();
  return grid_for(p.tokens * p.heads * p.splits, 8);
}

// Combines the splits of one (query, head): out = Σ e^(m_s−M)·o_s / Σ e^(m_s−M)·l_s.
// A query that saw no keys at all gets zeros (the CUDA kernel agrees).
void attn_merge(const KernelArgs& args, const Launch& launch, uint64_t block_begin,
                uint64_t block_end) {
  constexpr const char* kName = "attn.merge";
  const AttnMergeParams p = checked_params<AttnMergeParams>(args, kName);
  const int64_t tokens = p.tokens, heads = p.heads, head_dim = p.head_dim, splits = p.splits;
  const int64_t stride = head_dim + 2;
  require_binding(args, 0, uint64_t(tokens * heads * splits * stride) * 4, kName, "partial");
  require_binding(args, 1, uint64_t(tokens * heads * head_dim) * 4, kName, "out");

  const float* partial = args.p<const float>(0);
  float* out_all = args.p<float>(1);
  const ItemRange range = items_of_blocks(tokens * heads, launch, block_begin, block_end);
  for (int64_t item = range.begin; item < range.end; ++item) {
    const float* parts = partial + item * splits * stride;
    float* out = out_all + item * head_dim;
    float m = kNegInf;
    for (int64_t s = 0; s < splits; ++s) m = std::max(m, parts[s * stride + head_dim]);
    if (m == kNegInf) {
      std::fill(out, out + head_dim, 0.0f);
      continue;
    }
    std::fill(out, out + head_dim, 0.0f);
    float l = 0.0f;
    for (int64_t s = 0; s < splits; ++s) {
      const float* part = parts + s * stride;
      if (part[head_dim] == kNegInf) continue;
      const float weight = std::exp(part[head_dim] - m);
      l += weight * part[head_dim + 1];
      for (int64_t d = 0; d < head_dim; ++d) out[d] += weight * part[d];
    }
    const float inv_l = 1.0f / l;
    for (int64_t d = 0; d < head_dim; ++d) out[d] *= inv_l;
  }
}

// About 64 (query, head) items per block.
Launch attn_merge_launch(const KernelArgs& args) {
  const AttnMergeParams p = args.params<AttnMergeParams>();
  return grid_for(p.tokens * p.heads, 64);
}

}  // namespace

void append_attention_kernels(std::vector<CpuKernel>& out) {
  out.push_back({"attn.split", attn_split, attn_split_launch});
  out.push_back({"attn.merge", attn_merge, attn_merge_launch});
}

}  // namespace stagefence::kernels::cpu
