// SIMD form of dequant.hpp's float dots (f32, f16, bf16 rows against f32 x): element j goes to
// lane j mod 16, each lane adds a[j]·x[j] (multiply, then add: no fused multiply-add), and the
// 16 lanes are summed pairwise at the end, so every target gives the scalar definition's bits.
#include <cstring>

#include "kernels/cpu/simd/simd.hpp"
#include "kernels/cpu/simd/simd_target.hpp"
#include "kernels/quant_blocks.hpp"

#undef HWY_TARGET_INCLUDE
#define HWY_TARGET_INCLUDE "kernels/cpu/simd/float_dot_simd.cpp"
#include <hwy/foreach_target.h>  // IWYU pragma: keep
#include <hwy/highway.h>

HWY_BEFORE_NAMESPACE();
namespace stagefence::kernels::cpu::simd {
namespace HWY_NAMESPACE {
namespace hn = hwy::HWY_NAMESPACE;

constexpr size_t kLanes = 16;
using DF = hn::CappedTag<float, kLanes>;
using VF = hn::Vec<DF>;

// Loads 16 consecutive elements of a row as four groups of floats (unused groups stay empty
// when a vector holds 8 or 16 lanes).
struct F32Source {
  const float* p;
  HWY_INLINE VF load(size_t j) const { return hn::LoadU(DF(), p + j); }
  HWY_INLINE float at(size_t j) const { return p[j]; }
};

struct F16Source {
  const uint16_t* p;
  HWY_INLINE VF load(size_t j) const {
    const hn::Rebind<hwy::float16_t, DF> dh;
    return hn::PromoteTo(DF(), hn::LoadU(dh, reinterpret_cast<const hwy::float16_t*>(p + j)));
  }
  HWY_INLINE float at(size_t j) const { return quant::half_to_float(p[j]); }
};

struct BF16Source {
  const uint16_t* p;
  HWY_INLINE VF load(size_t j) const {
    const hn::RebindToUnsigned<DF> du;
    const hn::Rebind<uint16_t, DF> d16;
    return hn::BitCast(DF(), hn::ShiftLeft<16>(hn::PromoteTo(du, hn::LoadU(d16, p + j))));
  }
  HWY_INLINE float at(size_t j) const {
    const uint32_t bits = uint32_t(p[j]) << 16;
    float f;
    std::memcpy(&f, &bits, 4);
    return f;
  }
};

template <class Src>
HWY_INLINE float dot16(Src a, const float* x, int64_t n) {
  const DF d;
  constexpr size_t N = hn::MaxLanes(DF());
  static_assert(kLanes % N == 0, "16 lanes in whole vectors");
  if constexpr (N < 4) {  // the one-lane fallback: the 16 lanes one by one
    float s[kLanes] = {};
    int64_t j = 0;
    for (; j + int64_t(kLanes) <= n; j += int64_t(kLanes))
      for (size_t l = 0; l < kLanes; ++l) s[l] += a.at(size_t(j) + l) * x[size_t(j) + l];
    for (size_t l = 0; j + int64_t(l) < n; ++l) s[l] += a.at(size_t(j) + l) * x[size_t(j) + l];
    for (size_t width = kLanes / 2; width >= 1; width /= 2)
      for (size_t l = 0; l < width; ++l) s[l] += s[l + width];
    return s[0];
  }
  VF s0 = hn::Zero(d), s1 = hn::Zero(d), s2 = hn::Zero(d), s3 = hn::Zero(d);
  const size_t full = size_t(n) / kLanes * kLanes;
  for (size_t j = 0; j < full; j += kLanes) {
    s0 = hn::Add(s0, hn::Mul(a.load(j), hn::LoadU(d, x + j)));
    if constexpr (N <= 8) s1 = hn::Add(s1, hn::Mul(a.load(j + N), hn::LoadU(d, x + j + N)));
    if constexpr (N <= 4) {
      s2 = hn::Add(s2, hn::Mul(a.load(j + 2 * N), hn::LoadU(d, x + j + 2 * N)));
      s3 = hn::Add(s3, hn::Mul(a.load(j + 3 * N), hn::LoadU(d, x + j + 3 * N)));
    }
  }
  alignas(64) float s[N >= 4 ? 4 * N : kLanes];
  hn::Store(s0, d, s);
  if constexpr (N <= 8) hn::Store(s1, d, s + N);
  if constexpr (N <= 4) {
    hn::Store(s2, d, s + 2 * N);
    hn::Store(s3, d, s + 3 * N);
  }
  for (size_t l = 0; full + l < size_t(n); ++l) s[l] += a.at(full + l) * x[full + l];
  for (size_t width = kLanes / 2; width >= 1; width /= 2)
    for (size_t l = 0; l < width; ++l) s[l] += s[l + width];
  return s[0];
}

float DotF32(const float* a, const float* x, int64_t n) {
  return dot16(F32Source{a}, x, n);
}
float DotF16(const uint16_t* a, const float* x, int64_t n) {
  return dot16(F16Source{a}, x, n);
}
float DotBF16(const uint16_t* a, const float* x, int64_t n) {
  return dot16(BF16Source{a}, x, n);
}

}  // namespace HWY_NAMESPACE
}  // namespace stagefence::kernels::cpu::simd
HWY_AFTER_NAMESPACE();

#if HWY_ONCE
namespace stagefence::kernels::cpu::simd {

HWY_EXPORT(DotF32);
HWY_EXPORT(DotF16);
HWY_EXPORT(DotBF16);

float dot_f32(const float* a, const float* x, int64_t n) {
  active_target();
  return HWY_DYNAMIC_DISPATCH(DotF32)(a, x, n);
}
float dot_f16(const uint16_t* row, const float* x, int64_t n) {
  active_target();
  return HWY_DYNAMIC_DISPATCH(DotF16)(row, x, n);
}
float dot_bf16(const uint16_t* row, const float* x, int64_t n) {
  active_target();
  return HWY_DYNAMIC_DISPATCH(DotBF16)(row, x, n);
}

namespace {
float row_f32(const void* r, const float* x, int64_t n) {
  return dot_f32(static_cast<const float*>(r), x, n);
}
float row_f16(const void* r, const float* x, int64_t n) {
  return dot_f16(static_cast<const uint16_t*>(r), x, n);
}
float row_bf16(const void* r, const float* x, int64_t n) {
  return dot_bf16(static_cast<const uint16_t*>(r), x, n);
}
}  // namespace

FloatDotFn float_dot(DType t) {
  switch (t) {
    case DType::F32:
      return row_f32;
    case DType::F16:
      return row_f16;
    case DType::BF16:
      return row_bf16;
    default:
      return nullptr;
  }
}

}  // namespace stagefence::kernels::cpu::simd
#endif  // HWY_ONCE
