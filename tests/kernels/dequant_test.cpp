// Decoding of every weight type against reference decoders written from the format
// descriptions, hand-made blocks with known values, and the row dot products.
#include "kernels/dequant.hpp"

#include <gtest/gtest.h>

#include <cmath>
#include <cstdint>
#include <cstring>
#include <random>

#include "kernel_test_util.hpp"
#include "reference_decode.hpp"
#include "stagefence/error.hpp"

namespace stagefence::kernels::testing {
namespace {

TEST(Dequant, EveryHalfValueIsExact) {
  std::vector<uint16_t> all(65536);
  for (uint32_t i = 0; i < all.size(); ++i) all[i] = uint16_t(i);
  std::vector<float> out(all.size());
  poison(out);
  dequantize(DType::F16, all.data(), out.data(), int64_t(all.size()));
  for (uint32_t i = 0; i < all.size(); ++i) {
    const double want = ref_half(uint16_t(i));
    if (std::isnan(want)) {
      EXPECT_TRUE(std::isnan(out[i])) << "half 0x" << std::hex << i;
    } else {
      EXPECT_EQ(double(out[i]), want) << "half 0x" << std::hex << i;
      EXPECT_EQ(std::signbit(out[i]), std::signbit(want)) << "half 0x" << std::hex << i;
    }
  }
}

TEST(Dequant, Bf16IsTheUpperHalfOfAFloat) {
  std::mt19937 rng(7);
  std::vector<uint16_t> v(1000);
  for (auto& b : v) b = uint16_t(rng() & 0x7f7f);  // finite values of both signs
  for (size_t i = 0; i < v.size(); i += 2) v[i] |= 0x8000;
  std::vector<float> out(v.size());
  poison(out);
  dequantize(DType::BF16, v.data(), out.data(), int64_t(v.size()));
  for (size_t i = 0; i < v.size(); ++i) EXPECT_EQ(double(out[i]), ref_bf16(v[i]));
}

class DequantEveryType : public ::testing::TestWithParam<DType> {};

// Random blocks decode like the reference; float rounding of d·sc·q − dmin·m allows a few ulps
// of the terms' magnitude (tolerance 1e-6 relative to it).
TEST_P(DequantEveryType, MatchesReferenceDecoder) {
  const DType t = GetParam();
  std::mt19937 rng(uint32_t(t) + 11);
  const int64_t n = 1024;
  const std::vector<uint8_t> bytes = random_weight_bytes(rng, t, n);
  std::vector<double> magnitude;
  const std::vector<double> want = ref_decode(t, bytes.data(), n, &magnitude);
  std::vector<float> got(n);
  poison(got);
  dequantize(t, bytes.data(), got.data(), n);
  for (int64_t i = 0; i < n; ++i)
    ASSERT_NEAR(got[i], want[i], 1e-6 * magnitude[i] + 1e-30) << dtype_name(t) << " element " << i;
}

// The dot product with f32 x matches the double dot of the reference decoding within
// 1e-5 of Σ|w·x| (f32 accumulation over 1024 terms).
TEST_P(DequantEveryType, DotMatchesReference) {
  const DType t = GetParam();
  std::mt19937 rng(uint32_t(t) + 101);
  const int64_t n = 1024;
  const std::vector<uint8_t> bytes = random_weight_bytes(rng, t, n);
  const std::vector<float> x = random_floats(rng, size_t(n));
  const std::vector<double> w = ref_decode(t, bytes.data(), n);
  double want = 0, abs_sum = 0;
  for (int64_t i = 0; i < n; ++i) {
    want += w[i] * x[i];
    abs_sum += std::fabs(w[i] * x[i]);
  }
  EXPECT_NEAR(dot(t, bytes.data(), x.data(), n), want, 1e-5 * abs_sum) << dtype_name(t);
  // Same lane order as decoding first and taking the f32 dot.
  std::vector<float> decoded(n);
  dequantize(t, bytes.data(), decoded.data(), n);
  const float a = dot(t, bytes.data(), x.data(), n);
  const float b = dot_f32(decoded.data(), x.data(), n);
  EXPECT_EQ(std::memcmp(&a, &b, 4), 0) << dtype_name(t) << ": " << a << " vs " << b;
}

INSTANTIATE_TEST_SUITE_P(AllWeightTypes, DequantEveryType,
                         ::testing::ValuesIn(forward_weight_types().begin(),
                                             forward_weight_types().end()),
                         [](const auto& info) { return std::string(dtype_name(info.param)); });

// Plain types have no block constraint: odd lengths take the tail path.
TEST(Dequant, PlainTypeDotWithOddLength) {
  std::mt19937 rng(3);
  for (DType t : {DType::F32, DType::F16, DType::BF16}) {
    const int64_t n = 300 + 7;
    const std::vector<uint8_t> bytes = random_weight_bytes(rng, t, n);
    const std::vector<float> x = random_floats(rng, size_t(n));
    const std::vector<double> w = ref_decode(t, bytes.data(), n);
    double want = 0, abs_sum = 0;
    for (int64_t i = 0; i < n; ++i) {
      want += w[i] * x[i];
      abs_sum += std::fabs(w[i] * x[i]);
    }
    EXPECT_NEAR(dot(t, bytes.data(), x.data(), n), want, 1e-5 * abs_sum) << dtype_name(t);
  }
}

// d = 0.5 and nibble j / 15 - j in byte j: weight j is (j - 8)/2, weight 16 + j is (7 - j)/2.
TEST(Dequant, HandMadeQ40Block) {
  uint8_t block[18];
  block[0] = 0x00;
  block[1] = 0x38;  // half 0x3800 = 0.5
  for (int j = 0; j < 16; ++j) block[2 + j] = uint8_t(j | ((15 - j) << 4));
  float out[32];
  std::fill(out, out + 32, std::nanf(""));
  dequantize(DType::Q4_0, block, out, 32);
  for (int j = 0; j < 16; ++j) {
    EXPECT_EQ(out[j], (j - 8) * 0.5f) << j;
    EXPECT_EQ(out[16 + j], (7 - j) * 0.5f) << 16 + j;
  }
}

// A Q4_K super-block with d = 1, dmin = 0.5, scales {1,2,3,4,37,6,7,8}, mins {0,1,2,3,4,5,6,40}
// (37 and 40 need the packed high bits) and q = element index mod 16.
TEST(Dequant, HandMadeQ4KBlock) {
  uint8_t block[144] = {};
  block[1] = 0x3c;  // half 1.0
  block[3] = 0x38;  // half 0.5
  const uint8_t scales[12] = {
      1 | (2 << 6), 2,           3, 4, 0, 1, 2, 3 | (2 << 6), 5 | (4 << 4), 6 | (5 << 4),
      7 | (6 << 4), 8 | (8 << 4)};
  std::memcpy(block + 4, scales, 12);
  for (int g = 0; g < 4; ++g)
    for (int l = 0; l < 32; ++l) {
      const int lo = (64 * g + l) % 16, hi = (64 * g + 32 + l) % 16;
      block[16 + 32 * g + l] = uint8_t(lo | (hi << 4));
    }
  const int sc[8] = {1, 2, 3, 4, 37, 6, 7, 8}, mn[8] = {0, 1, 2, 3, 4, 5, 6, 40};
  float out[256];
  std::fill(out, out + 256, std::nanf(""));
  dequantize(DType::Q4_K, block, out, 256);
  for (int i = 0; i < 256; ++i)
    EXPECT_EQ(out[i], float(sc[i / 32] * (i % 16)) - 0.5f * float(mn[i / 32])) << i;
}

// Q6_K with d = 1, scale s = sub-block index - 8 and q = 6-bit value (element index mod 64).
TEST(Dequant, HandMadeQ6KBlock) {
  uint8_t block[210] = {};
  for (int i = 0; i < 256; ++i) {
    const int q = i % 64, half = i / 128, k = (i % 128) / 32, l = i % 32;
    uint8_t& low = block[64 * half + l + 32 * (k % 2)];
    low |= uint8_t((q & 15) << (k < 2 ? 0 : 4));
    block[128 + 32 * half + l] |= uint8_t((q >> 4) << (2 * k));
  }
  for (int s = 0; s < 16; ++s) block[192 + s] = uint8_t(int8_t(s - 8));
  block[209] = 0x3c;  // d = 1.0
  float out[256];
  std::fill(out, out + 256, std::nanf(""));
  dequantize(DType::Q6_K, block, out, 256);
  for (int i = 0; i < 256; ++i) EXPECT_EQ(out[i], float((i / 16 - 8) * (i % 64 - 32))) << i;
}

TEST(Dequant, UnsupportedTypeThrows) {
  try {
    row_codec(DType::Q2_K);
    FAIL() << "expected Unsupported";
  } catch (const Error& e) {
    EXPECT_EQ(e.code(), ErrorCode::Unsupported);
    EXPECT_NE(std::string(e.what()).find("q2_k"), std::string::npos);
  }
  EXPECT_FALSE(is_forward_weight_type(DType::Q8_1));
  EXPECT_TRUE(is_forward_weight_type(DType::Q5_K));
}

}  // namespace
}  // namespace stagefence::kernels::testing
