// Double-precision references of the forward ops, written from kernel_spec.hpp's description
// (independent of the kernels' code), shared by the per-kernel tests and backend_ops_test.
#pragma once
#include <algorithm>
#include <cmath>
#include <cstdint>
#include <numeric>
#include <vector>

#include "kernels/kernel_spec.hpp"
#include "reference_decode.hpp"

namespace stagefence::kernels::testing {

// The sampler's rule, written out directly: full sort, candidate cap, double softmax, top-p
// prefix, renormalised draw.
inline int32_t reference_sample(const std::vector<float>& logits, float temperature, int top_k,
                                float top_p, uint64_t seed, uint64_t step) {
  std::vector<int32_t> ids(logits.size());
  std::iota(ids.begin(), ids.end(), 0);
  std::stable_sort(ids.begin(), ids.end(),
                   [&](int32_t a, int32_t b) { return logits[a] > logits[b]; });
  if (temperature <= 0) return ids[0];
  size_t count = top_k > 0 ? size_t(top_k) : logits.size();
  count = std::min({count, logits.size(), size_t(kMaxSampleCandidates)});
  std::vector<double> p(count);
  double sum = 0;
  for (size_t i = 0; i < count; ++i)
    sum += p[i] = std::exp((logits[ids[i]] - logits[ids[0]]) / double(temperature));
  for (double& v : p) v /= sum;
  size_t kept = count;
  if (top_p < 1) {
    double mass = 0;
    for (kept = 0; kept < count;) {
      mass += p[kept++];
      if (mass >= top_p) break;
    }
  }
  const double total = std::accumulate(p.begin(), p.begin() + kept, 0.0);
  const double u = sf_uniform(seed, step) * total;
  double cumulative = 0;
  for (size_t i = 0; i < kept; ++i)
    if ((cumulative += p[i]) > u) return ids[i];
  return ids[kept - 1];
}

// Causal softmax attention of query t, head h over the f16 caches [kv_heads, cap, head_dim]:
// keys [lo, min(pos, cap - 1)], lo = window ? max(0, pos - window + 1) : 0; scores q·k · scale,
// then softcap · tanh(s / softcap) when softcap > 0. No keys: zeros.
struct AttentionShape {
  int heads = 0, kv_heads = 0, head_dim = 0, cap = 0, window = 0;
  double scale = 0, softcap = 0;
};
inline std::vector<double> reference_attention(const std::vector<float>& q,
                                               const std::vector<uint16_t>& k_cache,
                                               const std::vector<uint16_t>& v_cache,
                                               const AttentionShape& s, int t, int h, int pos) {
  const int64_t hd = s.head_dim, kv = h / (s.heads / s.kv_heads);
  const int64_t hi = std::min(pos, s.cap - 1);
  const int64_t lo = s.window > 0 ? std::max(0, pos - s.window + 1) : 0;
  std::vector<double> out(size_t(hd), 0.0);
  if (hi < lo) return out;
  std::vector<double> score;
  for (int64_t key = lo; key <= hi; ++key) {
    double dot = 0;
    for (int64_t d = 0; d < hd; ++d)
      dot += double(q[(size_t(t) * s.heads + h) * hd + d]) *
             ref_half(k_cache[(size_t(kv) * s.cap + key) * hd + d]);
    dot *= s.scale;
    if (s.softcap > 0) dot = s.softcap * std::tanh(dot / s.softcap);
    score.push_back(dot);
  }
  const double top = *std::max_element(score.begin(), score.end());
  double denom = 0;
  for (double& v : score) denom += (v = std::exp(v - top));
  for (int64_t key = lo; key <= hi; ++key)
    for (int64_t d = 0; d < hd; ++d)
      out[size_t(d)] +=
          score[size_t(key - lo)] * ref_half(v_cache[(size_t(kv) * s.cap + key) * hd + d]);
  for (double& v : out) v /= denom;
  return out;
}

inline double reference_silu(double g) {
  return g / (1.0 + std::exp(-g));
}
inline double reference_gelu_tanh(double g) {
  return 0.5 * g * (1.0 + std::tanh(std::sqrt(2.0 / M_PI) * (g + 0.044715 * g * g * g)));
}

}  // namespace stagefence::kernels::testing
