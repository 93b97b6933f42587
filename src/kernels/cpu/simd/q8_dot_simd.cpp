// SIMD form of q8_dot.cpp: the activation quantiser and the q8 integer dots, for every
// instruction set Highway compiles (foreach_target). Each 32-group's integer sums are computed
// in vectors (exact), then the group's term is scaled and added in q8_dot.cpp's order, so the
// result is bit-identical to the scalar definition on every target.
#include <cmath>
#include <cstdint>
#include <cstring>
#include <string>

#include "kernels/cpu/simd/half_scale.hpp"
#include "kernels/cpu/simd/simd.hpp"
#include "kernels/cpu/simd/simd_target.hpp"
#include "kernels/quant_blocks.hpp"
#include "stagefence/error.hpp"

#undef HWY_TARGET_INCLUDE
#define HWY_TARGET_INCLUDE "kernels/cpu/simd/q8_dot_simd.cpp"
#include <hwy/foreach_target.h>  // IWYU pragma: keep
#include <hwy/highway.h>

HWY_BEFORE_NAMESPACE();
namespace stagefence::kernels::cpu::simd {
namespace HWY_NAMESPACE {
namespace hn = hwy::HWY_NAMESPACE;

// int16 lanes for weights and activations (at most 16, so a chunk never crosses a half of a
// 32-group), and the int32 lanes their products are summed in.
using D16 = hn::CappedTag<int16_t, 16>;
using DU16 = hn::RebindToUnsigned<D16>;
using DU8 = hn::Rebind<uint8_t, D16>;
using DI8 = hn::Rebind<int8_t, D16>;
using D32 = hn::Repartition<int32_t, D16>;
using V16 = hn::Vec<D16>;
using V32 = hn::Vec<D32>;

alignas(32) constexpr uint16_t kLaneBit[16] = {1,   2,   4,    8,    16,   32,   64,    128,
                                               256, 512, 1024, 2048, 4096, 8192, 16384, 32768};

// acc += w·x lane pairs (exact: every product and partial sum fits int32).
HWY_INLINE void mul_add(V16 w, V16 x, V32& acc0, V32& acc1) {
#if HWY_TARGET == HWY_AVX2 || HWY_TARGET == HWY_AVX3 || HWY_TARGET == HWY_AVX3_DL || \
    HWY_TARGET == HWY_NEON
  acc0 = hn::ReorderWidenMulAccumulate(D32(), w, x, acc0, acc1);
#elif HWY_TARGET == HWY_SCALAR
  (void)acc1;
  const hn::Rebind<int32_t, D16> d32;
  acc0 = hn::Add(acc0, hn::Mul(hn::PromoteTo(d32, w), hn::PromoteTo(d32, x)));
#else
  const hn::Half<D16> dh;
  const hn::Rebind<int32_t, decltype(dh)> d32;
  acc0 = hn::Add(acc0, hn::Mul(hn::PromoteTo(d32, hn::LowerHalf(dh, w)),
                               hn::PromoteTo(d32, hn::LowerHalf(dh, x))));
  acc1 = hn::Add(acc1, hn::Mul(hn::PromoteTo(d32, hn::UpperHalf(dh, w)),
                               hn::PromoteTo(d32, hn::UpperHalf(dh, x))));
#endif
}

HWY_INLINE int32_t sum_lanes(V32 a, V32 b) {
  return hn::GetLane(hn::SumOfLanes(D32(), hn::Add(a, b)));
}

HWY_INLINE V16 activations(const int8_t* q) {
  return hn::PromoteTo(D16(), hn::LoadU(DI8(), q));
}

// Bytes [p, p + N) widened to int16 lanes.
HWY_INLINE V16 bytes_u(const uint8_t* p) {
  return hn::BitCast(D16(), hn::PromoteTo(DU16(), hn::LoadU(DU8(), p)));
}

// The products w·q of a 32-group, summed into int32 lanes (not yet across lanes), where w(k)
// gives the weights of lanes [k, k + N).
template <class W>
HWY_INLINE V32 group_products(const int8_t* q, W w) {
  const size_t n = hn::Lanes(D16());
  V32 a0 = hn::Zero(D32()), a1 = hn::Zero(D32());
  for (size_t k = 0; k < 32; k += n) mul_add(w(k), activations(q + k), a0, a1);
  return hn::Add(a0, a1);
}

// Lane pairs of a in the lower half, of b in the upper half (not on the one-lane target).
template <class V>
HWY_INLINE V pair_sums(V a, V b) {
  const hn::DFromV<V> d;  // dependent, so the one-lane target never instantiates it
  return Add(ConcatEven(d, b, a), ConcatOdd(d, b, a));
}

// out[k] = Σ lanes of v[k] for eight vectors, reduced together (a tree of pair sums puts each
// vector's total in lane k) where the vector length allows.
HWY_INLINE void sum_lanes8(const V32* v, int32_t* out) {
#if HWY_TARGET == HWY_SCALAR
  for (int k = 0; k < 8; ++k) out[k] = hn::GetLane(v[k]);
#else
  constexpr size_t N = hn::MaxLanes(D32());
  if constexpr (N == 8) {
    const V32 lo = pair_sums(pair_sums(v[0], v[1]), pair_sums(v[2], v[3]));
    const V32 hi = pair_sums(pair_sums(v[4], v[5]), pair_sums(v[6], v[7]));
    hn::StoreU(pair_sums(lo, hi), D32(), out);
  } else if constexpr (N == 4) {
    hn::StoreU(pair_sums(pair_sums(v[0], v[1]), pair_sums(v[2], v[3])), D32(), out);
    hn::StoreU(pair_sums(pair_sums(v[4], v[5]), pair_sums(v[6], v[7])), D32(), out + 4);
  } else {
    for (int k = 0; k < 8; ++k) out[k] = hn::GetLane(hn::SumOfLanes(D32(), v[k]));
  }
#endif
}

// Σ over a row's groups of term(g, Σ products of g), added in group order; the integer sums of
// eight groups at a time are reduced together.
template <class Products, class Term>
HWY_INLINE float row_sum(int64_t groups, Products products, Term term) {
  float acc = 0.0f;
  int64_t g = 0;
#if !HWY_HAVE_SCALABLE
  V32 v[8];
  alignas(32) int32_t s[8];
  for (; g + 8 <= groups; g += 8) {
    for (int k = 0; k < 8; ++k) v[k] = products(g + k);
    sum_lanes8(v, s);
    for (int k = 0; k < 8; ++k) acc += term(g + k, s[k]);
  }
#endif
  for (; g < groups; ++g) acc += term(g, hn::GetLane(hn::SumOfLanes(D32(), products(g))));
  return acc;
}

// The low (k < 16) or high (k >= 16) nibbles of a 16-byte Q4 payload.
HWY_INLINE V16 nibbles(const uint8_t* qs, size_t k) {
  const V16 b = bytes_u(qs + (k & 15));
  return k < 16 ? hn::And(b, hn::Set(D16(), 15)) : hn::ShiftRight<4>(b);
}

// 16 where bit `lane` of `bits` (a 16-bit word) is set, for lanes [first, first + N).
HWY_INLINE V16 high_bit16(uint16_t bits, size_t first) {
  const auto set = hn::TestBit(hn::Set(DU16(), bits), hn::LoadU(DU16(), kLaneBit + first));
  return hn::IfThenElseZero(hn::RebindMask(D16(), set), hn::Set(D16(), 16));
}

HWY_INLINE float h2f(const uint8_t* p) {
  return half_scale_at(p);
}

// Where the int32 lanes number eight (AVX2, AVX-512 with its 256-bit half), eight groups' terms
// are also scaled in vectors, each lane with the scalar term's operations in the same order;
// only their sum into the row stays serial, in group order.
constexpr bool kVectorTerms =
    HWY_TARGET != HWY_SCALAR && !HWY_HAVE_SCALABLE && hn::MaxLanes(D32()) == 8;
using DF8 = hn::Rebind<float, D32>;
using VF8 = hn::Vec<DF8>;

// The block scales of eight blocks `stride` bytes apart at base (low half: the half at base,
// high half: the half after it) as 32-bit lanes.
HWY_INLINE V32 gather_words(const uint8_t* base, int64_t stride) {
  const V32 offsets = hn::Mul(hn::Iota(D32(), 0), hn::Set(D32(), int32_t(stride)));
  return hn::GatherOffset(D32(), reinterpret_cast<const int32_t*>(base), offsets);
}

// Exact half to float of the low 16 bits of each lane (half_scale.hpp, in vectors).
HWY_INLINE VF8 halves(V32 words) {
  const DF8 df;
  const V32 h = hn::And(words, hn::Set(D32(), 0xffff));
  const V32 magnitude = hn::ShiftLeft<13>(hn::And(h, hn::Set(D32(), 0x7fff)));
  V32 bits = hn::BitCast(D32(), hn::Mul(hn::BitCast(df, magnitude), hn::Set(df, 0x1p112f)));
  const auto special = hn::Eq(hn::And(h, hn::Set(D32(), 0x7c00)), hn::Set(D32(), 0x7c00));
  bits = hn::IfThenElse(special, hn::Or(magnitude, hn::Set(D32(), 0x7f800000)), bits);
  bits = hn::Or(bits, hn::ShiftLeft<16>(hn::And(h, hn::Set(D32(), 0x8000))));
  return hn::BitCast(df, bits);
}

// The activation scales d and sums of blocks [g, g + 8).
HWY_INLINE VF8 act_scales(const ActBlockQ8* x) {
  const V32 index = hn::Mul(hn::Iota(D32(), 0), hn::Set(D32(), int32_t(sizeof(ActBlockQ8) / 4)));
  return hn::GatherIndex(DF8(), &x->d, index);
}
HWY_INLINE V32 act_sums(const ActBlockQ8* x) {
  const V32 index = hn::Mul(hn::Iota(D32(), 0), hn::Set(D32(), int32_t(sizeof(ActBlockQ8) / 4)));
  return hn::GatherIndex(D32(), &x->sum, index);
}

// row_sum with terms8(g, sums of groups [g, g + 8)) giving eight terms at once.
template <class Products, class Terms8, class Term>
HWY_INLINE float row_sum8(int64_t groups, Products products, Terms8 terms8, Term term) {
  if constexpr (!kVectorTerms) {
    return row_sum(groups, products, term);
  } else {
#if !HWY_HAVE_SCALABLE
    float acc = 0.0f;
    int64_t g = 0;
    V32 v[8];
    alignas(32) float t[8];
    for (; g + 8 <= groups; g += 8) {
      for (int k = 0; k < 8; ++k) v[k] = products(g + k);
      const V32 lo = pair_sums(pair_sums(v[0], v[1]), pair_sums(v[2], v[3]));
      const V32 hi = pair_sums(pair_sums(v[4], v[5]), pair_sums(v[6], v[7]));
      hn::Store(terms8(g, pair_sums(lo, hi)), DF8(), t);
      for (int k = 0; k < 8; ++k) acc += t[k];
    }
    for (; g < groups; ++g) acc += term(g, hn::GetLane(hn::SumOfLanes(D32(), products(g))));
    return acc;
#endif
  }
}

float row_q8_0(const uint8_t* row, const ActBlockQ8* x, int64_t groups) {
  return row_sum8(
      groups,
      [&](int64_t g) {
        const auto* qs = reinterpret_cast<const int8_t*>(row + g * 34 + 2);
        return group_products(x[g].q, [&](size_t k) { return activations(qs + k); });
      },
      [&](int64_t g, V32 sums) {
        const VF8 dw = halves(gather_words(row + g * 34, 34));
        return hn::Mul(hn::Mul(dw, act_scales(x + g)), hn::ConvertTo(DF8(), sums));
      },
      [&](int64_t g, int32_t s) { return h2f(row + g * 34) * x[g].d * float(s); });
}

float row_q4_0(const uint8_t* row, const ActBlockQ8* x, int64_t groups) {
  return row_sum8(
      groups,
      [&](int64_t g) {
        const uint8_t* b = row + g * 18;
        return group_products(x[g].q, [&](size_t k) { return nibbles(b + 2, k); });
      },
      [&](int64_t g, V32 sums) {
        const VF8 dw = halves(gather_words(row + g * 18, 18));
        const V32 s = hn::Sub(sums, hn::ShiftLeft<3>(act_sums(x + g)));
        return hn::Mul(hn::Mul(dw, act_scales(x + g)), hn::ConvertTo(DF8(), s));
      },
      [&](int64_t g, int32_t s) { return h2f(row + g * 18) * x[g].d * float(s - 8 * x[g].sum); });
}

float row_q4_1(const uint8_t* row, const ActBlockQ8* x, int64_t groups) {
  return row_sum8(
      groups,
      [&](int64_t g) {
        const uint8_t* b = row + g * 20;
        return group_products(x[g].q, [&](size_t k) { return nibbles(b + 4, k); });
      },
      [&](int64_t g, V32 sums) {
        const V32 words = gather_words(row + g * 20, 20);
        const VF8 dw = halves(words), mw = halves(hn::ShiftRight<16>(words));
        const VF8 dx = act_scales(x + g);
        return hn::Add(hn::Mul(hn::Mul(dw, dx), hn::ConvertTo(DF8(), sums)),
                       hn::Mul(hn::Mul(mw, dx), hn::ConvertTo(DF8(), act_sums(x + g))));
      },
      [&](int64_t g, int32_t s) {
        const uint8_t* b = row + g * 20;
        return h2f(b) * x[g].d * float(s) + h2f(b + 2) * x[g].d * float(x[g].sum);
      });
}

float row_q5_0(const uint8_t* row, const ActBlockQ8* x, int64_t groups) {
  return row_sum8(
      groups,
      [&](int64_t g) {
        const uint8_t* b = row + g * 22;
        uint32_t qh;
        std::memcpy(&qh, b + 2, 4);
        return group_products(x[g].q, [&](size_t k) {
          return hn::Or(nibbles(b + 6, k), high_bit16(uint16_t(qh >> (k & 16)), k & 15));
        });
      },
      [&](int64_t g, V32 sums) {
        const VF8 dw = halves(gather_words(row + g * 22, 22));
        const V32 s = hn::Sub(sums, hn::ShiftLeft<4>(act_sums(x + g)));
        return hn::Mul(hn::Mul(dw, act_scales(x + g)), hn::ConvertTo(DF8(), s));
      },
      [&](int64_t g, int32_t s) { return h2f(row + g * 22) * x[g].d * float(s - 16 * x[g].sum); });
}

// Q4_K and Q5_K: group j of each 256-element super-block.
template <bool kFive>
float row_qk(const uint8_t* row, const ActBlockQ8* x, int64_t groups) {
  constexpr int64_t kBytes = kFive ? 176 : 144;
  return row_sum8(
      groups,
      [&](int64_t g) {
        const uint8_t* b = row + (g / 8) * kBytes;
        const int j = int(g % 8);
        const uint8_t* qs = b + (kFive ? 48 : 16) + 32 * (j / 2);
        return group_products(x[g].q, [&](size_t k) {
          const V16 v = bytes_u(qs + k);
          V16 w = (j & 1) ? hn::ShiftRight<4>(v) : hn::And(v, hn::Set(D16(), 15));
          if constexpr (kFive) {
            const auto bit = hn::TestBit(bytes_u(b + 16 + k), hn::Set(D16(), int16_t(1 << j)));
            w = hn::Or(w, hn::IfThenElseZero(bit, hn::Set(D16(), 16)));
          }
          return w;
        });
      },
      [&](int64_t g, V32 sums) {
        // A batch of eight groups is one super-block (g is a multiple of 8): one d and dmin.
        const uint8_t* b = row + (g / 8) * kBytes;
        alignas(32) int32_t sc[8], m[8];
        for (int j = 0; j < 8; ++j) {
          uint8_t scj, mj;
          quant::get_scale_min_k4(j, b + 4, &scj, &mj);
          sc[j] = scj;
          m[j] = mj;
        }
        const DF8 df;
        const VF8 dx = act_scales(x + g);
        const VF8 scaled = hn::Mul(
            hn::Mul(hn::Mul(hn::Set(df, h2f(b)), hn::ConvertTo(df, hn::Load(D32(), sc))), dx),
            hn::ConvertTo(df, sums));
        const VF8 mins = hn::Mul(
            hn::Mul(hn::Mul(hn::Set(df, h2f(b + 2)), hn::ConvertTo(df, hn::Load(D32(), m))), dx),
            hn::ConvertTo(df, act_sums(x + g)));
        return hn::Sub(scaled, mins);
      },
      [&](int64_t g, int32_t s) {
        const uint8_t* b = row + (g / 8) * kBytes;
        uint8_t sc, m;
        quant::get_scale_min_k4(int(g % 8), b + 4, &sc, &m);
        return h2f(b) * float(sc) * x[g].d * float(s) -
               h2f(b + 2) * float(m) * x[g].d * float(x[g].sum);
      });
}

float row_q6_k(const uint8_t* row, const ActBlockQ8* x, int64_t groups) {
  const size_t n = hn::Lanes(D16());
  float acc = 0.0f;
  for (int64_t g = 0; g < groups; ++g) {
    const uint8_t* b = row + (g / 8) * 210;
    const int j = int(g % 8), h = j / 4, t = j % 4;
    const uint8_t* low = b + 64 * h + 32 * (t & 1);
    const uint8_t* high = b + 128 + 32 * h;
    const int8_t* q = x[g].q;
    int32_t half_sum[2];
    for (int half = 0; half < 2; ++half) {
      V32 a0 = hn::Zero(D32()), a1 = hn::Zero(D32());
      for (size_t k = size_t(16 * half); k < size_t(16 * half + 16); k += n) {
        const V16 lb = bytes_u(low + k);
        const V16 lo = t < 2 ? hn::And(lb, hn::Set(D16(), 15)) : hn::ShiftRight<4>(lb);
        const V16 hi = hn::And(hn::ShiftRightSame(bytes_u(high + k), 2 * t), hn::Set(D16(), 3));
        const V16 w = hn::Sub(hn::Or(lo, hn::ShiftLeft<4>(hi)), hn::Set(D16(), 32));
        mul_add(w, activations(q + k), a0, a1);
      }
      half_sum[half] = sum_lanes(a0, a1);
    }
    const int sa = int8_t(b[192 + 8 * h + 2 * t]), sb = int8_t(b[192 + 8 * h + 2 * t + 1]);
    acc += h2f(b + 208) * x[g].d * float(sa * half_sum[0] + sb * half_sum[1]);
  }
  return acc;
}

float DotQ8Row(DType t, const uint8_t* row, const ActBlockQ8* x, int64_t cols) {
  const int64_t groups = cols / kActBlock;
  switch (t) {
    case DType::Q8_0:
      return row_q8_0(row, x, groups);
    case DType::Q4_0:
      return row_q4_0(row, x, groups);
    case DType::Q4_1:
      return row_q4_1(row, x, groups);
    case DType::Q5_0:
      return row_q5_0(row, x, groups);
    case DType::Q4_K:
      return row_qk<false>(row, x, groups);
    case DType::Q5_K:
      return row_qk<true>(row, x, groups);
    case DType::Q6_K:
      return row_q6_k(row, x, groups);
    default:
      raise(ErrorCode::Unsupported,
            "simd::dot_q8_row: " + std::string(dtype_name(t)) + " is not a block-quantised type");
  }
}

// act_q8.hpp's block quantiser: amax and the finiteness test in vectors, q = rint(x · inv).
void QuantizeActivations(const float* x, int64_t n, ActBlockQ8* out) {
  const hn::CappedTag<float, 32> df;
  const hn::Rebind<int32_t, decltype(df)> di;
  const size_t lanes = hn::Lanes(df);
  for (int64_t g = 0; g < n / kActBlock; ++g) {
    const float* xb = x + g * kActBlock;
    auto amax = hn::Zero(df);
    auto finite = hn::Set(df, 1.0f);
    for (size_t k = 0; k < size_t(kActBlock); k += lanes) {
      const auto a = hn::Abs(hn::LoadU(df, xb + k));
      amax = hn::Max(amax, a);
      // 1 where a <= FLT_MAX (false for NaN and inf)
      finite = hn::IfThenElseZero(hn::Le(a, hn::Set(df, 3.402823466e38f)), finite);
    }
    const bool all_finite = hn::GetLane(hn::MinOfLanes(df, finite)) == 1.0f;
    const float top = hn::GetLane(hn::MaxOfLanes(df, amax));
    const float inv = all_finite ? act_q8_inverse(top) : 0.0f;
    ActBlockQ8& o = out[g];
    alignas(64) int32_t qi[kActBlock];
    for (size_t k = 0; k < size_t(kActBlock); k += lanes)
      hn::Store(hn::NearestInt(hn::Mul(hn::LoadU(df, xb + k), hn::Set(df, inv))), di, qi + k);
    int32_t sum = 0;
    for (int i = 0; i < kActBlock; ++i) {
      if (!all_finite) qi[i] = 0;  // NaN · 0 converts to INT_MIN
      o.q[i] = int8_t(qi[i]);
      sum += qi[i];
    }
    o.d = all_finite ? top / 127.0f : __builtin_nanf("");
    o.sum = sum;
  }
}

}  // namespace HWY_NAMESPACE
}  // namespace stagefence::kernels::cpu::simd
HWY_AFTER_NAMESPACE();

#if HWY_ONCE
namespace stagefence::kernels::cpu::simd {

HWY_EXPORT(DotQ8Row);
HWY_EXPORT(QuantizeActivations);

float dot_q8_row(DType t, const uint8_t* row, const ActBlockQ8* x, int64_t cols) {
  active_target();
  return HWY_DYNAMIC_DISPATCH(DotQ8Row)(t, row, x, cols);
}

void quantize_activations(const float* x, int64_t n, ActBlockQ8* out) {
  active_target();
  HWY_DYNAMIC_DISPATCH(QuantizeActivations)(x, n, out);
}

}  // namespace stagefence::kernels::cpu::simd
#endif  // HWY_ONCE
