// Every forward-pass op on every backend this machine has, recorded through Device and the op
// encoders as the forward pass records them, against one double-precision reference on random
// non-zero inputs with poisoned outputs (the fused decode kernels: decode_fused_test.cpp). GPU
// cases skip without a GPU. Also: shapes outside a kernel's contract are rejected when the
// dispatch is recorded, on every backend, naming the kernel and the bound.
#include <gtest/gtest.h>

#include <cmath>
#include <cstdint>
#include <cstring>
#include <limits>
#include <optional>
#include <random>
#include <string>
#include <vector>

#include "kernel_test_util.hpp"
#include "kernels/cpu/cpu_kernels.hpp"
#include "kernels/finite_check.hpp"
#include "kernels/kernel_spec.hpp"
#include "kernels/ops.hpp"
#include "kernels/quant_blocks.hpp"
#include "kernels/register.hpp"
#include "reference_decode.hpp"
#include "reference_ops.hpp"
#include "stagefence/stagefence.hpp"

namespace stagefence::kernels::testing {
namespace {

const DType kWeightTypes[] = {DType::F32,  DType::F16,  DType::BF16, DType::Q8_0, DType::Q4_0,
                              DType::Q4_1, DType::Q5_0, DType::Q4_K, DType::Q5_K, DType::Q6_K};

// One backend per test instance; a backend this machine lacks skips.
class BackendOps : public ::testing::TestWithParam<BackendKind> {
 protected:
  void SetUp() override {
    try {
      device_.emplace(Device::open({GetParam()}));
    } catch (const Error& e) {
      if (e.code() != ErrorCode::Unsupported) throw;
      GTEST_SKIP() << "no " << backend_name(GetParam()) << " device on this machine: " << e.what();
    }
  }
  Device& dev() { return *device_; }

  template <typename T>
  Buffer upload(const std::vector<T>& v) {
    Buffer b = dev().alloc(v.size() * sizeof(T));
    b.upload(v.data(), v.size() * sizeof(T));
    return b;
  }
  Buffer poisoned_f32(size_t n) {
    std::vector<float> v(n);
    poison(v);
    return upload(v);
  }
  template <typename T>
  static std::vector<T> download(const Buffer& b, size_t n) {
    std::vector<T> v(n);
    b.download(v.data(), n * sizeof(T));
    return v;
  }

