// attn.split + attn.merge against a naive double softmax attention, over several split counts,
// sliding windows, softcaps and GQA.
#include <gtest/gtest.h>

#include <algorithm>
#include <cmath>
#include <cstdint>
#include <random>

#include "kernel_test_util.hpp"
#include "reference_decode.hpp"

namespace stagefence::kernels::testing {
namespace {

struct AttnCase {
  int splits;
  int window;
  float softcap;
};

class Attention : public ::testing::TestWithParam<AttnCase> {};

// Query t sees keys [max(0, pos − window + 1) (or 0), min(pos, cap − 1)]; tolerance 1e-5
// absolute (values are O(1)); every run mode of both kernels gives identical bits.
TEST_P(Attention, MatchesNaiveSoftmax) {
  const AttnCase c = GetParam();
  const cpu::CpuKernel& split_k = kernel("attn.split");
  const cpu::CpuKernel& merge_k = kernel("attn.merge");
  std::mt19937 rng(31 + c.splits * 7 + c.window);
  const int tokens = 4, heads = 4, kv_heads = 2, head_dim = 32, cap = 40;
  const float scale = 1.0f / std::sqrt(float(head_dim));
  std::vector<int32_t> pos = {5, 17, 30, cap + 2};
  std::vector<float> q = random_floats(rng, size_t(tokens) * heads * head_dim, -2, 2);
  std::vector<uint16_t> k_cache(size_t(kv_heads) * cap * head_dim), v_cache(k_cache.size());
  const std::vector<float> kf = random_floats(rng, k_cache.size(), -2, 2);
  const std::vector<float> vf = random_floats(rng, v_cache.size());
  for (size_t i = 0; i < k_cache.size(); ++i) {
    k_cache[i] = quant::float_to_half(kf[i]);
    v_cache[i] = quant::float_to_half(vf[i]);
  }
  const size_t partial_floats = size_t(tokens) * heads * c.splits * (head_dim + 2);

  std::vector<float> first_partial, first_out;
  for (RunMode mode : kAllRunModes) {
    std::vector<float> partial(partial_floats), out(size_t(tokens) * heads * head_dim);
    poison(partial);
    poison(out);
    ArgsBuilder s;
    s.bind(q).bind(k_cache).bind(v_cache).bind(partial).bind(pos);
    s.scalar(tokens).scalar(heads).scalar(kv_heads).scalar(head_dim).scalar(cap).scalar(scale);
    s.scalar(c.splits).scalar(c.window).scalar(c.softcap);
    run(split_k, s.args(), mode);
    ArgsBuilder m;
    m.bind(partial).bind(out).scalar(tokens).scalar(heads).scalar(head_dim).scalar(c.splits);
    run(merge_k, m.args(), mode);

    for (int t = 0; t < tokens; ++t)
      for (int h = 0; h < heads; ++h) {
        const int kv = h / (heads / kv_heads);
        const int hi = std::min(pos[t], cap - 1);
        const int lo = c.window > 0 ? std::max(0, pos[t] - c.window + 1) : 0;
        std::vector<double> scores;
        for (int key = lo; key <= hi; ++key) {
          double sdot = 0;
          for (int d = 0; d < head_dim; ++d)
            sdot += double(q[(size_t(t) * heads + h) * head_dim + d]) *
                    ref_half(k_cache[(size_t(kv) * cap + key) * head_dim + d]);
          sdot *= scale;
          if (c.softcap > 0) sdot = c.softcap * std::tanh(sdot / c.softcap);
          scores.push_back(sdot);
        }
        const double mx = *std::max_element(scores.begin(), scores.end());
        double denom = 0;
        for (double& sc : scores) denom += (sc = std::exp(sc - mx));
        for (int d = 0; d < head_dim; ++d) {
          double want = 0;
          for (int key = lo; key <= hi; ++key)
            want += scores[size_t(key - lo)] *
                    ref_half(v_cache[(size_t(kv) * cap + key) * head_dim + d]);
          want /= denom;
          ASSERT_NEAR(out[(size_t(t) * heads + h) * head_dim + d], want, 1e-5)
              << "splits " << c.splits << " window " << c.window << " t " << t << " h " << h;
        }
      }
    if (first_out.empty()) {
      first_partial = partial;
      first_out = out;
    } else {
      EXPECT_TRUE(bitwise_equal(first_partial, partial));
      EXPECT_TRUE(bitwise_equal(first_out, out));
    }
  }
}

INSTANTIATE_TEST_SUITE_P(SplitsWindowsSoftcaps, Attention,
                         ::testing::Values(AttnCase{1, 0, 0}, AttnCase{3, 0, 0}, AttnCase{8, 0, 0},
                                           AttnCase{3, 8, 0}, AttnCase{8, 4, 5.0f},
                                           AttnCase{5, 0, 2.0f}, AttnCase{64, 0, 0}));

// Slices are ceil(count / splits) keys; empty ones write m = −inf, l = 0 and zeros.
TEST(AttentionSplit, EmptySlicesAndQueriesWithoutKeys) {
  const cpu::CpuKernel& split_k = kernel("attn.split");
  const cpu::CpuKernel& merge_k = kernel("attn.merge");
  std::mt19937 rng(41);
  const int tokens = 2, heads = 1, head_dim = 8, cap = 16, splits = 4;
  std::vector<int32_t> pos = {1, -1};  // 2 keys over 4 splits; no keys at all
  std::vector<float> q = random_floats(rng, size_t(tokens) * head_dim);
  std::vector<uint16_t> cache(size_t(cap) * head_dim);
  for (auto& h : cache) h = quant::float_to_half(random_floats(rng, 1)[0]);
  std::vector<float> partial(size_t(tokens) * splits * (head_dim + 2)),
      out(size_t(tokens) * head_dim);
  poison(partial);
  poison(out);
  ArgsBuilder s;
  s.bind(q).bind(cache).bind(cache).bind(partial).bind(pos);
  s.scalar(tokens).scalar(heads).scalar(1).scalar(head_dim).scalar(cap).scalar(0.5f);
  s.scalar(splits).scalar(0).scalar(0.0f);
  run_full(split_k, s.args());
  for (int t = 0; t < tokens; ++t)
    for (int sp = 0; sp < splits; ++sp) {
      const float* part = &partial[(size_t(t) * splits + sp) * (head_dim + 2)];
      const bool empty = t == 1 || sp >= 2;
      if (empty) {
        for (int d = 0; d < head_dim; ++d) EXPECT_EQ(part[d], 0.0f);
        EXPECT_EQ(part[head_dim], -INFINITY);
        EXPECT_EQ(part[head_dim + 1], 0.0f);
      } else {
        EXPECT_EQ(part[head_dim + 1], 1.0f);  // one key: exp(s − s)
      }
    }
  ArgsBuilder m;
  m.bind(partial).bind(out).scalar(tokens).scalar(heads).scalar(head_dim).scalar(splits);
  run_full(merge_k, m.args());
  for (int d = 0; d < head_dim; ++d) {
    EXPECT_FALSE(std::isnan(out[d]));
    EXPECT_EQ(out[head_dim + d], 0.0f);  // a query with no keys gets zeros on every backend
  }
}

}  // namespace
}  // namespace stagefence::kernels::testing
