// The value function of the hash initialiser: every element of a tensor is a pure function of
// the tensor's key and the element's index, built from 32-bit integer hashing, so that the CPU
// and CUDA kernels (and bench/torch_decode.py, in torch int64 ops) produce the same bits.
// Usable from host code and CUDA device code alike.
#pragma once
#include <cstdint>

#include "kernels/quant_blocks.hpp"
#include "stagefence/kernel_args.hpp"  // SF_HD

namespace stagefence::llama::device_init {

// Both multipliers are below 2^31, so the product with a 32-bit value fits a signed 64-bit
// integer exactly (the torch port computes in int64 and masks to 32 bits).
inline constexpr uint32_t kMul1 = 0x7feb352du;
inline constexpr uint32_t kMul2 = 0x1b873593u;

SF_HD uint32_t mix32(uint32_t x) {
  x ^= x >> 16;
  x *= kMul1;
  x ^= x >> 15;
  x *= kMul2;
  x ^= x >> 16;
  return x;
}

// The 32 random bits of element `index` of the tensor keyed (key_a, key_b).
SF_HD uint32_t element_hash(uint32_t key_a, uint32_t key_b, uint32_t index) {
  return mix32(mix32(index ^ key_a) + key_b);
}

// A signed draw in [-32768, 32767] from the high half of the hash.
SF_HD int32_t draw16(uint32_t h) {
  return int32_t(h >> 16) - 32768;
}
// A q8_0 quant in [-127, 127].
SF_HD int32_t draw_q8(uint32_t h) {
  return int32_t((h >> 16) % 255u) - 127;
}
// A q4_0 nibble in [0, 15] (the weight is (q - 8) * d).
SF_HD uint32_t draw_q4(uint32_t h) {
  return h >> 28;
}

// (draw16 + offset) * scale with exactly one f32 rounding: draw16 + offset is an integer below
// 2^24 (exact in f32) and the product is never fused with anything.
SF_HD float element_value(uint32_t h, int32_t offset, float scale) {
#if defined(__CUDA_ARCH__)
  return __fmul_rn(float(draw16(h) + offset), scale);
#else
  return float(draw16(h) + offset) * scale;
#endif
}

// The encodings the initialiser writes. A unit is one element, or one 32-weight block.
enum class HashFormat : uint32_t { F32 = 0, F16 = 1, BF16 = 2, Q8_0 = 3, Q4_0 = 4 };

// Writes unit `unit` of `out` (an array of `format`). Plain formats hold element_value(...);
// a block gets the scale bits `block_d` and quants drawn from the hashes of its 32 elements
// (q4_0: low nibbles are elements 0-15 of the block, high nibbles 16-31).
SF_HD void write_hashed_unit(void* out, uint64_t unit, HashFormat format, uint32_t key_a,
                             uint32_t key_b, float scale, int32_t offset, uint16_t block_d) {
  switch (format) {
    case HashFormat::F32:
      static_cast<float*>(out)[unit] =
          element_value(element_hash(key_a, key_b, uint32_t(unit)), offset, scale);
      return;
    case HashFormat::F16:
      static_cast<uint16_t*>(out)[unit] = quant::float_to_half(
          element_value(element_hash(key_a, key_b, uint32_t(unit)), offset, scale));
      return;
    case HashFormat::BF16:
      static_cast<uint16_t*>(out)[unit] = quant::float_to_bf16(
          element_value(element_hash(key_a, key_b, uint32_t(unit)), offset, scale));
      return;
    case HashFormat::Q8_0: {
      quant::block_q8_0* b = static_cast<quant::block_q8_0*>(out) + unit;
      b->d = block_d;
      const uint32_t first = uint32_t(unit * quant::QK8_0);
      for (int j = 0; j < quant::QK8_0; ++j)
        b->qs[j] = int8_t(draw_q8(element_hash(key_a, key_b, first + uint32_t(j))));
      return;
    }
    case HashFormat::Q4_0: {
      quant::block_q4_0* b = static_cast<quant::block_q4_0*>(out) + unit;
      b->d = block_d;
      const uint32_t first = uint32_t(unit * quant::QK4_0);
      constexpr int kHalf = quant::QK4_0 / 2;
      for (int j = 0; j < kHalf; ++j) {
        const uint32_t lo = draw_q4(element_hash(key_a, key_b, first + uint32_t(j)));
        const uint32_t hi = draw_q4(element_hash(key_a, key_b, first + uint32_t(j + kHalf)));
        b->qs[j] = uint8_t(lo | (hi << 4));
      }
      return;
    }
  }
}

// Element (pos, h, d) of the f16 cache [kv_heads, capacity, head_dim] has hash index
// (pos * kv_heads + h) * head_dim + d: the values do not depend on the capacity.
SF_HD uint32_t kv_hash_index(uint32_t pos, uint32_t head, uint32_t dim, uint32_t kv_heads,
                             uint32_t head_dim) {
  return (pos * kv_heads + head) * head_dim + dim;
}

}  // namespace stagefence::llama::device_init
