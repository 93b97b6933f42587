#include "kernels/dequant.hpp"

#include <array>
#include <cstdint>
#include <cstring>
#include <string>

#include "kernels/quant_blocks.hpp"
#include "stagefence/error.hpp"

namespace stagefence::kernels {
namespace {

using namespace stagefence::quant;

constexpr int kLanes = 16;

// Sixteen independent f32 accumulators: element j of a row always lands in lane j mod 16.
struct Lanes {
  float acc[kLanes] = {};

  // Adds a[j]*b[j] for j < n; callers pass chunks that start at a multiple of 16 in the row.
  void add(const float* a, const float* b, int64_t n) {
    int64_t j = 0;
    for (; j + kLanes <= n; j += kLanes)
      for (int l = 0; l < kLanes; ++l) acc[l] += a[j + l] * b[j + l];
    for (int l = 0; j + l < n; ++l) acc[l] += a[j + l] * b[j + l];
  }

  float sum() const {
    float s[kLanes];
    for (int l = 0; l < kLanes; ++l) s[l] = acc[l];
    for (int width = kLanes / 2; width >= 1; width /= 2)
      for (int l = 0; l < width; ++l) s[l] += s[l + width];
    return s[0];
  }
};

inline float bits_to_float(uint32_t bits) {
  float f;
  std::memcpy(&f, &bits, sizeof f);
  return f;
}
inline uint32_t float_to_bits(float f) {
  uint32_t bits;
  std::memcpy(&bits, &f, sizeof bits);
  return bits;
}

// Moves the half's exponent and mantissa into float position and rebiases by multiplying with
// 2^112 (exact for normals and subnormals); inf and NaN keep an all-ones exponent.
inline float half_to_float_branchless(uint16_t h) {
  uint32_t sign = uint32_t(h & 0x8000u) << 16;
  uint32_t magnitude = uint32_t(h & 0x7fffu) << 13;
  uint32_t bits = float_to_bits(bits_to_float(magnitude) * 0x1p112f);
  if ((h & 0x7c00u) == 0x7c00u) bits = magnitude | 0x7f800000u;
  return bits_to_float(bits | sign);
}

// --- per-block decoders (ggml's definitions) ---

inline void decode(const block_q8_0& b, float* y) {
  const float d = half_to_float(b.d);
  for (int j = 0; j < QK8_0; ++j) y[j] = float(b.qs[j]) * d;
}

inline void decode(const block_q4_0& b, float* y) {
  const float d = half_to_float(b.d);
  for (int j = 0; j < QK4_0 / 2; ++j) {
    y[j] = float(int(b.qs[j] & 0x0F) - 8) * d;
    y[j + QK4_0 / 2] = float(int(b.qs[j] >> 4) - 8) * d;
  }
}

inline void decode(const block_q4_1& b, float* y) {
  const float d = half_to_float(b.d);
  const float m = half_to_float(b.m);
  for (int j = 0; j < QK4_1 / 2; ++j) {
    y[j] = float(b.qs[j] & 0x0F) * d + m;
    y[j + QK4_1 / 2] = float(b.qs[j] >> 4) * d + m;
  }
}

// Q5_0: bit j of the little-endian qh word is the fifth bit of element j.
inline void decode(const block_q5_0& b, float* y) {
  const float d = half_to_float(b.d);
  uint32_t qh;
  std::memcpy(&qh, b.qh, sizeof qh);
  for (int j = 0; j < QK5_0 / 2; ++j) {
    const int hi0 = int((qh >> j) & 1u) << 4;
    const int hi1 = int((qh >> (j + QK5_0 / 2)) & 1u) << 4;
    y[j] = float((int(b.qs[j] & 0x0F) | hi0) - 16) * d;
    y[j + QK5_0 / 2] = float((int(b.qs[j] >> 4) | hi1) - 16) * d;
  }
}

// Q4_K: four groups of 64; in group g, the low nibbles of qs[32g..32g+32) are sub-block 2g and
// the high nibbles sub-block 2g+1, each with its own 6-bit scale and min.
inline void decode(const block_q4_K& b, float* y) {
  const float d = half_to_float(b.d);
  const float dmin = half_to_float(b.dmin);
  for (int g = 0; g < 4; ++g) {
    uint8_t sc0, m0, sc1, m1;
    get_scale_min_k4(2 * g, b.scales, &sc0, &m0);
    get_scale_min_k4(2 * g + 1, b.scales, &sc1, &m1);
    const float d0 = d * sc0, min0 = dmin * m0, d1 = d * sc1, min1 = dmin * m1;
    const uint8_t* q = b.qs + 32 * g;
    float* out = y + 64 * g;
    for (int l = 0; l < 32; ++l) {
      out[l] = d0 * float(q[l] & 0x0F) - min0;
      out[l + 32] = d1 * float(q[l] >> 4) - min1;
    }
  }
}

// Q5_K: as Q4_K, plus a fifth bit per element from qh (bit 2g for the low half of group g,
// bit 2g+1 for the high half).
inline void decode(const block_q5_K& b, float* y) {
  const float d = half_to_float(b.d);
  const float dmin = half_to_float(b.dmin);
  for (int g = 0; g < 4; ++g) {
    uint8_t sc0, m0, sc1, m1;
    get_scale_min_k4(2 * g, b.scales, &sc0, &m0);
    get_scale_min_k4(2 * g + 1, b.scales, &sc1, &m1);
    const float d0 = d * sc0, min0 = dmin * m0, d1 = d * sc1, min1 = dmin * m1;
    const uint8_t* q = b.qs + 32 * g;
    const uint8_t lo_bit = uint8_t(1u << (2 * g)), hi_bit = uint8_t(2u << (2 * g));
    float* out = y + 64 * g;
    for (int l = 0; l < 32; ++l) {
      out[l] = d0 * float((q[l] & 0x0F) + ((b.qh[l] & lo_bit) ? 16 : 0)) - min0;
      out[l + 32] = d1 * float((q[l] >> 4) + ((b.qh[l] & hi_bit) ? 16 : 0)) - min1;
    }
  }
}

// Q6_K: two halves of 128; in each, element l + 32k (k < 4) takes its low four bits from ql
// (nibble k/2 of ql[l + 32(k%2)]) and its high two bits from bits 2k..2k+1 of qh[l], offset -32;
// every 16 elements share one int8 scale.
inline void decode(const block_q6_K& b, float* y) {
  const float d = half_to_float(b.d);
  for (int half = 0; half < 2; ++half) {
    const uint8_t* ql = b.ql + 64 * half;
    const uint8_t* qh = b.qh + 32 * half;
    const int8_t* sc = b.scales + 8 * half;
    float* out = y + 128 * half;
    // One scale per run of 16 elements, so the compiler vectorises each run; the products are
    // the same (d * scale) * q in the same order.
    for (int s = 0; s < 2; ++s) {
      const float d0 = d * float(sc[s + 0]), d1 = d * float(sc[s + 2]);
      const float d2 = d * float(sc[s + 4]), d3 = d * float(sc[s + 6]);
      for (int l = 16 * s; l < 16 * s + 16; ++l) {
        const int q0 = int((ql[l] & 0x0F) | (((qh[l] >> 0) & 3) << 4)) - 32;
        const int q1 = int((ql[l + 32] & 0x0F) | (((qh[l] >> 2) & 3) << 4)) - 32;
        const int q2 = int((ql[l] >> 4) | (((qh[l] >> 4) & 3) << 4)) - 32;
        const int q3 = int((ql[l + 32] >> 4) | (((qh[l] >> 6) & 3) << 4)) - 32;
        out[l] = d0 * float(q0);
        out[l + 32] = d1 * float(q1);
        out[l + 64] = d2 * float(q2);
        out[l + 96] = d3 * float(q3);
      }
    }
  }
}

// --- row functions ---

template <typename Block, int kElems>
void dequantize_blocks(const void* src, float* dst, int64_t n) {
  const Block* blocks = static_cast<const Block*>(src);
  for (int64_t i = 0; i < n / kElems; ++i) decode(blocks[i], dst + i * kElems);
}

template <typename Block, int kElems>
float dot_blocks(const void* row, const float* x, int64_t n) {
  static_assert(kElems % kLanes == 0);
  const Block* blocks = static_cast<const Block*>(row);
  Lanes lanes;
  float tmp[kElems];
  for (int64_t i = 0; i < n / kElems; ++i) {
    decode(blocks[i], tmp);
    lanes.add(tmp, x + i * kElems, kElems);
  }
  return lanes.sum();
}

void dequantize_f32(const void* src, float* dst, int64_t n) {
  std::memcpy(dst, src, size_t(n) * sizeof(float));
}
float dot_f32_row(const void* row, const float* x, int64_t n) {
  return dot_f32(static_cast<const float*>(row), x, n);
}

void dequantize_f16(const void* src, float* dst, int64_t n) {
  half_to_float_row(static_cast<const uint16_t*>(src), dst, n);
}

void dequantize_bf16(const void* src, float* dst, int64_t n) {
  const uint16_t* s = static_cast<const uint16_t*>(src);
  for (int64_t i = 0; i < n; ++i) dst[i] = bits_to_float(uint32_t(s[i]) << 16);
}

// Plain 16-bit types: decode 256 elements at a time, then the common lane order.
template <DequantizeFn kDecode>
float dot_16bit(const void* row, const float* x, int64_t n) {
  constexpr int64_t kChunk = 256;
  const uint16_t* r = static_cast<const uint16_t*>(row);
  Lanes lanes;
  float tmp[kChunk];
  for (int64_t j = 0; j < n; j += kChunk) {
    const int64_t m = n - j < kChunk ? n - j : kChunk;
    kDecode(r + j, tmp, m);
    lanes.add(tmp, x + j, m);
  }
  return lanes.sum();
}

constexpr std::array<RowCodec, 10> kCodecs = {{
    {DType::F32, dequantize_f32, dot_f32_row},
    {DType::F16, dequantize_f16, dot_16bit<dequantize_f16>},
    {DType::BF16, dequantize_bf16, dot_16bit<dequantize_bf16>},
    {DType::Q8_0, dequantize_blocks<block_q8_0, QK8_0>, dot_blocks<block_q8_0, QK8_0>},
    {DType::Q4_0, dequantize_blocks<block_q4_0, QK4_0>, dot_blocks<block_q4_0, QK4_0>},
    {DType::Q4_1, dequantize_blocks<block_q4_1, QK4_1>, dot_blocks<block_q4_1, QK4_1>},
    {DType::Q5_0, dequantize_blocks<block_q5_0, QK5_0>, dot_blocks<block_q5_0, QK5_0>},
    {DType::Q4_K, dequantize_blocks<block_q4_K, QK_K>, dot_blocks<block_q4_K, QK_K>},
    {DType::Q5_K, dequantize_blocks<block_q5_K, QK_K>, dot_blocks<block_q5_K, QK_K>},
    {DType::Q6_K, dequantize_blocks<block_q6_K, QK_K>, dot_blocks<block_q6_K, QK_K>},
}};

constexpr std::array<DType, kCodecs.size()> kWeightTypes = [] {
  std::array<DType, kCodecs.size()> types{};
  for (size_t i = 0; i < kCodecs.size(); ++i) types[i] = kCodecs[i].type;
  return types;
}();

}  // namespace

std::span<const DType> forward_weight_types() {
  return kWeightTypes;
}

bool is_forward_weight_type(DType t) {
  for (DType w : kWeightTypes)
    if (w == t) return true;
  return false;
}

bool is_block_weight_type(DType t) {
  const DTypeInfo* info = dtype_info(t);
  return is_forward_weight_type(t) && info && info->block_elems > 1;
}

const RowCodec& row_codec(DType t) {
  for (const RowCodec& c : kCodecs)
    if (c.type == t) return c;
  raise(ErrorCode::Unsupported, "no forward kernels for weight type " + std::string(dtype_name(t)) +
                                    " (id " + std::to_string(uint32_t(t)) + ")");
}

float dot_f32(const float* a, const float* b, int64_t n) {
  Lanes lanes;
  lanes.add(a, b, n);
  return lanes.sum();
}

void half_to_float_row(const uint16_t* src, float* dst, int64_t n) {
  for (int64_t i = 0; i < n; ++i) dst[i] = half_to_float_branchless(src[i]);
}

}  // namespace stagefence::kernels
