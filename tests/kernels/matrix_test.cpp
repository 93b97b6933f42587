// matvec, matmul and embed for every weight type against double references.
#include <gtest/gtest.h>

#include <cmath>
#include <cstdint>
#include <random>
#include <string>

#include "kernel_test_util.hpp"
#include "kernels/dequant.hpp"
#include "kernels/kernel_spec.hpp"
#include "reference_decode.hpp"
#include "stagefence/error.hpp"

namespace stagefence::kernels::testing {
namespace {

class WeightTypeKernels : public ::testing::TestWithParam<DType> {
 protected:
  std::string name(const char* family) const {
    return std::string(family) + "." + std::string(dtype_name(GetParam()));
  }
};

// y = W·x (+ bias) (+ y_old): every flag combination, every run mode; the three modes agree
// bit for bit and match the double reference within 1e-5·Σ|w·x| + 1e-6.
TEST_P(WeightTypeKernels, MatvecMatchesReference) {
  const DType t = GetParam();
  const cpu::CpuKernel& k = kernel(name("matvec"));
  std::mt19937 rng(uint32_t(t) * 3 + 1);
  const int rows = 70, cols = 512;
  std::vector<uint8_t> w = random_weight_bytes(rng, t, int64_t(rows) * cols);
  std::vector<float> x = random_floats(rng, cols);
  std::vector<float> bias = random_floats(rng, rows);
  const std::vector<float> y_old = random_floats(rng, rows);
  const std::vector<double> wd = ref_decode(t, w.data(), int64_t(rows) * cols);

  for (uint32_t flags = 0; flags < 4; ++flags) {
    std::vector<float> first;
    for (RunMode mode : kAllRunModes) {
      std::vector<float> y(rows);
      if (flags & kMatFlagAccumulate) {
        y = y_old;
      } else {
        poison(y);
      }
      ArgsBuilder b;
      b.bind(w).bind(x).bind(y);
      if (flags & kMatFlagBias) b.bind(bias);
      b.scalar(rows).scalar(cols).scalar(flags);
      if (mode == RunMode::Full) {
        ASSERT_GE(k.launch(b.args()).grid.count(), 2u);
      }
      run(k, b.args(), mode);
      for (int r = 0; r < rows; ++r) {
        double want = 0, mag = 0;
        for (int c = 0; c < cols; ++c) {
          want += wd[size_t(r) * cols + c] * x[c];
          mag += std::fabs(wd[size_t(r) * cols + c] * x[c]);
        }
        if (flags & kMatFlagBias) want += bias[r];
        if (flags & kMatFlagAccumulate) want += y_old[r];
        ASSERT_NEAR(y[r], want, 1e-5 * mag + 1e-6)
            << name("matvec") << " flags " << flags << " row " << r;
      }
      if (first.empty()) {
        first = y;
      } else {
        EXPECT_TRUE(bitwise_equal(first, y)) << "flags " << flags;
      }
    }
  }
}

// Y[t] = W·X[t] (+ bias) (+ Y_old) for T tokens; each token's row equals matvec bit for bit.
TEST_P(WeightTypeKernels, MatmulMatchesReferenceAndMatvec) {
  const DType t = GetParam();
  const cpu::CpuKernel& mm = kernel(name("matmul"));
  const cpu::CpuKernel& mv = kernel(name("matvec"));
  std::mt19937 rng(uint32_t(t) * 7 + 2);
  const int rows = 50, cols = 256, tokens = 3;
  std::vector<uint8_t> w = random_weight_bytes(rng, t, int64_t(rows) * cols);
  std::vector<float> x = random_floats(rng, size_t(tokens) * cols);
  std::vector<float> bias = random_floats(rng, rows);
  const std::vector<float> y_old = random_floats(rng, size_t(tokens) * rows);
  const std::vector<double> wd = ref_decode(t, w.data(), int64_t(rows) * cols);

  for (uint32_t flags : {0u, kMatFlagBias | kMatFlagAccumulate}) {
    std::vector<float> first;
    for (RunMode mode : kAllRunModes) {
      std::vector<float> y(size_t(tokens) * rows);
      if (flags & kMatFlagAccumulate) {
        y = y_old;
      } else {
        poison(y);
      }
      ArgsBuilder b;
      b.bind(w).bind(x).bind(y);
      if (flags & kMatFlagBias) b.bind(bias);
      b.scalar(rows).scalar(cols).scalar(flags).scalar(tokens);
      if (mode == RunMode::Full) {
        ASSERT_GE(mm.launch(b.args()).grid.count(), 2u);
      }
      run(mm, b.args(), mode);
      for (int tok = 0; tok < tokens; ++tok)
        for (int r = 0; r < rows; ++r) {
          double want = 0, mag = 0;
          for (int c = 0; c < cols; ++c) {
            want += wd[size_t(r) * cols + c] * x[size_t(tok) * cols + c];
            mag += std::fabs(wd[size_t(r) * cols + c] * x[size_t(tok) * cols + c]);
          }
          if (flags & kMatFlagBias) want += bias[r];
          if (flags & kMatFlagAccumulate) want += y_old[size_t(tok) * rows + r];
          ASSERT_NEAR(y[size_t(tok) * rows + r], want, 1e-5 * mag + 1e-6)
              << name("matmul") << " token " << tok << " row " << r;
        }
      if (first.empty()) {
        first = y;
      } else {
        EXPECT_TRUE(bitwise_equal(first, y));
      }
    }
    // Token by token through matvec gives identical numbers.
    for (int tok = 0; tok < tokens; ++tok) {
      std::vector<float> xt(x.begin() + tok * cols, x.begin() + (tok + 1) * cols);
      std::vector<float> yt(y_old.begin() + tok * rows, y_old.begin() + (tok + 1) * rows);
      if ((flags & kMatFlagAccumulate) == 0) poison(yt);
      ArgsBuilder b;
      b.bind(w).bind(xt).bind(yt);
      if (flags & kMatFlagBias) b.bind(bias);
      b.scalar(rows).scalar(cols).scalar(flags);
      run_full(mv, b.args());
      std::vector<float> from_matmul(first.begin() + tok * rows, first.begin() + (tok + 1) * rows);
      EXPECT_TRUE(bitwise_equal(from_matmul, yt)) << "token " << tok;
    }
  }
}

// Rows of the table, scaled; ids outside [0, vocab) give NaN rows.
TEST_P(WeightTypeKernels, EmbedGathersRowsAndMarksBadIds) {
  const DType t = GetParam();
  const cpu::CpuKernel& k = kernel(name("embed"));
  std::mt19937 rng(uint32_t(t) * 5 + 3);
  const int vocab = 11, dim = 512, tokens = 7;
  const float scale = 1.5f;
  std::vector<uint8_t> table = random_weight_bytes(rng, t, int64_t(vocab) * dim);
  std::vector<int32_t> ids = {3, 0, -1, 10, 11, 3, 7};
  const std::vector<double> td = ref_decode(t, table.data(), int64_t(vocab) * dim);
  std::vector<float> first;
  for (RunMode mode : kAllRunModes) {
    std::vector<float> out(size_t(tokens) * dim);
    // Poisoned with a finite sentinel: NaN is the expected value for bad ids.
    std::fill(out.begin(), out.end(), 12345.0f);
    ArgsBuilder b;
    b.bind(table).bind(ids).bind(out).scalar(dim).scalar(tokens).scalar(vocab).scalar(scale);
    run(k, b.args(), mode);
    for (int tok = 0; tok < tokens; ++tok) {
      const bool bad = ids[tok] < 0 || ids[tok] >= vocab;
      for (int j = 0; j < dim; ++j) {
        const float got = out[size_t(tok) * dim + j];
        if (bad) {
          ASSERT_TRUE(std::isnan(got)) << "token " << tok;
        } else {
          const double want = td[size_t(ids[tok]) * dim + j] * scale;
          ASSERT_NEAR(got, want, 1e-6 * std::fabs(want) + 1e-30) << "token " << tok << " " << j;
        }
      }
    }
    if (first.empty()) {
      first = out;
    } else {
      EXPECT_TRUE(bitwise_equal(first, out));
    }
  }
}

INSTANTIATE_TEST_SUITE_P(AllWeightTypes, WeightTypeKernels,
                         ::testing::ValuesIn(forward_weight_types().begin(),
                                             forward_weight_types().end()),
                         [](const auto& info) { return std::string(dtype_name(info.param)); });

TEST(WeightTypeKernels, EveryFamilyHasEveryType) {
  for (DType t : forward_weight_types())
    for (const char* family : {"embed", "matvec", "matmul"})
      EXPECT_NE(cpu::find_forward_kernel(std::string(family) + "." + std::string(dtype_name(t))),
                nullptr)
          << family << "." << dtype_name(t);
}

TEST(WeightTypeKernels, ShortBindingIsAnErrorNotACrash) {
  const cpu::CpuKernel& k = kernel("matvec.q4_0");
  std::vector<uint8_t> w(18 * 4 * 31);  // one row short of 32 rows of 128
  std::vector<float> x(128, 1.0f), y(32);
  ArgsBuilder b;
  b.bind(w).bind(x).bind(y).scalar(32).scalar(128).scalar(0u);
  EXPECT_THROW(run_full(k, b.args()), Error);
}

}  // namespace
}  // namespace stagefence::kernels::testing
