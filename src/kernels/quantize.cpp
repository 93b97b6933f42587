#include "kernels/quantize.hpp"

#include <algorithm>
#include <cmath>
#include <cstdint>
#include <cstring>
#include <string>

#include "kernels/quant_blocks.hpp"
#include "stagefence/error.hpp"

namespace stagefence::kernels {
namespace {

using namespace stagefence::quant;

inline int round_clamp(float v, int lo, int hi) {
  return std::clamp(int(std::lround(v)), lo, hi);
}

// The element of largest magnitude, with its sign.
inline float signed_absmax(const float* x, int n) {
  float best = 0.0f;
  for (int j = 0; j < n; ++j)
    if (std::fabs(x[j]) > std::fabs(best)) best = x[j];
  return best;
}

void encode(const float* x, block_q8_0& b) {
  float amax = 0.0f;
  for (int j = 0; j < QK8_0; ++j) amax = std::max(amax, std::fabs(x[j]));
  b.d = float_to_half(amax / 127.0f);
  const float d = half_to_float(b.d);
  const float inv = d != 0.0f ? 1.0f / d : 0.0f;
  for (int j = 0; j < QK8_0; ++j) b.qs[j] = int8_t(round_clamp(x[j] * inv, -127, 127));
}

// Q4_0 maps the element of largest magnitude to -8, so the range is [-8d, 7d] with d signed.
void encode(const float* x, block_q4_0& b) {
  b.d = float_to_half(signed_absmax(x, QK4_0) / -8.0f);
  const float d = half_to_float(b.d);
  const float inv = d != 0.0f ? 1.0f / d : 0.0f;
  for (int j = 0; j < QK4_0 / 2; ++j) {
    const int q0 = round_clamp(x[j] * inv, -8, 7) + 8;
    const int q1 = round_clamp(x[j + QK4_0 / 2] * inv, -8, 7) + 8;
    b.qs[j] = uint8_t(q0 | (q1 << 4));
  }
}

void encode(const float* x, block_q4_1& b) {
  float lo = x[0], hi = x[0];
  for (int j = 1; j < QK4_1; ++j) {
    lo = std::min(lo, x[j]);
    hi = std::max(hi, x[j]);
  }
  b.d = float_to_half((hi - lo) / 15.0f);
  b.m = float_to_half(lo);
  const float d = half_to_float(b.d), m = half_to_float(b.m);
  const float inv = d != 0.0f ? 1.0f / d : 0.0f;
  for (int j = 0; j < QK4_1 / 2; ++j) {
    const int q0 = round_clamp((x[j] - m) * inv, 0, 15);
    const int q1 = round_clamp((x[j + QK4_1 / 2] - m) * inv, 0, 15);
    b.qs[j] = uint8_t(q0 | (q1 << 4));
  }
}

void encode(const float* x, block_q5_0& b) {
  b.d = float_to_half(signed_absmax(x, QK5_0) / -16.0f);
  const float d = half_to_float(b.d);
  const float inv = d != 0.0f ? 1.0f / d : 0.0f;
  uint32_t qh = 0;
  for (int j = 0; j < QK5_0 / 2; ++j) {
    const int q0 = round_clamp(x[j] * inv, -16, 15) + 16;
    const int q1 = round_clamp(x[j + QK5_0 / 2] * inv, -16, 15) + 16;
    b.qs[j] = uint8_t((q0 & 0x0F) | ((q1 & 0x0F) << 4));
    qh |= uint32_t(q0 >> 4) << j;
    qh |= uint32_t(q1 >> 4) << (j + QK5_0 / 2);
  }
  std::memcpy(b.qh, &qh, sizeof qh);
}

// Packs eight 6-bit scales and mins the way get_scale_min_k4 unpacks them.
void pack_scale_min_k4(const uint8_t* sc, const uint8_t* mn, uint8_t* out) {
  std::memset(out, 0, K_SCALE_SIZE);
  for (int j = 0; j < 8; ++j) {
    if (j < 4) {
      out[j] |= sc[j] & 63;
      out[j + 4] |= mn[j] & 63;
    } else {
      out[j + 4] = uint8_t((sc[j] & 0x0F) | ((mn[j] & 0x0F) << 4));
      out[j - 4] |= uint8_t((sc[j] >> 4) << 6);
      out[j] |= uint8_t((mn[j] >> 4) << 6);
    }
  }
}

// Shared by Q4_K and Q5_K: eight sub-blocks of 32 with value d·sc·q − dmin·m, q in [0, levels].
// Fills d, dmin and the packed scales, and writes each element's q into qs_out[256].
void encode_k_affine(const float* x, int levels, uint16_t& d_out, uint16_t& dmin_out,
                     uint8_t* scales_out, int* q_out) {
  float sub_scale[8], sub_min[8];
  for (int s = 0; s < 8; ++s) {
    float lo = 0.0f, hi = x[32 * s];
    for (int l = 0; l < 32; ++l) {
      lo = std::min(lo, x[32 * s + l]);
      hi = std::max(hi, x[32 * s + l]);
    }
    sub_scale[s] = (hi - lo) / float(levels);
    sub_min[s] = -lo;
  }
  const float max_scale = *std::max_element(sub_scale, sub_scale + 8);
  const float max_min = *std::max_element(sub_min, sub_min + 8);
  d_out = float_to_half(max_scale / 63.0f);
  dmin_out = float_to_half(max_min / 63.0f);
  const float d = half_to_float(d_out), dmin = half_to_float(dmin_out);
  uint8_t sc[8], mn[8];
  for (int s = 0; s < 8; ++s) {
    sc[s] = uint8_t(d > 0.0f ? round_clamp(sub_scale[s] / d, 0, 63) : 0);
    mn[s] = uint8_t(dmin > 0.0f ? round_clamp(sub_min[s] / dmin, 0, 63) : 0);
    const float step = d * sc[s], offset = dmin * mn[s];
    const float inv = step > 0.0f ? 1.0f / step : 0.0f;
    for (int l = 0; l < 32; ++l)
      q_out[32 * s + l] = round_clamp((x[32 * s + l] + offset) * inv, 0, levels);
  }
  pack_scale_min_k4(sc, mn, scales_out);
}

void encode(const float* x, block_q4_K& b) {
  int q[QK_K];
  encode_k_affine(x, 15, b.d, b.dmin, b.scales, q);
  for (int g = 0; g < 4; ++g)
    for (int l = 0; l < 32; ++l)
      b.qs[32 * g + l] = uint8_t(q[64 * g + l] | (q[64 * g + 32 + l] << 4));
}

void encode(const float* x, block_q5_K& b) {
  int q[QK_K];
  encode_k_affine(x, 31, b.d, b.dmin, b.scales, q);
  std::memset(b.qh, 0, sizeof b.qh);
  for (int g = 0; g < 4; ++g)
    for (int l = 0; l < 32; ++l) {
      const int lo = q[64 * g + l], hi = q[64 * g + 32 + l];
      b.qs[32 * g + l] = uint8_t((lo & 0x0F) | ((hi & 0x0F) << 4));
      b.qh[l] |= uint8_t(((lo >> 4) << (2 * g)) | ((hi >> 4) << (2 * g + 1)));
    }
}

// Q6_K: sixteen sub-blocks of 16, each with an int8 scale (>= 0 here) of the super-block d;
// q in [-32, 31] with the sub-block's largest magnitude mapped to ±31.
void encode(const float* x, block_q6_K& b) {
  float sub_scale[16];
  for (int s = 0; s < 16; ++s) {
    float amax = 0.0f;
    for (int l = 0; l < 16; ++l) amax = std::max(amax, std::fabs(x[16 * s + l]));
    sub_scale[s] = amax / 31.0f;
  }
  b.d = float_to_half(*std::max_element(sub_scale, sub_scale + 16) / 127.0f);
  const float d = half_to_float(b.d);
  int q[QK_K];
  for (int s = 0; s < 16; ++s) {
    const int sc = d > 0.0f ? round_clamp(sub_scale[s] / d, 0, 127) : 0;
    b.scales[s] = int8_t(sc);
    const float step = d * float(sc);
    const float inv = step > 0.0f ? 1.0f / step : 0.0f;
    for (int l = 0; l < 16; ++l) q[16 * s + l] = round_clamp(x[16 * s + l] * inv, -32, 31) + 32;
  }
  std::memset(b.qh, 0, sizeof b.qh);
  for (int half = 0; half < 2; ++half) {
    uint8_t* ql = b.ql + 64 * half;
    uint8_t* qh = b.qh + 32 * half;
    const int* qq = q + 128 * half;
    for (int l = 0; l < 32; ++l) {
      ql[l] = uint8_t((qq[l] & 0x0F) | ((qq[l + 64] & 0x0F) << 4));
      ql[l + 32] = uint8_t((qq[l + 32] & 0x0F) | ((qq[l + 96] & 0x0F) << 4));
      qh[l] = uint8_t((qq[l] >> 4) | ((qq[l + 32] >> 4) << 2) | ((qq[l + 64] >> 4) << 4) |
                      ((qq[l + 96] >> 4) << 6));
    }
  }
}

template <typename Block, int kElems>
void encode_blocks(const float* src, void* dst, int64_t n) {
  Block* blocks = static_cast<Block*>(dst);
  for (int64_t i = 0; i < n / kElems; ++i) {
    Block b;
    std::memset(&b, 0, sizeof b);
    encode(src + i * kElems, b);
    std::memcpy(&blocks[i], &b, sizeof b);
  }
}

}  // namespace

bool can_quantize(DType t) {
  switch (t) {
    case DType::F32:
    case DType::F16:
    case DType::BF16:
    case DType::Q8_0:
    case DType::Q4_0:
    case DType::Q4_1:
    case DType::Q5_0:
    case DType::Q4_K:
    case DType::Q5_K:
    case DType::Q6_K:
      return true;
    default:
      return false;
  }
}

void quantize(DType t, const float* src, void* dst, int64_t n) {
  if (!can_quantize(t))
    raise(ErrorCode::Unsupported, "cannot quantize to " + std::string(dtype_name(t)));
  if (n < 0) raise(ErrorCode::InvalidArgument, "quantize: negative element count");
  dtype_bytes(t, uint64_t(n));  // throws for a partial block
  switch (t) {
    case DType::F32:
      std::memcpy(dst, src, size_t(n) * sizeof(float));
      break;
    case DType::F16: {
      uint16_t* out = static_cast<uint16_t*>(dst);
      for (int64_t i = 0; i < n; ++i) out[i] = float_to_half(src[i]);
      break;
    }
    case DType::BF16: {
      uint16_t* out = static_cast<uint16_t*>(dst);
      for (int64_t i = 0; i < n; ++i) out[i] = float_to_bf16(src[i]);
      break;
    }
    case DType::Q8_0:
      encode_blocks<block_q8_0, QK8_0>(src, dst, n);
      break;
    case DType::Q4_0:
      encode_blocks<block_q4_0, QK4_0>(src, dst, n);
      break;
    case DType::Q4_1:
      encode_blocks<block_q4_1, QK4_1>(src, dst, n);
      break;
    case DType::Q5_0:
      encode_blocks<block_q5_0, QK5_0>(src, dst, n);
      break;
    case DType::Q4_K:
      encode_blocks<block_q4_K, QK_K>(src, dst, n);
      break;
    case DType::Q5_K:
      encode_blocks<block_q5_K, QK_K>(src, dst, n);
      break;
    case DType::Q6_K:
      encode_blocks<block_q6_K, QK_K>(src, dst, n);
      break;
    default:
      break;
  }
}

std::vector<uint8_t> quantize(DType t, std::span<const float> src) {
  if (!can_quantize(t))
    raise(ErrorCode::Unsupported, "cannot quantize to " + std::string(dtype_name(t)));
  std::vector<uint8_t> out(dtype_bytes(t, src.size()));
  quantize(t, src.data(), out.data(), int64_t(src.size()));
  return out;
}

}  // namespace stagefence::kernels
