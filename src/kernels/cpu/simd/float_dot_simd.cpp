// SIMD form of dequant.hpp's dots of a weight row with f32 x, for every forward weight type:
// the row is decoded exactly as dequant.cpp decodes it, element j goes to
// lane j mod 16, each lane adds a[j]·x[j] (multiply, then add: no fused multiply-add), and the
// 16 lanes are summed pairwise at the end, so every target gives the scalar definition's bits.
#include <cstdint>
#include <cstring>
#include <type_traits>

#include "kernels/cpu/simd/half_scale.hpp"
#include "kernels/cpu/simd/simd.hpp"
#include "kernels/cpu/simd/simd_target.hpp"
#include "kernels/dequant.hpp"
#include "kernels/quant_blocks.hpp"

#undef HWY_TARGET_INCLUDE
#define HWY_TARGET_INCLUDE "kernels/cpu/simd/float_dot_simd.cpp"
#include <hwy/cache_control.h>
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
  alignas(64) float s[N >= 4 ? 4 * N : kLanes] = {};  // every lane is stored below
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

// A block-quantised row against f32 x: each block decoded exactly as dequant.cpp decodes it
// (Q8_0, Q4_0, Q4_1 and the K-quants in vectors, multiply then add; Q5_0 by dequant.cpp itself),
// then its elements go to lanes j mod 16 like every other row (blocks are multiples of 16).
struct Accumulator16 {
  VF s0, s1, s2, s3;
  float lanes[kLanes] = {};  // the one-lane fallback's accumulators

  HWY_INLINE Accumulator16()
      : s0(hn::Zero(DF())), s1(hn::Zero(DF())), s2(hn::Zero(DF())), s3(hn::Zero(DF())) {}

  // Adds a run of 16 consecutive elements, value(o) giving elements [o, o + N) of the run (a
  // vector target: N >= 4): lane l gets element l of the run.
  template <class Value>
  HWY_INLINE void add_run(const Value& value, const float* x) {
    constexpr size_t N = hn::MaxLanes(DF());
    const DF d;
    s0 = hn::Add(s0, hn::Mul(value(0), hn::LoadU(d, x)));
    if constexpr (N <= 8) s1 = hn::Add(s1, hn::Mul(value(N), hn::LoadU(d, x + N)));
    if constexpr (N <= 4) {
      s2 = hn::Add(s2, hn::Mul(value(2 * N), hn::LoadU(d, x + 2 * N)));
      s3 = hn::Add(s3, hn::Mul(value(3 * N), hn::LoadU(d, x + 3 * N)));
    }
  }

  HWY_INLINE void add16(const float* a, const float* x) {
    if constexpr (hn::MaxLanes(DF()) < 4) {
      for (size_t l = 0; l < kLanes; ++l) lanes[l] += a[l] * x[l];
    } else {
      add_run([&](size_t o) { return hn::LoadU(DF(), a + o); }, x);
    }
  }

  HWY_INLINE float sum() {
    constexpr size_t N = hn::MaxLanes(DF());
    if constexpr (N >= 4) {
      const DF d;
      alignas(64) float s[4 * N];
      hn::Store(s0, d, s);
      if constexpr (N <= 8) hn::Store(s1, d, s + N);
      if constexpr (N <= 4) {
        hn::Store(s2, d, s + 2 * N);
        hn::Store(s3, d, s + 3 * N);
      }
      for (size_t l = 0; l < kLanes; ++l) lanes[l] = s[l];
    }
    for (size_t width = kLanes / 2; width >= 1; width /= 2)
      for (size_t l = 0; l < width; ++l) lanes[l] += lanes[l + width];
    return lanes[0];
  }
};

