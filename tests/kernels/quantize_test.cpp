// Quantise random rows, decode them with the reference decoder, and bound the error.
#include "kernels/quantize.hpp"

#include <gtest/gtest.h>

#include <algorithm>
#include <cmath>
#include <cstdint>
#include <random>

#include "kernel_test_util.hpp"
#include "reference_decode.hpp"
#include "stagefence/error.hpp"

namespace stagefence::kernels::testing {
namespace {

struct Bound {
  DType type;
  double of_block_absmax;  // max |x − decoded| allowed, as a fraction of the block's max |x|
  double rms_fraction;     // rms(x − decoded) / rms(x) allowed
};

// Bounds from each format's step: Q8_0 amax/254, Q4_0 up to one step of amax/8 (the positive
// end is clamped), Q4_1 range/30, Q5_0 amax/16, K-quants half a step plus the 6-bit scale/min
// rounding, F16/BF16 half an ulp; plus slack for the f16 scale. The rms bounds follow from
// uniform rounding noise (step/√12) against uniform data (amax/√3), with ~20% slack.
class QuantizeRoundTrip : public ::testing::TestWithParam<Bound> {};

TEST_P(QuantizeRoundTrip, DecodesCloseToTheInput) {
  const Bound bound = GetParam();
  std::mt19937 rng(uint32_t(bound.type) + 5);
  const int64_t n = 4096;
  // Blocks of different amplitude so that super-block scales vary.
  std::vector<float> x = random_floats(rng, size_t(n));
  for (int64_t i = 0; i < n; ++i) x[i] *= 0.05f + float(i / 512);
  const std::vector<uint8_t> bytes = quantize(bound.type, x);
  ASSERT_EQ(bytes.size(), dtype_bytes(bound.type, n));
  const std::vector<double> y = ref_decode(bound.type, bytes.data(), n);
  const int64_t block =
      dtype_info(bound.type)->block_elems > 1 ? dtype_info(bound.type)->block_elems : 256;
  double err2 = 0, x2 = 0;
  for (int64_t b = 0; b < n; b += block) {
    double amax = 0;
    for (int64_t i = b; i < b + block; ++i) amax = std::max(amax, double(std::fabs(x[i])));
    for (int64_t i = b; i < b + block; ++i) {
      const double err = std::fabs(y[i] - x[i]);
      ASSERT_LE(err, bound.of_block_absmax * amax)
          << dtype_name(bound.type) << " element " << i << ": " << x[i] << " -> " << y[i];
      err2 += err * err;
      x2 += double(x[i]) * x[i];
    }
  }
  EXPECT_LE(std::sqrt(err2 / x2), bound.rms_fraction) << dtype_name(bound.type);
}

INSTANTIATE_TEST_SUITE_P(
    AllTypes, QuantizeRoundTrip,
    ::testing::Values(Bound{DType::F32, 0.0, 0.0}, Bound{DType::F16, 1.0 / 2048, 1e-3},
                      Bound{DType::BF16, 1.0 / 256, 4e-3}, Bound{DType::Q8_0, 0.0045, 0.005},
                      Bound{DType::Q4_0, 0.13, 0.075}, Bound{DType::Q4_1, 0.07, 0.08},
                      Bound{DType::Q5_0, 0.065, 0.04}, Bound{DType::Q4_K, 0.1, 0.08},
                      Bound{DType::Q5_K, 0.06, 0.04}, Bound{DType::Q6_K, 0.03, 0.02}),
    [](const auto& info) { return std::string(dtype_name(info.param.type)); });

TEST(Quantize, RejectsPartialBlocksAndUnknownTypes) {
  std::vector<float> x(40, 0.5f);
  try {
    quantize(DType::Q4_0, x);
    FAIL() << "expected InvalidArgument";
  } catch (const Error& e) {
    EXPECT_EQ(e.code(), ErrorCode::InvalidArgument);
  }
  try {
    quantize(DType::Q2_K, std::vector<float>(256, 0.5f));
    FAIL() << "expected Unsupported";
  } catch (const Error& e) {
    EXPECT_EQ(e.code(), ErrorCode::Unsupported);
  }
}

// A block whose values are exact multiples of its Q8_0 step survives unchanged.
TEST(Quantize, Q80RepresentableValuesAreExact) {
  std::vector<float> x(32);
  for (int i = 0; i < 32; ++i) x[i] = float((i * 37) % 255 - 127) * 0.25f;
  x[5] = 127 * 0.25f;  // sets the scale to exactly 0.25
  const std::vector<double> y = ref_decode(DType::Q8_0, quantize(DType::Q8_0, x).data(), 32);
  for (int i = 0; i < 32; ++i) EXPECT_EQ(y[i], double(x[i])) << i;
}

}  // namespace
}  // namespace stagefence::kernels::testing
