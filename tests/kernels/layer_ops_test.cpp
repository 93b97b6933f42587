// rmsnorm, rope, kv_store, swiglu and add against double references, in every run mode.
#include <gtest/gtest.h>

#include <cmath>
#include <cstdint>
#include <random>

#include "kernel_test_util.hpp"
#include "reference_decode.hpp"

namespace stagefence::kernels::testing {
namespace {

// y = x / sqrt(mean(x²) + eps) · w (or · (1 + w)); tolerance 1e-5 absolute (outputs are O(1)).
TEST(LayerOps, RmsnormMatchesReference) {
  const cpu::CpuKernel& k = kernel("rmsnorm");
  std::mt19937 rng(21);
  const int rows = 12, n = 4096;
  const float eps = 1e-5f;
  const std::vector<float> x0 = random_floats(rng, size_t(rows) * n);
  std::vector<float> w = random_floats(rng, n);
  for (int add_one = 0; add_one < 2; ++add_one) {
    std::vector<float> first;
    for (RunMode mode : kAllRunModes) {
      std::vector<float> x = x0, y(x0.size());
      poison(y);
      ArgsBuilder b;
      b.bind(x).bind(w).bind(y).scalar(rows).scalar(n).scalar(eps).scalar(add_one).scalar(0);
      if (mode == RunMode::Full) {
        ASSERT_GE(k.launch(b.args()).grid.count(), 2u);
      }
      run(k, b.args(), mode);
      for (int r = 0; r < rows; ++r) {
        double ss = 0;
        for (int j = 0; j < n; ++j) ss += double(x0[size_t(r) * n + j]) * x0[size_t(r) * n + j];
        const double inv = 1.0 / std::sqrt(ss / n + eps);
        for (int j = 0; j < n; ++j) {
          const double want = x0[size_t(r) * n + j] * inv * (add_one ? 1.0 + w[j] : double(w[j]));
          ASSERT_NEAR(y[size_t(r) * n + j], want, 1e-5) << "row " << r << " col " << j;
        }
      }
      if (first.empty()) {
        first = y;
      } else {
        EXPECT_TRUE(bitwise_equal(first, y));
      }
    }
    // In place (y is x) gives the same numbers.
    std::vector<float> x = x0;
    ArgsBuilder b;
    b.bind(x).bind(w).bind(x).scalar(rows).scalar(n).scalar(eps).scalar(add_one).scalar(0);
    run_split(k, b.args());
    EXPECT_TRUE(bitwise_equal(first, x));
  }
}

// angle = pos·freq_scale·base^(−2i/rot); mode 0 rotates (2i, 2i+1), mode 1 (i, i + rot/2); dims
// past rot_dim are untouched. Tolerance 1e-6 absolute for |x| <= 1.
TEST(LayerOps, RopeBothModesMatchTheFormula) {
  const cpu::CpuKernel& k = kernel("rope");
  std::mt19937 rng(22);
  const int tokens = 20, heads = 4, head_dim = 64, rot_dim = 48;
  const float base = 10000.0f, freq_scale = 0.5f;
  std::vector<int32_t> pos(tokens);
  std::uniform_int_distribution<int> pick(0, 5000);
  for (auto& p : pos) p = pick(rng);
  pos[0] = 0;
  pos[1] = 1;
  const std::vector<float> x0 = random_floats(rng, size_t(tokens) * heads * head_dim);
  for (int mode = 0; mode < 2; ++mode) {
    std::vector<float> first;
    for (RunMode run_mode : kAllRunModes) {
      std::vector<float> x = x0;
      ArgsBuilder b;
      b.bind(x).bind(pos).scalar(tokens).scalar(heads).scalar(head_dim).scalar(rot_dim);
      b.scalar(base).scalar(mode).scalar(freq_scale);
      if (run_mode == RunMode::Full) {
        ASSERT_GE(k.launch(b.args()).grid.count(), 2u);
      }
      run(k, b.args(), run_mode);
      for (int t = 0; t < tokens; ++t)
        for (int h = 0; h < heads; ++h) {
          const size_t at = (size_t(t) * heads + h) * head_dim;
          std::vector<double> want(x0.begin() + at, x0.begin() + at + head_dim);
          for (int i = 0; i < rot_dim / 2; ++i) {
            const double angle =
                double(pos[t]) * freq_scale * std::pow(double(base), -2.0 * i / rot_dim);
            const int a = mode == 0 ? 2 * i : i, c = mode == 0 ? 2 * i + 1 : i + rot_dim / 2;
            want[a] = x0[at + a] * std::cos(angle) - x0[at + c] * std::sin(angle);
            want[c] = x0[at + a] * std::sin(angle) + x0[at + c] * std::cos(angle);
          }
          for (int d = 0; d < head_dim; ++d) {
            if (d >= rot_dim) {
              ASSERT_EQ(x[at + d], x0[at + d]);
            }
            ASSERT_NEAR(x[at + d], want[d], 1e-6) << "mode " << mode << " t " << t << " d " << d;
          }
        }
      if (first.empty()) {
        first = x;
      } else {
        EXPECT_TRUE(bitwise_equal(first, x));
      }
    }
  }
}

// Rows land at [head, pos] as the nearest f16; positions outside [0, cap) write nothing.
TEST(LayerOps, KvStoreWritesHalfRowsAtPositions) {
  const cpu::CpuKernel& k = kernel("kv_store");
  std::mt19937 rng(23);
  const int tokens = 6, kv_heads = 3, head_dim = 16, cap = 8;
  std::vector<int32_t> pos = {0, 3, 7, 8, -1, 5};
  const std::vector<float> src = random_floats(rng, size_t(tokens) * kv_heads * head_dim, -4, 4);
  const uint16_t kSentinel = 0x7e00;  // an f16 NaN
  std::vector<uint16_t> first;
  for (RunMode mode : kAllRunModes) {
    std::vector<float> s = src;
    std::vector<uint16_t> cache(size_t(kv_heads) * cap * head_dim, kSentinel);
    ArgsBuilder b;
    b.bind(s).bind(cache).bind(pos).scalar(tokens).scalar(kv_heads).scalar(head_dim).scalar(cap);
    run(k, b.args(), mode);
    for (int h = 0; h < kv_heads; ++h)
      for (int p = 0; p < cap; ++p) {
        int writer = -1;
        for (int t = 0; t < tokens; ++t)
          if (pos[t] == p) writer = t;
        for (int d = 0; d < head_dim; ++d) {
          const uint16_t got = cache[(size_t(h) * cap + p) * head_dim + d];
          if (writer < 0) {
            ASSERT_EQ(got, kSentinel) << "head " << h << " pos " << p;
          } else {
            const double want = src[(size_t(writer) * kv_heads + h) * head_dim + d];
            // Nearest half: within half an ulp (2^-11 relative for normal values).
            ASSERT_LE(std::fabs(ref_half(got) - want), std::fabs(want) * std::ldexp(1.0, -11))
                << "head " << h << " pos " << p << " d " << d;
          }
        }
      }
    if (first.empty()) {
      first = cache;
    } else {
      EXPECT_TRUE(bitwise_equal(first, cache));
    }
  }
}

double ref_silu(double g) {
  return g / (1 + std::exp(-g));
}
double ref_gelu_tanh(double g) {
  return 0.5 * g * (1 + std::tanh(std::sqrt(2 / M_PI) * (g + 0.044715 * g * g * g)));
}

// act(gate)·up, tolerance 1e-6 relative + 1e-7; also in place over gate.
TEST(LayerOps, SwigluBothActivations) {
  const cpu::CpuKernel& k = kernel("swiglu");
  std::mt19937 rng(24);
  const int n = 40000;
  const std::vector<float> gate = random_floats(rng, n, -6, 6);
  std::vector<float> up = random_floats(rng, n, -2, 2);
  for (int act = 0; act < 2; ++act) {
    std::vector<float> first;
    for (RunMode mode : kAllRunModes) {
      std::vector<float> g = gate, out(n);
      poison(out);
      ArgsBuilder b;
      b.bind(g).bind(up).bind(out).scalar(n).scalar(act);
      if (mode == RunMode::Full) {
        ASSERT_GE(k.launch(b.args()).grid.count(), 2u);
      }
      run(k, b.args(), mode);
      for (int i = 0; i < n; ++i) {
        const double want = (act == 0 ? ref_silu(gate[i]) : ref_gelu_tanh(gate[i])) * up[i];
        ASSERT_NEAR(out[i], want, 1e-6 * std::fabs(want) + 1e-7) << "act " << act << " i " << i;
      }
      if (first.empty()) {
        first = out;
      } else {
        EXPECT_TRUE(bitwise_equal(first, out));
      }
    }
    std::vector<float> g = gate;
    ArgsBuilder b;
    b.bind(g).bind(up).bind(g).scalar(n).scalar(act);
    run_split(k, b.args());
    EXPECT_TRUE(bitwise_equal(first, g));
  }
}

TEST(LayerOps, AddIsExact) {
  const cpu::CpuKernel& k = kernel("add");
  std::mt19937 rng(25);
  const int n = 50000;
  std::vector<float> a = random_floats(rng, n), b = random_floats(rng, n);
  for (RunMode mode : kAllRunModes) {
    std::vector<float> out(n);
    poison(out);
    ArgsBuilder args;
    args.bind(a).bind(b).bind(out).scalar(n);
    run(k, args.args(), mode);
    for (int i = 0; i < n; ++i) ASSERT_EQ(out[i], a[i] + b[i]) << i;  // one f32 rounding
  }
}

}  // namespace
}  // namespace stagefence::kernels::testing
