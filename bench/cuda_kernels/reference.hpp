// Double-precision host references for the harness, written from the GGML block formats and the
// kernel contract (src/kernels/kernel_spec.hpp), independently of the device code.
#pragma once
#include <cmath>
#include <cstdint>
#include <cstring>
#include <string>
#include <vector>

#include "kernels/quant_blocks.hpp"

namespace cudakern {

struct TypeInfo {
  std::string name;
  int block_elems;
  int block_bytes;
};

inline const std::vector<TypeInfo>& weight_types() {
  static const std::vector<TypeInfo> t = {
      {"f32", 1, 4},    {"f16", 1, 2},   {"bf16", 1, 2},   {"q8_0", 32, 34}, {"q4_0", 32, 18},
      {"q4_1", 32, 20}, {"q5_0", 32, 22}, {"q4_k", 256, 144}, {"q5_k", 256, 176}, {"q6_k", 256, 210}};
  return t;
}

inline double h(const uint8_t* p) {
  uint16_t v;
  std::memcpy(&v, p, 2);
  return stagefence::quant::half_to_float(v);
}

// 6-bit scale j and min j of a Q4_K/Q5_K block's 12 packed bytes.
inline void kscale(const uint8_t* s, int j, int* sc, int* mn) {
  if (j < 4) {
    *sc = s[j] & 63;
    *mn = s[j + 4] & 63;
  } else {
    *sc = (s[j + 4] & 15) | ((s[j - 4] >> 6) << 4);
    *mn = (s[j + 4] >> 4) | ((s[j] >> 6) << 4);
  }
}

// Decodes one row of `cols` weights.
inline std::vector<double> dequant_row(const std::string& t, const uint8_t* row, int64_t cols) {
  std::vector<double> out(cols);
  if (t == "f32") {
    for (int64_t c = 0; c < cols; ++c) {
      float f;
      std::memcpy(&f, row + 4 * c, 4);
      out[c] = f;
    }
  } else if (t == "f16") {
    for (int64_t c = 0; c < cols; ++c) out[c] = h(row + 2 * c);
  } else if (t == "bf16") {
    for (int64_t c = 0; c < cols; ++c) {
      uint16_t v;
      std::memcpy(&v, row + 2 * c, 2);
      out[c] = stagefence::quant::bf16_to_float(v);
    }
  } else if (t == "q8_0") {
    for (int64_t b = 0; b < cols / 32; ++b) {
      const uint8_t* p = row + 34 * b;
      for (int j = 0; j < 32; ++j) out[32 * b + j] = h(p) * double(int8_t(p[2 + j]));
    }
  } else if (t == "q4_0" || t == "q4_1") {
    const bool one = t == "q4_1";
    const int bb = one ? 20 : 18, qo = one ? 4 : 2;
    for (int64_t b = 0; b < cols / 32; ++b) {
      const uint8_t* p = row + bb * b;
      const double d = h(p), m = one ? h(p + 2) : 0.0;
      for (int j = 0; j < 16; ++j) {
        const int lo = p[qo + j] & 15, hi = p[qo + j] >> 4;
        out[32 * b + j] = one ? d * lo + m : d * (lo - 8);
        out[32 * b + 16 + j] = one ? d * hi + m : d * (hi - 8);
      }
    }
  } else if (t == "q5_0") {
    for (int64_t b = 0; b < cols / 32; ++b) {
      const uint8_t* p = row + 22 * b;
      uint32_t qh;
      std::memcpy(&qh, p + 2, 4);
      for (int j = 0; j < 16; ++j) {
        const int lo = (p[6 + j] & 15) | (((qh >> j) & 1) << 4);
        const int hi = (p[6 + j] >> 4) | (((qh >> (j + 16)) & 1) << 4);
        out[32 * b + j] = h(p) * (lo - 16);
        out[32 * b + 16 + j] = h(p) * (hi - 16);
      }
    }
  } else if (t == "q4_k" || t == "q5_k") {
    const bool five = t == "q5_k";
    const int bb = five ? 176 : 144, qs_off = five ? 48 : 16;
    for (int64_t b = 0; b < cols / 256; ++b) {
      const uint8_t* p = row + bb * b;
      const double d = h(p), dmin = h(p + 2);
      for (int pair = 0; pair < 4; ++pair) {
        for (int half = 0; half < 2; ++half) {
          const int j = 2 * pair + half;
          int sc, mn;
          kscale(p + 4, j, &sc, &mn);
          for (int l = 0; l < 32; ++l) {
            const uint8_t q = p[qs_off + 32 * pair + l];
            int v = half ? q >> 4 : q & 15;
            if (five) v += ((p[16 + l] >> j) & 1) * 16;
            out[256 * b + 64 * pair + 32 * half + l] = d * sc * v - dmin * mn;
          }
        }
      }
    }
  } else if (t == "q6_k") {
    for (int64_t b = 0; b < cols / 256; ++b) {
      const uint8_t* p = row + 210 * b;
      const uint8_t *ql = p, *qh = p + 128;
      const int8_t* sc = reinterpret_cast<const int8_t*>(p + 192);
      const double d = h(p + 208);
      for (int n = 0; n < 2; ++n) {
        for (int l = 0; l < 32; ++l) {
          const int is = l / 16;
          const uint8_t a0 = ql[64 * n + l], a1 = ql[64 * n + l + 32], hh = qh[32 * n + l];
          const int q1 = ((a0 & 15) | ((hh & 3) << 4)) - 32;
          const int q2 = ((a1 & 15) | (((hh >> 2) & 3) << 4)) - 32;
          const int q3 = ((a0 >> 4) | (((hh >> 4) & 3) << 4)) - 32;
          const int q4 = ((a1 >> 4) | (((hh >> 6) & 3) << 4)) - 32;
          double* y = out.data() + 256 * b + 128 * n;
          y[l] = d * sc[8 * n + is] * q1;
          y[l + 32] = d * sc[8 * n + is + 2] * q2;
          y[l + 64] = d * sc[8 * n + is + 4] * q3;
          y[l + 96] = d * sc[8 * n + is + 6] * q4;
        }
      }
    }
  }
  return out;
}

}  // namespace cudakern