// Weights [k, k + N) of a Q8_0 / Q4_0 / Q4_1 block, decoded as dequant.cpp does (k a multiple
// of N, so a chunk never crosses the block's two nibble halves).
template <DType t>
HWY_INLINE VF decode_chunk(const uint8_t* b, size_t k, VF scale, VF minimum) {
  const DF d;
  const hn::Rebind<int32_t, DF> di;
  if constexpr (t == DType::Q8_0) {
    const hn::Rebind<int8_t, DF> di8;
    const auto* q = reinterpret_cast<const int8_t*>(b + 2);
    return hn::Mul(hn::ConvertTo(d, hn::PromoteTo(di, hn::LoadU(di8, q + k))), scale);
  }
  const hn::Rebind<uint8_t, DF> du8;
  const uint8_t* qs = b + (t == DType::Q4_1 ? 4 : 2);
  const auto bytes = hn::BitCast(
      di, hn::PromoteTo(hn::RebindToUnsigned<decltype(di)>(), hn::LoadU(du8, qs + (k & 15))));
  auto q = k < 16 ? hn::And(bytes, hn::Set(di, 15)) : hn::ShiftRight<4>(bytes);
  if constexpr (t == DType::Q4_1) {
    return hn::Add(hn::Mul(hn::ConvertTo(d, q), scale), minimum);
  } else {
    return hn::Mul(hn::ConvertTo(d, hn::Sub(q, hn::Set(di, 8))), scale);
  }
}

// Q8_0, Q4_0 and Q4_1 rows: decoded straight into the 16 lane accumulators.
template <DType t>
HWY_INLINE float dot_small_blocks(const uint8_t* row, const float* x, int64_t n) {
  Accumulator16 acc;
  const DF d;
  const int64_t bytes = t == DType::Q8_0 ? 34 : t == DType::Q4_0 ? 18 : 20;
  for (int64_t blk = 0; blk < n / 32; ++blk) {
    const uint8_t* b = row + blk * bytes;
    const float* xb = x + 32 * blk;
    uint16_t h[2];
    std::memcpy(h, b, 4);
    const VF scale = hn::Set(d, half_scale(h[0]));
    const VF minimum = hn::Set(d, t == DType::Q4_1 ? half_scale(h[1]) : 0.0f);
    for (size_t k = 0; k < 32; k += kLanes)
      acc.add_run([&](size_t o) { return decode_chunk<t>(b, k + o, scale, minimum); }, xb + k);
  }
  return acc.sum();
}

// N bytes at p as int32 lanes.
HWY_INLINE hn::Vec<hn::Rebind<int32_t, DF>> bytes_at(const uint8_t* p) {
  const hn::Rebind<int32_t, DF> di;
  const hn::Rebind<uint8_t, DF> du8;
  return hn::BitCast(di, hn::PromoteTo(hn::RebindToUnsigned<decltype(di)>(), hn::LoadU(du8, p)));
}

// K-quant rows, decoded run by run of 16 elements in element order, each value computed as
// dequant.cpp computes it: Q4_K/Q5_K d·sc·q − dmin·m, Q6_K (d·sc)·(q − 32).
template <DType t>
HWY_INLINE float dot_k_blocks(const uint8_t* row, const float* x, int64_t n) {
  const DF d;
  const hn::Rebind<int32_t, DF> di;
  Accumulator16 acc;
  for (int64_t blk = 0; blk < n / quant::QK_K; ++blk) {
    const float* xb = x + quant::QK_K * blk;
    if constexpr (t == DType::Q6_K) {
      quant::block_q6_K b;
      std::memcpy(&b, row + blk * int64_t(sizeof b), sizeof b);
      const float dd = half_scale(b.d);
      for (int half = 0; half < 2; ++half) {
        const uint8_t* ql = b.ql + 64 * half;
        const uint8_t* qh = b.qh + 32 * half;
        const int8_t* sc = b.scales + 8 * half;
        for (int k = 0; k < 4; ++k) {
          for (int s = 0; s < 2; ++s) {
            const VF scale = hn::Set(d, dd * float(sc[s + 2 * k]));
            const int l0 = 16 * s;
            acc.add_run(
                [&](size_t o) {
                  const auto lb = bytes_at(ql + l0 + int(o) + 32 * (k & 1));
                  const auto lo = k < 2 ? hn::And(lb, hn::Set(di, 15)) : hn::ShiftRight<4>(lb);
                  const auto hb = hn::And(hn::ShiftRightSame(bytes_at(qh + l0 + int(o)), 2 * k),
                                          hn::Set(di, 3));
                  const auto q = hn::Sub(hn::Or(lo, hn::ShiftLeft<4>(hb)), hn::Set(di, 32));
                  return hn::Mul(scale, hn::ConvertTo(d, q));
                },
                xb + 128 * half + 32 * k + l0);
          }
        }
      }
    } else {
      constexpr bool kFive = t == DType::Q5_K;
      using Block = std::conditional_t<kFive, quant::block_q5_K, quant::block_q4_K>;
      Block b;
      std::memcpy(&b, row + blk * int64_t(sizeof b), sizeof b);
      const float dd = half_scale(b.d), dmin = half_scale(b.dmin);
      for (int g = 0; g < 4; ++g) {
        for (int nib = 0; nib < 2; ++nib) {
          uint8_t sc, m;
          quant::get_scale_min_k4(2 * g + nib, b.scales, &sc, &m);
          const VF scale = hn::Set(d, dd * sc), minimum = hn::Set(d, dmin * m);
          const uint8_t* q = b.qs + 32 * g;
          for (int s = 0; s < 2; ++s) {
            const int l0 = 16 * s;
            acc.add_run(
                [&](size_t o) {
                  const auto qb = bytes_at(q + l0 + int(o));
                  auto v = nib == 0 ? hn::And(qb, hn::Set(di, 15)) : hn::ShiftRight<4>(qb);
                  if constexpr (kFive) {
                    const auto bit =
                        hn::And(hn::ShiftRightSame(bytes_at(b.qh + l0 + int(o)), 2 * g + nib),
                                hn::Set(di, 1));
                    v = hn::Add(v, hn::ShiftLeft<4>(bit));
                  }
                  return hn::Sub(hn::Mul(scale, hn::ConvertTo(d, v)), minimum);
                },
                xb + 64 * g + 32 * nib + l0);
          }
        }
      }
    }
  }
  return acc.sum();
}