  std::mt19937 rng_{20240611};
  std::optional<Device> device_;
};

// A weight matrix [rows, cols] and its rows decoded in double, with the magnitudes of a dot
// product's terms for the tolerance.
struct Weight {
  std::vector<uint8_t> bytes;
  std::vector<double> values;
};
Weight random_weight(std::mt19937& rng, DType t, int rows, int cols) {
  Weight w;
  w.bytes = random_weight_bytes(rng, t, int64_t(rows) * cols);
  w.values = ref_decode(t, w.bytes.data(), int64_t(rows) * cols);
  return w;
}

// Relative tolerance of an f32 dot product against the sum of its terms' magnitudes. CUDA's
// prefill splits 16-bit X into two halves for the tensor cores: bf16 keeps about 16 bits.
double dot_tolerance(BackendKind b, DType t, bool matmul) {
  if (matmul && b == BackendKind::Cuda && t == DType::BF16) return 1e-4;
  return 2e-5;
}

std::string case_name(const ::testing::TestParamInfo<BackendKind>& info) {
  return backend_name(info.param);
}

// y = W·x (+ bias) (+ y_old), every weight type, rows no multiple of any tile, both flags.
TEST_P(BackendOps, MatvecMatchesTheReference) {
  struct Shape {
    int rows, cols;
    bool bias, accumulate;
  };
  for (DType t : kWeightTypes) {
    const bool k_quant = dtype_info(t)->block_elems == 256;
    // The third is too long for CUDA's streaming kernels to stage x in shared memory.
    const Shape shapes[] = {{77, k_quant ? 512 : 288, false, false},
                            {33, k_quant ? 1280 : 1024, true, true},
                            {9, 24576, true, false}};
    for (const Shape& s : shapes) {
      SCOPED_TRACE(std::string(dtype_name(t)) + " " + std::to_string(s.rows) + "x" +
                   std::to_string(s.cols));
      const Weight w = random_weight(rng_, t, s.rows, s.cols);
      const std::vector<float> x = random_floats(rng_, size_t(s.cols));
      const std::vector<float> bias = random_floats(rng_, size_t(s.rows));
      const std::vector<float> y0 = random_floats(rng_, size_t(s.rows));
      Buffer bw = upload(w.bytes), bx = upload(x), bb = upload(bias);
      Buffer by = s.accumulate ? upload(y0) : poisoned_f32(size_t(s.rows));
      CommandEncoder enc = dev().command_encoder();
      ops::matvec(enc, bw, t, s.rows, s.cols, bx, by, s.bias ? &bb : nullptr, s.accumulate);
      enc.commit_and_wait();
      const std::vector<float> y = download<float>(by, size_t(s.rows));
      for (int r = 0; r < s.rows; ++r) {
        double want = 0, magnitude = 0;
        for (int c = 0; c < s.cols; ++c) {
          const double term = w.values[size_t(r) * s.cols + c] * x[size_t(c)];
          want += term;
          magnitude += std::fabs(term);
        }
        if (s.bias) want += bias[size_t(r)], magnitude += std::fabs(bias[size_t(r)]);
        if (s.accumulate) want += y0[size_t(r)], magnitude += std::fabs(y0[size_t(r)]);
        ASSERT_NEAR(y[size_t(r)], want, dot_tolerance(GetParam(), t, false) * magnitude + 1e-6)
            << "row " << r;
      }
    }
  }
}

// Y[T, rows] = X · Wᵀ + bias + Y_old for T tokens, every weight type.
TEST_P(BackendOps, MatmulMatchesTheReference) {
  const int rows = 40, tokens = 37;
  for (DType t : kWeightTypes) {
    SCOPED_TRACE(dtype_name(t));
    const int cols = dtype_info(t)->block_elems == 256 ? 512 : 160;
    const Weight w = random_weight(rng_, t, rows, cols);
    const std::vector<float> x = random_floats(rng_, size_t(tokens) * cols);
    const std::vector<float> bias = random_floats(rng_, size_t(rows));
    const std::vector<float> y0 = random_floats(rng_, size_t(tokens) * rows);
    Buffer bw = upload(w.bytes), bx = upload(x), bb = upload(bias), by = upload(y0);
    // Float weights on CUDA take their cuBLAS workspace and split buffer from a bound scratch.
    std::optional<Buffer> scratch;
    if (dev().info().backend == BackendKind::Cuda)
      scratch = dev().alloc(kernels::matmul_scratch_bytes(tokens, cols));
    CommandEncoder enc = dev().command_encoder();
    ops::matmul(enc, bw, t, rows, cols, bx, by, tokens, &bb, true, scratch ? &*scratch : nullptr);
    enc.commit_and_wait();
    const std::vector<float> y = download<float>(by, y0.size());
    for (int tt = 0; tt < tokens; ++tt)
      for (int r = 0; r < rows; ++r) {
        double want = double(bias[size_t(r)]) + y0[size_t(tt) * rows + r];
        double magnitude = std::fabs(want);
        for (int c = 0; c < cols; ++c) {
          const double term = w.values[size_t(r) * cols + c] * x[size_t(tt) * cols + c];
          want += term;
          magnitude += std::fabs(term);
        }
        ASSERT_NEAR(y[size_t(tt) * rows + r], want,
                    dot_tolerance(GetParam(), t, true) * magnitude + 1e-6)
            << "token " << tt << " row " << r;
      }
  }
}

// out[t] = scale · table[ids[t]]; an id outside [0, vocab) gives a NaN row.
TEST_P(BackendOps, EmbedGathersScaledRowsAndMarksBadIds) {
  const int vocab = 50, dim = 512;
  const std::vector<int32_t> ids = {3, 49, 0, 50, 17, -1};
  const float scale = 1.5f;
  for (DType t : kWeightTypes) {
    SCOPED_TRACE(dtype_name(t));
    const Weight w = random_weight(rng_, t, vocab, dim);
    Buffer bw = upload(w.bytes), bi = upload(ids), bo = poisoned_f32(ids.size() * dim);
    CommandEncoder enc = dev().command_encoder();
    ops::embed(enc, bw, t, vocab, dim, bi, int(ids.size()), bo, scale);
    enc.commit_and_wait();
    const std::vector<float> out = download<float>(bo, ids.size() * dim);
    for (size_t i = 0; i < ids.size(); ++i)
      for (int c = 0; c < dim; ++c) {
        const float got = out[i * dim + size_t(c)];
        if (ids[i] < 0 || ids[i] >= vocab) {
          ASSERT_TRUE(std::isnan(got)) << "bad id " << ids[i] << " col " << c;
        } else {
          const double want = w.values[size_t(ids[i]) * dim + size_t(c)] * scale;
          ASSERT_NEAR(got, want, 1e-6 * std::fabs(want) + 1e-7) << "token " << i << " col " << c;
        }
      }
  }
}

// y = x / sqrt(mean(x²) + eps) · w, or · (1 + w).
TEST_P(BackendOps, RmsnormMatchesTheReference) {
  const int rows = 3, n = 4096;
  const float eps = 1e-5f;
  const std::vector<float> x = random_floats(rng_, size_t(rows) * n, -3, 3);
  const std::vector<float> w = random_floats(rng_, size_t(n));
  for (int add_one = 0; add_one < 2; ++add_one) {
    Buffer bx = upload(x), bw = upload(w), by = poisoned_f32(x.size());
    CommandEncoder enc = dev().command_encoder();
    ops::rmsnorm(enc, bx, bw, by, rows, n, eps, add_one == 1);
    enc.commit_and_wait();
    const std::vector<float> y = download<float>(by, x.size());
    for (int r = 0; r < rows; ++r) {
      double ss = 0;
      for (int i = 0; i < n; ++i) ss += double(x[size_t(r) * n + i]) * x[size_t(r) * n + i];
      const double inv = 1.0 / std::sqrt(ss / n + eps);
      for (int i = 0; i < n; ++i) {
        const double want = x[size_t(r) * n + i] * inv * (add_one + double(w[size_t(i)]));
        ASSERT_NEAR(y[size_t(r) * n + i], want, 1e-5 * std::fabs(want) + 1e-6)
            << "add_one " << add_one << " row " << r << " col " << i;
      }
    }
  }
}

// y += x / sqrt(mean(x²) + eps) · w into a poisoned-free, random y: the product is rounded to
// f32 before the add, so the result equals a separate rmsnorm and add bit for bit.
TEST_P(BackendOps, RmsnormAccumulatesIntoTheResidual) {
  const int rows = 2, n = 640;
  const float eps = 1e-6f;
  const std::vector<float> x = random_floats(rng_, size_t(rows) * n, -3, 3);
  const std::vector<float> w = random_floats(rng_, size_t(n));
  const std::vector<float> y0 = random_floats(rng_, x.size(), -2, 2);
  Buffer bx = upload(x), bw = upload(w), by = upload(y0);
  Buffer normed = poisoned_f32(x.size()), sum = upload(y0);
  CommandEncoder enc = dev().command_encoder();
  ops::rmsnorm(enc, bx, bw, by, rows, n, eps, false, true);
  ops::rmsnorm(enc, bx, bw, normed, rows, n, eps);
  ops::add(enc, sum, normed, sum, rows * n);
  enc.commit_and_wait();
  const std::vector<float> y = download<float>(by, x.size());
  EXPECT_EQ(std::memcmp(y.data(), download<float>(sum, x.size()).data(), y.size() * 4), 0)
      << "accumulate differs from rmsnorm + add";
  for (int r = 0; r < rows; ++r) {
    double ss = 0;
    for (int i = 0; i < n; ++i) ss += double(x[size_t(r) * n + i]) * x[size_t(r) * n + i];
    const double inv = 1.0 / std::sqrt(ss / n + eps);
    for (int i = 0; i < n; ++i) {
      const size_t k = size_t(r) * n + size_t(i);
      const double want = y0[k] + x[k] * inv * double(w[size_t(i)]);
      ASSERT_NEAR(y[k], want, 1e-5 * std::fabs(want) + 1e-6) << "row " << r << " col " << i;
    }
  }
  // Accumulating into the input itself is refused before anything is recorded.
  CommandEncoder bad = dev().command_encoder();
  EXPECT_THROW(ops::rmsnorm(bad, bx, bw, bx, rows, n, eps, false, true), Error);
}

// angle = pos · freq_scale · theta^(-2i/rot); mode 0 pairs (2i, 2i+1), mode 1 (i, i + rot/2);
// dims past rot_dim unchanged.
TEST_P(BackendOps, RopeBothModesMatchTheReference) {
  const int tokens = 3, heads = 4, head_dim = 128, rot = 64;
  const std::vector<int32_t> pos = {0, 17, 5000};
  const std::vector<float> x = random_floats(rng_, size_t(tokens) * heads * head_dim);
  for (ops::RopeMode mode : {ops::RopeMode::Adjacent, ops::RopeMode::Neox}) {
    const ops::RopeParams p{head_dim, rot, 10000.0f, mode, 0.5f};
    Buffer bx = upload(x), bp = upload(pos);
    CommandEncoder enc = dev().command_encoder();
    ops::rope(enc, bx, bp, tokens, heads, p);
    enc.commit_and_wait();
    const std::vector<float> y = download<float>(bx, x.size());
    std::vector<double> want(x.begin(), x.end());
    for (int t = 0; t < tokens; ++t)
      for (int h = 0; h < heads; ++h) {
        double* v = want.data() + (size_t(t) * heads + h) * head_dim;
        for (int i = 0; i < rot / 2; ++i) {
          const double angle = pos[size_t(t)] * double(p.freq_scale) *
                               std::pow(double(p.theta_base), -2.0 * i / rot);
          const bool neox = mode == ops::RopeMode::Neox;
          const int i0 = neox ? i : 2 * i, i1 = neox ? i + rot / 2 : 2 * i + 1;
          const double a0 = v[i0], a1 = v[i1];
          v[i0] = a0 * std::cos(angle) - a1 * std::sin(angle);
          v[i1] = a0 * std::sin(angle) + a1 * std::cos(angle);
        }
      }
    for (size_t i = 0; i < x.size(); ++i)
      ASSERT_NEAR(y[i], want[i], 2e-6) << "mode " << int(mode) << " element " << i;
  }
}

// cache[h, pos_t] = f16(src[t, h]); positions >= cap are skipped, the rest of the cache kept.
TEST_P(BackendOps, KvStoreWritesHalfRowsAtPositions) {
  const int tokens = 3, kv_heads = 2, head_dim = 64, cap = 16;
  const std::vector<int32_t> pos = {1, 5, 20};
  const std::vector<float> src = random_floats(rng_, size_t(tokens) * kv_heads * head_dim, -4, 4);
  std::vector<uint16_t> cache(size_t(kv_heads) * cap * head_dim);
  const std::vector<float> old = random_floats(rng_, cache.size());
  for (size_t i = 0; i < cache.size(); ++i) cache[i] = quant::float_to_half(old[i]);
  Buffer bs = upload(src), bc = upload(cache), bp = upload(pos);
  CommandEncoder enc = dev().command_encoder();
  ops::kv_store(enc, bs, bc, bp, tokens, kv_heads, head_dim, cap);
  enc.commit_and_wait();
  const std::vector<uint16_t> got = download<uint16_t>(bc, cache.size());
  for (int h = 0; h < kv_heads; ++h)
    for (int p = 0; p < cap; ++p)
      for (int d = 0; d < head_dim; ++d) {
        const size_t at = (size_t(h) * cap + p) * head_dim + d;
        double want = ref_half(cache[at]);
        for (int t = 0; t < tokens; ++t)
          if (pos[size_t(t)] == p) want = src[(size_t(t) * kv_heads + h) * head_dim + d];
        // f16 rounding: half an ulp of the value (2^-11 relative), or the subnormal step.
        ASSERT_LE(std::fabs(ref_half(got[at]) - want),
                  std::fabs(want) * std::ldexp(1.0, -11) + std::ldexp(1.0, -25))
            << "head " << h << " position " << p << " dim " << d;
      }
}

// attn.split then attn.merge: causal softmax over the f16 caches with GQA, sliding windows,
// softcaps, more splits than keys and a query that sees no key.
TEST_P(BackendOps, AttentionMatchesTheReference) {
  struct Case {
    AttentionShape shape;
    int splits;
    std::vector<int32_t> pos;
  };
  const Case cases[] = {{{8, 2, 128, 300, 0, 0, 0}, 7, {250, 3}},
                        {{8, 2, 128, 300, 64, 0, 30}, 5, {299, 100}},
                        {{4, 4, 64, 200, 0, 0, 0}, 16, {199, 2}},
                        {{12, 2, 80, 200, 0, 0, 0}, 3, {150, 0, -1}},
                        {{2, 1, 256, 40, 8, 0, 0}, 1, {39}}};
  for (Case c : cases) {
    AttentionShape& s = c.shape;
    s.scale = 1.0 / std::sqrt(double(s.head_dim));
    SCOPED_TRACE("heads " + std::to_string(s.heads) + " kv " + std::to_string(s.kv_heads) + " hd " +
                 std::to_string(s.head_dim) + " splits " + std::to_string(c.splits));
    const int tokens = int(c.pos.size());
    const std::vector<float> q = random_floats(rng_, size_t(tokens) * s.heads * s.head_dim);
    std::vector<uint16_t> kc(size_t(s.kv_heads) * s.cap * s.head_dim), vc(kc.size());
    const std::vector<float> kf = random_floats(rng_, kc.size()),
                             vf = random_floats(rng_, kc.size());
    for (size_t i = 0; i < kc.size(); ++i) {
      kc[i] = quant::float_to_half(kf[i]);
      vc[i] = quant::float_to_half(vf[i]);
    }
    const ops::AttentionParams p{s.heads,        s.kv_heads, s.head_dim,      s.cap,
                                 float(s.scale), s.window,   float(s.softcap)};
    const uint64_t partial_bytes =
        ops::attention_partial_bytes(tokens, s.heads, s.head_dim, c.splits);
    Buffer bq = upload(q), bk = upload(kc), bv = upload(vc), bp = upload(c.pos);
    Buffer partial = poisoned_f32(partial_bytes / 4);
    Buffer out = poisoned_f32(q.size());
    CommandEncoder enc = dev().command_encoder();
    ops::attention(enc, bq, bk, bv, bp, partial, out, tokens, c.splits, p);
    enc.commit_and_wait();
    const std::vector<float> got = download<float>(out, q.size());
    for (int t = 0; t < tokens; ++t)
      for (int h = 0; h < s.heads; ++h) {
        const std::vector<double> want = reference_attention(q, kc, vc, s, t, h, c.pos[size_t(t)]);
        for (int d = 0; d < s.head_dim; ++d)
          ASSERT_NEAR(got[(size_t(t) * s.heads + h) * s.head_dim + d], want[size_t(d)], 1e-5)
              << "token " << t << " head " << h << " dim " << d;
      }
  }
}

// swiglu (silu and gelu_tanh gates, out aliasing gate) and add (out aliasing a).
TEST_P(BackendOps, ElementwiseOpsMatchTheReference) {
  const int n = 14336 + 3;
  const std::vector<float> g = random_floats(rng_, size_t(n), -6, 6);
  const std::vector<float> u = random_floats(rng_, size_t(n), -2, 2);
  for (ops::Activation act : {ops::Activation::Silu, ops::Activation::GeluTanh}) {
    Buffer bg = upload(g), bu = upload(u);
    CommandEncoder enc = dev().command_encoder();
    ops::swiglu(enc, bg, bu, bg, n, act);
    enc.commit_and_wait();
    const std::vector<float> out = download<float>(bg, size_t(n));
    for (int i = 0; i < n; ++i) {
      const double gi = g[size_t(i)];
      const double want =
          (act == ops::Activation::Silu ? reference_silu(gi) : reference_gelu_tanh(gi)) *
          u[size_t(i)];
      ASSERT_NEAR(out[size_t(i)], want, 4e-6 * std::fabs(want) + 1e-6)
          << "act " << int(act) << " element " << i;
    }
  }
  Buffer ba = upload(g), bb = upload(u);
  CommandEncoder enc = dev().command_encoder();
  ops::add(enc, ba, bb, ba, n);
  enc.commit_and_wait();
  const std::vector<float> sum = download<float>(ba, size_t(n));
  for (int i = 0; i < n; ++i)  // the exact sum rounded once: IEEE f32 addition
    ASSERT_EQ(sum[size_t(i)], float(double(g[size_t(i)]) + u[size_t(i)])) << "element " << i;
}

// The sampler's rule for greedy (with ties), top-k, top-p and temperature; history[step] holds
// the token while step < max_steps; step_advance moves both counters.
TEST_P(BackendOps, SampleFollowsTheRuleAndStepAdvanceCounts) {
  struct Case {
    int vocab;
    ops::SamplerParams p;
    bool ties;
  };
  const Case cases[] = {{32000, {0.0f, 0, 1.0f}, true}, {1000, {0.8f, 40, 0.9f}, false},
                        {1000, {1.0f, 0, 0.95f}, true}, {5000, {1.3f, 2000, 0.5f}, true},
                        {300, {0.5f, 7, 1.0f}, true},   {77, {0.0f, 0, 1.0f}, false}};
  const int max_steps = 8;
  for (const Case& c : cases)
    for (uint64_t step : {uint64_t(1), uint64_t(10)}) {  // 10 >= max_steps: no history entry
      SCOPED_TRACE("vocab " + std::to_string(c.vocab) + " T " + std::to_string(c.p.temperature) +
                   " step " + std::to_string(step));
      std::vector<float> logits = random_floats(rng_, size_t(c.vocab), -10, 10);
      if (c.ties)
        for (float& l : logits) l = std::round(l * 2) / 2;
      const uint64_t seed = rng_();
      Buffer bl = upload(logits), bt = upload(std::vector<int32_t>{-7});
      Buffer bs = upload(std::vector<uint64_t>{seed, step});
      Buffer bh = upload(std::vector<int32_t>(max_steps, -7));
      CommandEncoder enc = dev().command_encoder();
      ops::sample(enc, bl, c.vocab, bt, bs, bh, max_steps, c.p);
      enc.commit_and_wait();
      const int32_t want =
          reference_sample(logits, c.p.temperature, c.p.top_k, c.p.top_p, seed, step);
      EXPECT_EQ(download<int32_t>(bt, 1)[0], want);
      const std::vector<int32_t> history = download<int32_t>(bh, max_steps);
      for (int i = 0; i < max_steps; ++i)
        EXPECT_EQ(history[size_t(i)], uint64_t(i) == step ? want : -7) << "history " << i;
    }
  Buffer bp = upload(std::vector<int32_t>{41});
  Buffer bs = upload(std::vector<uint64_t>{1234, 7});
  CommandEncoder enc = dev().command_encoder();
  ops::step_advance(enc, bp, bs);
  enc.commit_and_wait();
  EXPECT_EQ(download<int32_t>(bp, 1)[0], 42);
  EXPECT_EQ(download<uint64_t>(bs, 2), (std::vector<uint64_t>{1234, 8}));
}

// head_dim above 256 (issue 15: the CUDA key loop would never advance) or not a multiple of 8
// is refused when the dispatch is recorded, on every backend, and nothing is recorded.
TEST_P(BackendOps, AttentionShapeOutsideTheContractIsRejectedWhenRecorded) {
  for (int head_dim : {320, 36}) {
    SCOPED_TRACE("head_dim " + std::to_string(head_dim));
    const int tokens = 1, heads = 2, cap = 8, splits = 2;
    const ops::AttentionParams p{heads, 1, head_dim, cap, 0.1f, 0, 0.0f};
    Buffer q = dev().alloc(uint64_t(tokens) * heads * head_dim * 4);
    Buffer cache = dev().alloc(uint64_t(cap) * head_dim * 2);
    Buffer pos = upload(std::vector<int32_t>{3});
    Buffer partial = dev().alloc(ops::attention_partial_bytes(tokens, heads, head_dim, splits));
    Buffer out = dev().alloc(uint64_t(tokens) * heads * head_dim * 4);
    CommandEncoder enc = dev().command_encoder();
    try {
      ops::attention(enc, q, cache, cache, pos, partial, out, tokens, splits, p);
      FAIL() << "head_dim " << head_dim << " was recorded";
    } catch (const Error& e) {
      EXPECT_EQ(e.code(), ErrorCode::InvalidArgument);
      const std::string what = e.what();
      EXPECT_NE(what.find("'attn.split'"), std::string::npos) << what;
      EXPECT_NE(what.find("head_dim = " + std::to_string(head_dim)), std::string::npos) << what;
      EXPECT_NE(what.find(head_dim > 256 ? "256" : "multiple of 8"), std::string::npos) << what;
    }
    EXPECT_EQ(enc.dispatch_count(), 0u);
  }
}

// The other kernels' contracts hold at record time too (a sample of them, through the op
// encoders), with the kernel named in the message.
TEST_P(BackendOps, OtherShapeContractsAreCheckedWhenRecorded) {
  Buffer x = dev().alloc(4096), positions = upload(std::vector<int32_t>{0});
  CommandEncoder enc = dev().command_encoder();
  const ops::RopeParams odd_rot{8, 5, 10000.0f, ops::RopeMode::Adjacent, 1.0f};
  try {
    ops::rope(enc, x, positions, 1, 1, odd_rot);
    FAIL() << "an odd rot_dim was recorded";
  } catch (const Error& e) {
    EXPECT_NE(std::string(e.what()).find("'rope': rot_dim = 5 must be a multiple of 2"),
              std::string::npos)
        << e.what();
  }
  const ops::AttentionParams uneven{3, 2, 8, 4, 0.1f, 0, 0.0f};
  try {
    ops::attention(enc, x, x, x, positions, x, x, 1, 1, uneven);
    FAIL() << "heads = 3 over kv_heads = 2 was recorded";
  } catch (const Error& e) {
    EXPECT_NE(std::string(e.what()).find("heads must be a multiple of kv_heads"), std::string::npos)
        << e.what();
  }
  EXPECT_EQ(enc.dispatch_count(), 0u);
}

// The flag keeps the smallest code of the checks that saw a NaN or an Inf; finite input leaves
// it alone. 40,000 elements span several of the CPU kernel's blocks and many CUDA blocks.
TEST_P(BackendOps, FiniteCheckKeepsTheSmallestCodeOfTheChecksThatFired) {
  const uint64_t n = 40000;
  std::vector<float> x = random_floats(rng_, n);
  Buffer finite = upload(x);
  x[33333] = std::numeric_limits<float>::infinity();
  Buffer with_inf = upload(x);
  x[33333] = 0.5f;
  x[1] = std::numeric_limits<float>::quiet_NaN();
  Buffer with_nan = upload(x);
  Buffer flag = upload(std::vector<uint32_t>{ops::kAllFinite});
  const auto flag_after = [&](const Buffer& input, uint32_t code) {
    CommandEncoder enc = dev().command_encoder();
    ops::finite_check(enc, input, n, flag, code);
    enc.commit_and_wait();
    return download<uint32_t>(flag, 1)[0];
  };
  EXPECT_EQ(flag_after(finite, 3), ops::kAllFinite);
  EXPECT_EQ(flag_after(with_inf, 9), 9u);
  EXPECT_EQ(flag_after(with_nan, 5), 5u);
  EXPECT_EQ(flag_after(with_inf, 8), 5u);
  EXPECT_EQ(flag_after(finite, 1), 5u);
}

INSTANTIATE_TEST_SUITE_P(EveryBackend, BackendOps,
                         ::testing::Values(BackendKind::Cpu, BackendKind::Cuda), case_name);

// Every forward kernel belongs to a family with a case here or in decode_fused_test.cpp: a new
// family must bring its cross-backend case along.
TEST(BackendOpsCoverage, EveryForwardKernelFamilyHasACase) {
  const char* const families[] = {"embed.", "matvec.", "matmul.", "rmsnorm", "rope", "kv_store",
                                  "attn.split", "attn.merge", "swiglu", "add", "sample",
                                  "step_advance", "finite_check",
                                  // decode_fused_test.cpp
                                  "mv.", "qkv.", "glu.", "attn.decode."};
  for (const cpu::CpuKernel& k : cpu::forward_kernels()) {
    bool covered = false;
    for (std::string_view f : families)
      covered =
          covered || (f.back() == '.' ? std::string_view(k.name).starts_with(f) : k.name == f);
    EXPECT_TRUE(covered) << "forward kernel '" << k.name << "' has no cross-backend op test";
  }
}

}  // namespace
}  // namespace stagefence::kernels::testing
