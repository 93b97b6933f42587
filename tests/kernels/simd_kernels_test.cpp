// The SIMD kernels (kernels/cpu/simd) under every instruction set this machine runs: the q8
// dots and the activation quantiser bit-identical to the scalar definitions (q8_dot.hpp), the
// float dots bit-identical to dequant.hpp's, and all of them within rounding of a double
// reference, on random non-zero inputs whose lengths are not multiples of any vector width.
#include <gtest/gtest.h>

#include <bit>
#include <cmath>
#include <cstdint>
#include <cstdlib>
#include <cstring>
#include <random>
#include <string>
#include <vector>

#include "kernels/act_q8.hpp"
#include "kernels/cpu/q8_dot.hpp"
#include "kernels/cpu/simd/simd.hpp"
#include "kernels/cpu/simd/simd_target.hpp"
#include "kernels/dequant.hpp"
#include "kernels/quantize.hpp"

namespace {

using namespace stagefence;
using namespace stagefence::kernels;
namespace simd = stagefence::kernels::cpu::simd;

std::vector<float> random_floats(int64_t n, uint32_t seed, float scale = 1.0f) {
  std::mt19937 rng(seed);
  std::normal_distribution<float> dist(0.0f, scale);
  std::vector<float> v(static_cast<size_t>(n));
  for (float& x : v) {
    x = dist(rng);
    if (x == 0.0f) x = 0.5f * scale;
  }
  return v;
}

// Runs body once per runnable instruction set, then restores the best one.
template <typename F>
void for_each_target(F body) {
  const std::vector<int64_t> targets = simd::runnable_targets();
  ASSERT_FALSE(targets.empty());
  for (int64_t t : targets) {
    SCOPED_TRACE("target " + simd::target_name(t));
    simd::use_target(t);
    body();
  }
  simd::use_target(targets.front());
}

uint32_t bits(float f) {
  return std::bit_cast<uint32_t>(f);
}

TEST(SimdTargets, IncludeThePortableFallbackAndNameTheActiveOne) {
  const std::vector<int64_t> targets = simd::runnable_targets();
  ASSERT_FALSE(targets.empty());
  const std::string fallback = simd::target_name(targets.back());  // plain C++, no intrinsics
  EXPECT_TRUE(fallback == "emu128" || fallback == "scalar") << fallback;
  for (int64_t t : targets) {
    simd::use_target(t);
    EXPECT_EQ(simd::active_target(), t);
  }
  simd::use_target(targets.front());
}

TEST(SimdQuantizer, BitIdenticalToScalarIncludingZeroAndNonFiniteBlocks) {
  constexpr int64_t kBlocks = 37;
  std::vector<float> x = random_floats(kBlocks * kActBlock, 11, 3.0f);
  for (int i = 0; i < kActBlock; ++i) x[size_t(2 * kActBlock + i)] = 0.0f;  // all-zero block
  x[size_t(5 * kActBlock + 3)] = NAN;
  x[size_t(7 * kActBlock + 31)] = INFINITY;
  x[size_t(9 * kActBlock)] = -INFINITY;
  for (int i = 0; i < kActBlock; ++i)  // exact half-way products: rint ties to even
    x[size_t(11 * kActBlock + i)] = float(i - 16) * 0.5f;
  std::vector<ActBlockQ8> want(kBlocks), got(kBlocks);
  cpu::quantize_activations(x.data(), int64_t(x.size()), want.data());
  for_each_target([&] {
    std::memset(got.data(), 0x5a, got.size() * sizeof(ActBlockQ8));
    simd::quantize_activations(x.data(), int64_t(x.size()), got.data());
    for (int64_t b = 0; b < kBlocks; ++b) {
      EXPECT_EQ(bits(got[size_t(b)].d), bits(want[size_t(b)].d)) << "block " << b;
      EXPECT_EQ(got[size_t(b)].sum, want[size_t(b)].sum) << "block " << b;
      EXPECT_EQ(0, std::memcmp(got[size_t(b)].q, want[size_t(b)].q, kActBlock)) << "block " << b;
    }
  });
  EXPECT_TRUE(std::isnan(want[5].d));
  EXPECT_EQ(want[2].d, 0.0f);
}

// A weight type and a row length (whole blocks of the type), the parameter of the dot suites.
struct DotCase {
  DType type;
  int64_t n;
};

std::string dot_case_name(const ::testing::TestParamInfo<DotCase>& info) {
  return std::string(dtype_name(info.param.type)) + "_" + std::to_string(info.param.n);
}

class SimdQ8Dot : public ::testing::TestWithParam<DotCase> {};

TEST_P(SimdQ8Dot, BitIdenticalToScalarAndNearDoubleReference) {
  // Copies, not a structured binding: clang 14 cannot capture those in the lambdas below.
  const DType type = GetParam().type;
  const int64_t cols = GetParam().n;  // groups of 32; K types in super-blocks of 256
  constexpr int64_t kRows = 9;
  const std::vector<float> wf = random_floats(kRows * cols, 21 + uint32_t(type));
  std::vector<uint8_t> w = quantize(type, wf);
  const uint64_t row_bytes = dtype_bytes(type, uint64_t(cols));
  if (type == DType::Q8_0 || type == DType::Q4_0 || type == DType::Q4_1 || type == DType::Q5_0) {
    // Subnormal block scales (the half conversion's other path) in row 0's first two blocks.
    const uint16_t tiny = 0x0003, tiny_negative = 0x8201;
    std::memcpy(w.data(), &tiny, 2);
    if (cols > 32) std::memcpy(w.data() + dtype_bytes(type, 32), &tiny_negative, 2);
  }
  ASSERT_EQ(w.size(), row_bytes * kRows);
  const std::vector<float> x = random_floats(cols, 5, 2.0f);
  std::vector<ActBlockQ8> xq(size_t(cols / kActBlock));
  cpu::quantize_activations(x.data(), cols, xq.data());
  std::vector<float> row(static_cast<size_t>(cols));
  for_each_target([&] {
    for (int64_t r = 0; r < kRows; ++r) {
      const uint8_t* wr = w.data() + uint64_t(r) * row_bytes;
      const float want = cpu::dot_q8_row(type, wr, xq.data(), cols);
      const float got = simd::dot_q8_row(type, wr, xq.data(), cols);
      EXPECT_EQ(bits(got), bits(want)) << "row " << r << ": " << got << " vs " << want;
      // The same product in double: the decoded weights against the decoded activations.
      dequantize(type, wr, row.data(), cols);
      double ref = 0.0, mag = 0.0;
      for (int64_t j = 0; j < cols; ++j) {
        const ActBlockQ8& b = xq[size_t(j / kActBlock)];
        const double xv = double(b.d) * double(b.q[j % kActBlock]);
        ref += double(row[size_t(j)]) * xv;
        mag += std::fabs(double(row[size_t(j)]) * xv);
      }
      EXPECT_NEAR(double(got), ref, 1e-5 * mag + 1e-6) << "row " << r;
    }
    // Several rows per call: the rows forwards then backwards (two passes of eight and a tail
    // of two), each bit-identical to its single-row scalar value.
    std::vector<const uint8_t*> rows;
    for (int64_t r = 0; r < 2 * kRows; ++r)
      rows.push_back(w.data() + uint64_t(r < kRows ? r : 2 * kRows - 1 - r) * row_bytes);
    std::vector<float> out(rows.size());
    simd::dot_q8_rows(type, rows.data(), int64_t(rows.size()), xq.data(), cols, out.data());
    for (size_t i = 0; i < rows.size(); ++i)
      EXPECT_EQ(bits(out[i]), bits(cpu::dot_q8_row(type, rows[i], xq.data(), cols)))
          << "dot_q8_rows entry " << i;
  });
}

// Random weight bytes (every code, the extreme ones included; block scales kept finite) against
// extreme activations: all ±127, random codes, and -128 where the weight type's SIMD dot allows it
// (Q8_0's sign trick needs |q| <= 127, the quantiser's range). Catches int16 saturation.
TEST(SimdQ8Dot, ExtremeCodesBitIdenticalToScalar) {
  for (DType type : {DType::Q8_0, DType::Q4_0, DType::Q4_1, DType::Q5_0, DType::Q4_K, DType::Q5_K,
                     DType::Q6_K}) {
    SCOPED_TRACE(std::string(dtype_name(type)));
    constexpr int64_t kRows = 11, kCols = 512;
    const uint64_t row_bytes = dtype_bytes(type, kCols);
    const bool k_quant = type == DType::Q4_K || type == DType::Q5_K || type == DType::Q6_K;
    const uint64_t block_bytes = dtype_bytes(type, k_quant ? 256 : 32);
    std::mt19937 rng(7 + uint32_t(type));
    std::vector<uint8_t> w(row_bytes * kRows);
    for (uint8_t& b : w) b = uint8_t(rng());
    for (int64_t r = 0; r < 3; ++r)  // rows of the largest codes: all bits set, then all 0x80
      std::memset(w.data() + uint64_t(r) * row_bytes,
                  r == 0   ? 0xff
                  : r == 1 ? 0x80
                           : 0x7f,
                  row_bytes);
    const uint16_t scales[4] = {0x3c00, 0xb800, 0x2e66, 0x0201};  // 1, -0.5, 0.1, subnormal
    for (uint64_t b = 0; b < w.size() / block_bytes; ++b) {
      uint8_t* blk = w.data() + b * block_bytes;
      const uint64_t at = type == DType::Q6_K ? 208 : 0;
      std::memcpy(blk + at, &scales[b % 4], 2);
      if (type == DType::Q4_1 || type == DType::Q4_K || type == DType::Q5_K)
        std::memcpy(blk + 2, &scales[(b + 1) % 4], 2);
    }
    const int lowest = type == DType::Q8_0 ? -127 : -128;
    std::vector<ActBlockQ8> xq(kCols / kActBlock);
    for (size_t g = 0; g < xq.size(); ++g) {
      ActBlockQ8& blk = xq[g];
      blk.d = 0.01f * float(g + 1);
      blk.sum = 0;
      for (int i = 0; i < kActBlock; ++i) {
        int q = 0;
        if (g % 3 == 0) q = (i % 2) ? 127 : lowest;
        if (g % 3 == 1) q = lowest + int(rng() % uint32_t(127 - lowest + 1));
        if (g % 3 == 2) q = (i % 3) ? lowest : 127;
        blk.q[i] = int8_t(q);
        blk.sum += q;
      }
    }
    std::vector<const uint8_t*> rows;
    for (int64_t r = 0; r < kRows; ++r) rows.push_back(w.data() + uint64_t(r) * row_bytes);
    std::vector<float> out(rows.size());
    for_each_target([&] {
      simd::dot_q8_rows(type, rows.data(), kRows, xq.data(), kCols, out.data());
      for (int64_t r = 0; r < kRows; ++r) {
        const float want = cpu::dot_q8_row(type, rows[size_t(r)], xq.data(), kCols);
        EXPECT_EQ(bits(simd::dot_q8_row(type, rows[size_t(r)], xq.data(), kCols)), bits(want))
            << "row " << r;
        EXPECT_EQ(bits(out[size_t(r)]), bits(want)) << "dot_q8_rows row " << r;
      }
    });
  }
}

INSTANTIATE_TEST_SUITE_P(WeightTypes, SimdQ8Dot,
                         ::testing::Values(DotCase{DType::Q8_0, 32}, DotCase{DType::Q8_0, 608},
                                           DotCase{DType::Q4_0, 96}, DotCase{DType::Q4_0, 576},
                                           DotCase{DType::Q4_1, 160}, DotCase{DType::Q4_1, 576},
                                           DotCase{DType::Q5_0, 32}, DotCase{DType::Q5_0, 480},
                                           DotCase{DType::Q4_K, 256}, DotCase{DType::Q4_K, 768},
                                           DotCase{DType::Q5_K, 256}, DotCase{DType::Q5_K, 512},
                                           DotCase{DType::Q6_K, 256}, DotCase{DType::Q6_K, 768}),
                         dot_case_name);

class SimdFloatDot : public ::testing::TestWithParam<DotCase> {};

TEST_P(SimdFloatDot, BitIdenticalToScalarAndNearDoubleReference) {
  const DType type = GetParam().type;
  const int64_t n = GetParam().n;
  const std::vector<float> af = random_floats(n, 31 + uint32_t(n));
  std::vector<uint8_t> a = quantize(type, af);
  if (type == DType::F16 && n > 40) {  // subnormal, inf-free extremes of the half range
    const uint16_t sub = 0x0003, big = 0x7bff;
    std::memcpy(a.data() + 2 * 7, &sub, 2);
    std::memcpy(a.data() + 2 * 21, &big, 2);
  }
  const std::vector<float> x = random_floats(n, 7);
  std::vector<float> decoded(static_cast<size_t>(n));
  dequantize(type, a.data(), decoded.data(), n);
  double ref = 0.0, mag = 0.0;
  for (int64_t j = 0; j < n; ++j) {
    ref += double(decoded[size_t(j)]) * double(x[size_t(j)]);
    mag += std::fabs(double(decoded[size_t(j)]) * double(x[size_t(j)]));
  }
  const float want = row_codec(type).dot(a.data(), x.data(), n);
  const simd::FloatDotFn fn = simd::row_dot(type);
  ASSERT_NE(fn, nullptr);
  for_each_target([&] {
    const float got = fn(a.data(), x.data(), n);
    EXPECT_EQ(bits(got), bits(want)) << got << " vs " << want;
    EXPECT_NEAR(double(got), ref, 1e-6 * mag + 1e-7);
  });
}

INSTANTIATE_TEST_SUITE_P(Types, SimdFloatDot,
                         ::testing::Values(DotCase{DType::F32, 1}, DotCase{DType::F32, 15},
                                           DotCase{DType::F32, 17}, DotCase{DType::F32, 577},
                                           DotCase{DType::F16, 7}, DotCase{DType::F16, 33},
                                           DotCase{DType::F16, 1000}, DotCase{DType::BF16, 3},
                                           DotCase{DType::BF16, 100}, DotCase{DType::BF16, 1537},
                                           DotCase{DType::Q8_0, 32}, DotCase{DType::Q8_0, 608},
                                           DotCase{DType::Q4_0, 96}, DotCase{DType::Q4_1, 576},
                                           DotCase{DType::Q5_0, 160}, DotCase{DType::Q4_K, 512},
                                           DotCase{DType::Q5_K, 256}, DotCase{DType::Q6_K, 768},
                                           DotCase{DType::Q4_0, 32}, DotCase{DType::Q4_1, 32},
                                           DotCase{DType::Q5_K, 768}, DotCase{DType::Q4_K, 256},
                                           DotCase{DType::Q6_K, 256}),
                         dot_case_name);

// row_dots: several rows per pass (the logits head), each row's value the single-row dot's bits,
// for row counts that leave every tail of the four-row passes.
TEST_P(SimdFloatDot, RowsBitIdenticalToSingleRows) {
  const DType type = GetParam().type;
  const int64_t n = GetParam().n;
  const uint64_t rb = dtype_bytes(type, uint64_t(n));
  constexpr int64_t kMaxRows = 11;
  std::vector<uint8_t> w;
  for (int64_t r = 0; r < kMaxRows; ++r) {
    const std::vector<uint8_t> row = quantize(type, random_floats(n, 101 + uint32_t(r)));
    w.insert(w.end(), row.begin(), row.end());
  }
  const std::vector<float> x = random_floats(n, 13);
  std::vector<const uint8_t*> rows;
  for (int64_t r = 0; r < kMaxRows; ++r) rows.push_back(w.data() + uint64_t(r) * rb);
  for_each_target([&] {
    for (int64_t count : {int64_t(1), int64_t(3), int64_t(4), int64_t(7), kMaxRows}) {
      std::vector<float> out(size_t(count), -1.0f);
      simd::row_dots(type, rows.data() + (kMaxRows - count), count, x.data(), n, out.data());
      for (int64_t i = 0; i < count; ++i) {
        const float want = row_codec(type).dot(rows[size_t(kMaxRows - count + i)], x.data(), n);
        EXPECT_EQ(bits(out[size_t(i)]), bits(want)) << "row " << i << " of " << count;
      }
    }
  });
}

TEST(SimdFloatDot, NoFunctionForNonWeightTypes) {
  EXPECT_EQ(simd::row_dot(DType::I32), nullptr);
}

// Runs in its own process with STAGEFENCE_CPU_SIMD set (tests/CMakeLists.txt): a value naming
// no runnable instruction set fails the first SIMD call with the flag, the value and the choices.
TEST(SimdTargets, EnvironmentFlagNamingNoTargetIsAClearError) {
  const char* v = std::getenv("STAGEFENCE_CPU_SIMD");
  if (v == nullptr || std::string(v) != "avx9000")
    GTEST_SKIP() << "run by the SimdFlagInvalid test";
  try {
    simd::active_target();
    FAIL() << "STAGEFENCE_CPU_SIMD=avx9000 was accepted";
  } catch (const std::exception& e) {
    const std::string what = e.what();
    EXPECT_NE(what.find("STAGEFENCE_CPU_SIMD=avx9000"), std::string::npos) << what;
    EXPECT_NE(what.find("allowed: auto"), std::string::npos) << what;
    const std::string fallback = simd::target_name(simd::runnable_targets().back());
    EXPECT_NE(what.find(fallback), std::string::npos) << what;
  }
}

}  // namespace