float DotBlocks(DType t, const uint8_t* row, const float* x, int64_t n) {
  Accumulator16 acc;
  if constexpr (hn::MaxLanes(DF()) >= 4) {
    if (t == DType::Q8_0) return dot_small_blocks<DType::Q8_0>(row, x, n);
    if (t == DType::Q4_0) return dot_small_blocks<DType::Q4_0>(row, x, n);
    if (t == DType::Q4_1) return dot_small_blocks<DType::Q4_1>(row, x, n);
    if (t == DType::Q4_K) return dot_k_blocks<DType::Q4_K>(row, x, n);
    if (t == DType::Q5_K) return dot_k_blocks<DType::Q5_K>(row, x, n);
    if (t == DType::Q6_K) return dot_k_blocks<DType::Q6_K>(row, x, n);
  }
  alignas(64) float tmp[256];
  const int64_t elems =
      t == DType::Q5_0 || t == DType::Q8_0 || t == DType::Q4_0 || t == DType::Q4_1 ? 32 : 256;
  const uint64_t bytes = dtype_bytes(t, uint64_t(elems));
  const DequantizeFn decode = row_codec(t).dequantize;
  for (int64_t b = 0; b < n / elems; ++b) {
    decode(row + uint64_t(b) * bytes, tmp, elems);
    for (int64_t k = 0; k < elems; k += int64_t(kLanes)) acc.add16(tmp + k, x + elems * b + k);
  }
  return acc.sum();
}

// ---- Several rows per pass (the logits head's matvec) ----
// Each row's block is first decoded into integer codes (int8, one per element) and per-16-element
// float scale and minimum, with byte-wide vector operations; then every run of 16 elements
// loads x once and, for each row, converts its codes, scales them and adds code·scale·x into that
// row's own 16 lane accumulators. Each value is computed with the operations, in the order, of
// the single-row decoders above (the code as an exact small integer, then Mul by the scale,
// then Add / Sub of the minimum), and each row's lanes receive the same values in the same
// element order, so every row's result has the single-row dot's bits.
enum class MinOp { kNone, kAdd, kSub };

template <DType t>
constexpr int64_t block_elems() {
  return t == DType::Q8_0 || t == DType::Q4_0 || t == DType::Q4_1 ? 32 : int64_t(quant::QK_K);
}
template <DType t>
constexpr int64_t block_bytes() {
  return t == DType::Q8_0   ? 34
         : t == DType::Q4_0 ? 18
         : t == DType::Q4_1 ? 20
         : t == DType::Q4_K ? 144
         : t == DType::Q5_K ? 176
                            : 210;
}
template <DType t>
constexpr MinOp min_op() {
  return t == DType::Q4_1                         ? MinOp::kAdd
         : (t == DType::Q4_K || t == DType::Q5_K) ? MinOp::kSub
                                                  : MinOp::kNone;
}

