// Reference decoders written from the GGML block-format descriptions, in double, reading raw
// bytes by offset (independent of the kernels' block structs and loops).
#pragma once
#include <cmath>
#include <cstdint>
#include <cstring>
#include <limits>
#include <vector>

#include "stagefence/dtype.hpp"

namespace stagefence::kernels::testing {

inline double ref_half(uint16_t h) {
  const int sign = h >> 15, exp = (h >> 10) & 31, man = h & 1023;
  double v;
  if (exp == 0)
    v = std::ldexp(double(man), -24);
  else if (exp == 31)
    v = man ? std::numeric_limits<double>::quiet_NaN() : std::numeric_limits<double>::infinity();
  else
    v = std::ldexp(double(1024 + man), exp - 25);
  return sign ? -v : v;
}

inline double ref_bf16(uint16_t b) {
  const uint32_t bits = uint32_t(b) << 16;
  float f;
  std::memcpy(&f, &bits, 4);
  return f;
}

inline uint16_t read_u16(const uint8_t* p) {
  return uint16_t(p[0] | (p[1] << 8));
}

// 6-bit scale and min of sub-block j (0..7) of a Q4_K / Q5_K 12-byte scale field: sub-blocks
// 0-3 use the low 6 bits of bytes j and j+4; sub-blocks 4-7 take their low 4 bits from byte j+4
// (scale low nibble, min high nibble) and their top 2 bits from bits 6-7 of bytes j-4 and j.
inline void ref_k_scale(const uint8_t* s, int j, int& scale, int& min) {
  if (j < 4) {
    scale = s[j] & 63;
    min = s[j + 4] & 63;
  } else {
    scale = (s[j + 4] & 15) | ((s[j - 4] >> 6) << 4);
    min = (s[j + 4] >> 4) | ((s[j] >> 6) << 4);
  }
}

// Decodes element count n of type t; `magnitude` (optional) receives, per element, the sum of
// the absolute values of the terms that make it up (for rounding tolerances).
inline std::vector<double> ref_decode(DType t, const uint8_t* p, int64_t n,
                                      std::vector<double>* magnitude = nullptr) {
  std::vector<double> out(static_cast<size_t>(n)), mag(static_cast<size_t>(n));
  for (int64_t i = 0; i < n; ++i) {
    double v = 0, m = 0;
    switch (t) {
      case DType::F32: {
        float f;
        std::memcpy(&f, p + 4 * i, 4);
        v = f;
        break;
      }
      case DType::F16:
        v = ref_half(read_u16(p + 2 * i));
        break;
      case DType::BF16:
        v = ref_bf16(read_u16(p + 2 * i));
        break;
      case DType::Q8_0: {
        const uint8_t* b = p + 34 * (i / 32);
        v = ref_half(read_u16(b)) * double(int8_t(b[2 + i % 32]));
        break;
      }
      case DType::Q4_0: {
        const uint8_t* b = p + 18 * (i / 32);
        const int e = int(i % 32);
        const int q = e < 16 ? (b[2 + e] & 15) : (b[2 + e - 16] >> 4);
        v = ref_half(read_u16(b)) * (q - 8);
        break;
      }
      case DType::Q4_1: {
        const uint8_t* b = p + 20 * (i / 32);
        const int e = int(i % 32);
        const int q = e < 16 ? (b[4 + e] & 15) : (b[4 + e - 16] >> 4);
        const double a = ref_half(read_u16(b)) * q, c = ref_half(read_u16(b + 2));
        v = a + c;
        m = std::fabs(a) + std::fabs(c);
        break;
      }
      case DType::Q5_0: {
        const uint8_t* b = p + 22 * (i / 32);
        const int e = int(i % 32);
        const uint32_t qh =
            uint32_t(b[2]) | uint32_t(b[3]) << 8 | uint32_t(b[4]) << 16 | uint32_t(b[5]) << 24;
        const int low = e < 16 ? (b[6 + e] & 15) : (b[6 + e - 16] >> 4);
        const int q = low | int((qh >> e) & 1) << 4;
        v = ref_half(read_u16(b)) * (q - 16);
        break;
      }
      case DType::Q4_K:
      case DType::Q5_K: {
        const bool five = t == DType::Q5_K;
        const uint8_t* b = p + (five ? 176 : 144) * (i / 256);
        const int e = int(i % 256), sub = e / 32, within = e % 64;
        const uint8_t* qs = b + (five ? 48 : 16);
        const uint8_t byte = qs[32 * (e / 64) + within % 32];
        int q = within < 32 ? (byte & 15) : (byte >> 4);
        if (five) q |= ((b[16 + e % 32] >> sub) & 1) << 4;
        int sc, mn;
        ref_k_scale(b + 4, sub, sc, mn);
        const double a = ref_half(read_u16(b)) * sc * q, c = ref_half(read_u16(b + 2)) * mn;
        v = a - c;
        m = std::fabs(a) + std::fabs(c);
        break;
      }
      case DType::Q6_K: {
        const uint8_t* b = p + 210 * (i / 256);
        const int e = int(i % 256), half = e / 128, k = (e % 128) / 32, l = e % 32;
        const uint8_t lowbyte = b[64 * half + l + 32 * (k % 2)];
        const int low = k < 2 ? (lowbyte & 15) : (lowbyte >> 4);
        const int high = (b[128 + 32 * half + l] >> (2 * k)) & 3;
        const int scale = int8_t(b[192 + e / 16]);
        v = ref_half(read_u16(b + 208)) * scale * ((low | high << 4) - 32);
        break;
      }
      default:
        break;
    }
    out[size_t(i)] = v;
    mag[size_t(i)] = m != 0 ? m : std::fabs(v);
  }
  if (magnitude) *magnitude = mag;
  return out;
}

}  // namespace stagefence::kernels::testing
