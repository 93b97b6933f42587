// IEEE half to float for the block scales of the SIMD kernels: exact for every half value and
// branch-free (the exponent and mantissa moved into float position and rebiased by a
// multiplication with 2^112, exact for normals and subnormals; inf and NaN set apart).
#pragma once
#include <cstdint>
#include <cstring>

namespace stagefence::kernels::cpu::simd {

inline float half_scale(uint16_t h) {
  const uint32_t magnitude = uint32_t(h & 0x7fffu) << 13;
  float f;
  std::memcpy(&f, &magnitude, 4);
  f *= 0x1p112f;
  uint32_t bits;
  std::memcpy(&bits, &f, 4);
  if ((h & 0x7c00u) == 0x7c00u) bits = magnitude | 0x7f800000u;
  bits |= uint32_t(h & 0x8000u) << 16;
  std::memcpy(&f, &bits, 4);
  return f;
}

// The half stored (little-endian) at p.
inline float half_scale_at(const uint8_t* p) {
  uint16_t h;
  std::memcpy(&h, p, 2);
  return half_scale(h);
}

}  // namespace stagefence::kernels::cpu::simd