// One row's decoded block: codes[e] (the exact integer the single-row decoder converts) and,
// per run of 16 elements, scale and minimum.
struct Staged {
  alignas(64) int8_t codes[quant::QK_K];
  float scale[quant::QK_K / 16];
  float minimum[quant::QK_K / 16];
  const int8_t* q;  // codes, or (Q8_0) the block's own bytes
};

using D8 = hn::CappedTag<uint8_t, 32>;

template <DType t>
HWY_INLINE void stage_block(const uint8_t* b, Staged& st) {
  const D8 d8;
  const size_t L = hn::Lanes(d8);
  const auto m15 = hn::Set(d8, 15);
  if constexpr (t == DType::Q8_0) {
    const float s = half_scale_at(b);
    st.scale[0] = st.scale[1] = s;
    st.q = reinterpret_cast<const int8_t*>(b + 2);
  } else if constexpr (t == DType::Q4_0 || t == DType::Q4_1) {
    const float s = half_scale_at(b);
    st.scale[0] = st.scale[1] = s;
    if constexpr (t == DType::Q4_1) st.minimum[0] = st.minimum[1] = half_scale_at(b + 2);
    const uint8_t* qs = b + (t == DType::Q4_1 ? 4 : 2);
    const hn::CappedTag<uint8_t, 16> d16;
    for (size_t c = 0; c < 16; c += hn::Lanes(d16)) {
      const auto v = hn::LoadU(d16, qs + c);
      auto lo = hn::And(v, hn::Set(d16, 15));
      auto hi = hn::ShiftRight<4>(v);
      if constexpr (t == DType::Q4_0) {
        lo = hn::Sub(lo, hn::Set(d16, 8));  // wraps to the int8 code q - 8
        hi = hn::Sub(hi, hn::Set(d16, 8));
      }
      hn::StoreU(lo, d16, reinterpret_cast<uint8_t*>(st.codes) + c);
      hn::StoreU(hi, d16, reinterpret_cast<uint8_t*>(st.codes) + 16 + c);
    }
    st.q = st.codes;
  } else if constexpr (t == DType::Q6_K) {
    const float dd = half_scale_at(b + 208);
    const auto* sc = reinterpret_cast<const int8_t*>(b + 192);
    for (int i = 0; i < 16; ++i) st.scale[i] = dd * float(sc[i]);
    uint8_t* out = reinterpret_cast<uint8_t*>(st.codes);
    const auto m3 = hn::Set(d8, 3), m12 = hn::Set(d8, 12), m48 = hn::Set(d8, 48),
               m192 = hn::Set(d8, 192), k32 = hn::Set(d8, 32);
    for (int half = 0; half < 2; ++half) {
      const uint8_t* ql = b + 64 * half;
      const uint8_t* qh = b + 128 + 32 * half;
      uint8_t* o = out + 128 * half;
      for (size_t c = 0; c < 32; c += L) {
        const auto a = hn::LoadU(d8, ql + c), a2 = hn::LoadU(d8, ql + 32 + c);
        const auto h = hn::LoadU(d8, qh + c);
        const auto q0 = hn::Or(hn::And(a, m15), hn::ShiftLeft<4>(hn::And(h, m3)));
        const auto q1 = hn::Or(hn::And(a2, m15), hn::ShiftLeft<2>(hn::And(h, m12)));
        const auto q2 = hn::Or(hn::ShiftRight<4>(a), hn::And(h, m48));
        const auto q3 = hn::Or(hn::ShiftRight<4>(a2), hn::ShiftRight<2>(hn::And(h, m192)));
        hn::StoreU(hn::Sub(q0, k32), d8, o + c);  // wraps to the int8 code q - 32
        hn::StoreU(hn::Sub(q1, k32), d8, o + 32 + c);
        hn::StoreU(hn::Sub(q2, k32), d8, o + 64 + c);
        hn::StoreU(hn::Sub(q3, k32), d8, o + 96 + c);
      }
    }
    st.q = st.codes;
  } else {  // Q4_K, Q5_K
    constexpr bool kFive = t == DType::Q5_K;
    const float dd = half_scale_at(b), dmin = half_scale_at(b + 2);
    const uint8_t* scales = b + 4;
    const uint8_t* qh = b + 16;
    const uint8_t* qs = b + (kFive ? 48 : 16);
    uint8_t* out = reinterpret_cast<uint8_t*>(st.codes);
    for (int sub = 0; sub < 8; ++sub) {
      uint8_t sc, m;
      quant::get_scale_min_k4(sub, scales, &sc, &m);
      st.scale[2 * sub] = st.scale[2 * sub + 1] = dd * sc;
      st.minimum[2 * sub] = st.minimum[2 * sub + 1] = dmin * m;
    }
    const auto k16 = hn::Set(d8, 16);
    for (int g = 0; g < 4; ++g) {
      const uint8_t* q = qs + 32 * g;
      uint8_t* o = out + 64 * g;
      for (size_t c = 0; c < 32; c += L) {
        const auto v = hn::LoadU(d8, q + c);
        auto lo = hn::And(v, m15);
        auto hi = hn::ShiftRight<4>(v);
        if constexpr (kFive) {
          const auto h = hn::LoadU(d8, qh + c);
          const auto zero = hn::Zero(d8);
          lo = hn::Or(lo, hn::IfThenElseZero(
                              hn::Ne(hn::And(h, hn::Set(d8, uint8_t(1u << (2 * g)))), zero), k16));
          hi = hn::Or(hi, hn::IfThenElseZero(
                              hn::Ne(hn::And(h, hn::Set(d8, uint8_t(2u << (2 * g)))), zero), k16));
        }
        hn::StoreU(lo, d8, o + c);
        hn::StoreU(hi, d8, o + 32 + c);
      }
    }
    st.q = st.codes;
  }
}

