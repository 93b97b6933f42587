// The scalar definition of act_q8.hpp's dot products: a block-quantised weight row against 8-bit
// activation blocks, group by group, each group's integer sums exact and its term scaled in the
// order the header writes. The group terms are added in row order.
#include "kernels/cpu/q8_dot.hpp"

#include <cstdint>
#include <cstring>
#include <string>

#include "kernels/dequant.hpp"
#include "kernels/quant_blocks.hpp"
#include "stagefence/error.hpp"

namespace stagefence::kernels::cpu {
namespace {

using namespace stagefence::quant;

float h2f(const uint8_t* p) {
  uint16_t v;
  std::memcpy(&v, p, 2);
  return half_to_float(v);
}

// Σ w_i · q_i over 32 elements whose weights are given as small integers.
int32_t idot(const int* w, const int8_t* q) {
  int32_t s = 0;
  for (int i = 0; i < 32; ++i) s += w[i] * int32_t(q[i]);
  return s;
}

float term_q8_0(const uint8_t* b, const ActBlockQ8& x) {
  int w[32];
  for (int i = 0; i < 32; ++i) w[i] = int8_t(b[2 + i]);
  return h2f(b) * x.d * float(idot(w, x.q));
}

float term_q4_0(const uint8_t* b, const ActBlockQ8& x) {
  int w[32];
  for (int i = 0; i < 16; ++i) {
    w[i] = b[2 + i] & 0xf;
    w[i + 16] = b[2 + i] >> 4;
  }
  return h2f(b) * x.d * float(idot(w, x.q) - 8 * x.sum);
}

float term_q4_1(const uint8_t* b, const ActBlockQ8& x) {
  int w[32];
  for (int i = 0; i < 16; ++i) {
    w[i] = b[4 + i] & 0xf;
    w[i + 16] = b[4 + i] >> 4;
  }
  return h2f(b) * x.d * float(idot(w, x.q)) + h2f(b + 2) * x.d * float(x.sum);
}

float term_q5_0(const uint8_t* b, const ActBlockQ8& x) {
  uint32_t qh;
  std::memcpy(&qh, b + 2, 4);
  int w[32];
  for (int i = 0; i < 16; ++i) {
    w[i] = (b[6 + i] & 0xf) | int(((qh >> i) & 1u) << 4);
    w[i + 16] = (b[6 + i] >> 4) | int(((qh >> (16 + i)) & 1u) << 4);
  }
  return h2f(b) * x.d * float(idot(w, x.q) - 16 * x.sum);
}

// Q4_K / Q5_K group j of a super-block.
float term_qk(const uint8_t* b, int j, const ActBlockQ8& x, bool five) {
  uint8_t sc, m;
  get_scale_min_k4(j, b + 4, &sc, &m);
  const uint8_t* qs = b + (five ? 48 : 16) + 32 * (j / 2);
  int w[32];
  for (int l = 0; l < 32; ++l) {
    w[l] = (j & 1) ? (qs[l] >> 4) : (qs[l] & 0xf);
    if (five) w[l] |= ((b[16 + l] >> j) & 1) << 4;
  }
  return h2f(b) * float(sc) * x.d * float(idot(w, x.q)) -
         h2f(b + 2) * float(m) * x.d * float(x.sum);
}

// Q6_K group j: h = j / 4, t = j % 4; scales of the two 16-element halves.
float term_q6_k(const uint8_t* b, int j, const ActBlockQ8& x) {
  const int h = j / 4, t = j % 4;
  int32_t half_sum[2] = {0, 0};
  for (int l = 0; l < 32; ++l) {
    const uint8_t lowb = b[64 * h + 32 * (t & 1) + l];
    const int lo = t < 2 ? (lowb & 0xf) : (lowb >> 4);
    const int hi = (b[128 + 32 * h + l] >> (2 * t)) & 3;
    half_sum[l / 16] += ((lo | (hi << 4)) - 32) * int32_t(x.q[l]);
  }
  const int sa = int8_t(b[192 + 8 * h + 2 * t]), sb = int8_t(b[192 + 8 * h + 2 * t + 1]);
  return h2f(b + 208) * x.d * float(sa * half_sum[0] + sb * half_sum[1]);
}

}  // namespace

bool is_q8_activation_type(DType t) {
  return is_block_weight_type(t);
}

void quantize_activations(const float* x, int64_t n, ActBlockQ8* out) {
  for (int64_t g = 0; g < n / kActBlock; ++g) quantize_act_block(x + g * kActBlock, out + g);
}

float dot_q8_row(DType t, const uint8_t* row, const ActBlockQ8* x, int64_t cols) {
  const int64_t groups = cols / kActBlock;
  float acc = 0.0f;
  switch (t) {
    case DType::Q8_0:
      for (int64_t g = 0; g < groups; ++g) acc += term_q8_0(row + g * 34, x[g]);
      return acc;
    case DType::Q4_0:
      for (int64_t g = 0; g < groups; ++g) acc += term_q4_0(row + g * 18, x[g]);
      return acc;
    case DType::Q4_1:
      for (int64_t g = 0; g < groups; ++g) acc += term_q4_1(row + g * 20, x[g]);
      return acc;
    case DType::Q5_0:
      for (int64_t g = 0; g < groups; ++g) acc += term_q5_0(row + g * 22, x[g]);
      return acc;
    case DType::Q4_K:
    case DType::Q5_K: {
      const bool five = t == DType::Q5_K;
      const int64_t bytes = five ? 176 : 144;
      for (int64_t g = 0; g < groups; ++g)
        acc += term_qk(row + (g / 8) * bytes, int(g % 8), x[g], five);
      return acc;
    }
    case DType::Q6_K:
      for (int64_t g = 0; g < groups; ++g) acc += term_q6_k(row + (g / 8) * 210, int(g % 8), x[g]);
      return acc;
    default:
      raise(ErrorCode::Unsupported,
            "dot_q8_row: " + std::string(dtype_name(t)) + " is not a block-quantised type");
  }
}

}  // namespace stagefence::kernels::cpu