// Elements [e, e + N) of a staged row as the single-row decoder computes them.
template <DType t>
HWY_INLINE VF staged_value(const Staged& st, size_t e) {
  const DF d;
  const hn::Rebind<int32_t, DF> di;
  const hn::Rebind<int8_t, DF> di8;
  const VF q = hn::ConvertTo(d, hn::PromoteTo(di, hn::LoadU(di8, st.q + e)));
  const VF v = hn::Mul(q, hn::Set(d, st.scale[e / 16]));
  if constexpr (min_op<t>() == MinOp::kAdd) return hn::Add(v, hn::Set(d, st.minimum[e / 16]));
  if constexpr (min_op<t>() == MinOp::kSub) return hn::Sub(v, hn::Set(d, st.minimum[e / 16]));
  return v;
}

template <DType t, int R>
HWY_INLINE void dot_blocks_rows(const uint8_t* const* rows, const float* x, int64_t n, float* out) {
  constexpr int64_t E = block_elems<t>(), B = block_bytes<t>();
  constexpr size_t N = hn::MaxLanes(DF());
  const DF d;
  VF s0[R], s1[R], s2[R], s3[R];  // each row's Accumulator16 lanes, kept in registers
  for (int r = 0; r < R; ++r) s0[r] = s1[r] = s2[r] = s3[r] = hn::Zero(d);
  Staged st[R];
  for (int64_t blk = 0; blk < n / E; ++blk) {
    for (int r = 0; r < R; ++r) {
      const uint8_t* b = rows[r] + blk * B;
      hwy::Prefetch(b + 512);  // a few blocks on (a hint: never faults past the end)
      stage_block<t>(b, st[r]);
    }
    const float* xb = x + E * blk;
    for (size_t e = 0; e < size_t(E); e += kLanes) {
      const VF x0 = hn::LoadU(d, xb + e);
      VF x1 = x0, x2 = x0, x3 = x0;
      if constexpr (N <= 8) x1 = hn::LoadU(d, xb + e + N);
      if constexpr (N <= 4) {
        x2 = hn::LoadU(d, xb + e + 2 * N);
        x3 = hn::LoadU(d, xb + e + 3 * N);
      }
      for (int r = 0; r < R; ++r) {
        s0[r] = hn::Add(s0[r], hn::Mul(staged_value<t>(st[r], e), x0));
        if constexpr (N <= 8) s1[r] = hn::Add(s1[r], hn::Mul(staged_value<t>(st[r], e + N), x1));
        if constexpr (N <= 4) {
          s2[r] = hn::Add(s2[r], hn::Mul(staged_value<t>(st[r], e + 2 * N), x2));
          s3[r] = hn::Add(s3[r], hn::Mul(staged_value<t>(st[r], e + 3 * N), x3));
        }
      }
    }
  }
  for (int r = 0; r < R; ++r) {
    Accumulator16 acc;
    acc.s0 = s0[r];
    acc.s1 = s1[r];
    acc.s2 = s2[r];
    acc.s3 = s3[r];
    out[r] = acc.sum();
  }
}

template <DType t>
HWY_INLINE void dot_blocks_all(const uint8_t* const* rows, int64_t count, const float* x, int64_t n,
                               float* out) {
  constexpr int kRows = 4;
  int64_t i = 0;
  for (; i + kRows <= count; i += kRows) dot_blocks_rows<t, kRows>(rows + i, x, n, out + i);
  for (; i < count; ++i) dot_blocks_rows<t, 1>(rows + i, x, n, out + i);
}

void DotBlocksRows(DType t, const uint8_t* const* rows, int64_t count, const float* x, int64_t n,
                   float* out) {
  if constexpr (hn::MaxLanes(DF()) >= 4) {
    if (t == DType::Q8_0) return dot_blocks_all<DType::Q8_0>(rows, count, x, n, out);
    if (t == DType::Q4_0) return dot_blocks_all<DType::Q4_0>(rows, count, x, n, out);
    if (t == DType::Q4_1) return dot_blocks_all<DType::Q4_1>(rows, count, x, n, out);
    if (t == DType::Q4_K) return dot_blocks_all<DType::Q4_K>(rows, count, x, n, out);
    if (t == DType::Q5_K) return dot_blocks_all<DType::Q5_K>(rows, count, x, n, out);
    if (t == DType::Q6_K) return dot_blocks_all<DType::Q6_K>(rows, count, x, n, out);
  }
  for (int64_t i = 0; i < count; ++i) out[i] = DotBlocks(t, rows[i], x, n);
}

}  // namespace HWY_NAMESPACE
}  // namespace stagefence::kernels::cpu::simd
HWY_AFTER_NAMESPACE();

#if HWY_ONCE
namespace stagefence::kernels::cpu::simd {

HWY_EXPORT(DotF32);
HWY_EXPORT(DotF16);
HWY_EXPORT(DotBF16);
HWY_EXPORT(DotBlocks);
HWY_EXPORT(DotBlocksRows);

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
template <DType kType>
float row_blocks(const void* r, const float* x, int64_t n) {
  active_target();
  return HWY_DYNAMIC_DISPATCH(DotBlocks)(kType, static_cast<const uint8_t*>(r), x, n);
}
}  // namespace

void row_dots(DType t, const uint8_t* const* rows, int64_t count, const float* x, int64_t n,
              float* out) {
  if (is_block_weight_type(t)) {
    active_target();
    return HWY_DYNAMIC_DISPATCH(DotBlocksRows)(t, rows, count, x, n, out);
  }
  const FloatDotFn fn = row_dot(t);
  for (int64_t i = 0; i < count; ++i) out[i] = fn(rows[i], x, n);
}

FloatDotFn row_dot(DType t) {
  switch (t) {
    case DType::F32:
      return row_f32;
    case DType::F16:
      return row_f16;
    case DType::BF16:
      return row_bf16;
    case DType::Q8_0:
      return row_blocks<DType::Q8_0>;
    case DType::Q4_0:
      return row_blocks<DType::Q4_0>;
    case DType::Q4_1:
      return row_blocks<DType::Q4_1>;
    case DType::Q5_0:
      return row_blocks<DType::Q5_0>;
    case DType::Q4_K:
      return row_blocks<DType::Q4_K>;
    case DType::Q5_K:
      return row_blocks<DType::Q5_K>;
    case DType::Q6_K:
      return row_blocks<DType::Q6_K>;
    default:
      return nullptr;
  }
}

}  // namespace stagefence::kernels::cpu::simd
#endif  // HWY_ONCE
