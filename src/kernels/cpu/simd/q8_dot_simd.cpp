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
#include <hwy/cache_control.h>
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

#undef SF_Q8_WHOLE_GROUPS  // this file is compiled once per target
#if HWY_TARGET == HWY_AVX2 || HWY_TARGET == HWY_AVX3 || HWY_TARGET == HWY_AVX3_DL
// A whole 32-group in one 256-bit register, its products summed by u8 x i8 multiply-adds
// (vpmaddubsw + vpmaddwd): Highway 1.0 has no such op, so these are x86 intrinsics.
#define SF_Q8_WHOLE_GROUPS 1
using M256 = __m256i;

HWY_INLINE M256 load32(const void* p) {
  return _mm256_loadu_si256(static_cast<const M256*>(p));
}

// The 32 nibbles of a 16-byte Q4 payload: low nibbles in bytes 0..15, high ones in 16..31.
HWY_INLINE M256 nibbles32(const uint8_t* qs) {
  const __m128i b = _mm_loadu_si128(reinterpret_cast<const __m128i*>(qs));
  const M256 v = _mm256_inserti128_si256(_mm256_castsi128_si256(b), _mm_srli_epi16(b, 4), 1);
  return _mm256_and_si256(v, _mm256_set1_epi8(15));
}

// 16 in byte i where bit i of `bits` is set.
HWY_INLINE M256 bits_to_16(uint32_t bits) {
#if HWY_TARGET == HWY_AVX2
  const M256 spread =
      _mm256_shuffle_epi8(_mm256_set1_epi32(int32_t(bits)),
                          _mm256_setr_epi8(0, 0, 0, 0, 0, 0, 0, 0, 1, 1, 1, 1, 1, 1, 1, 1, 2, 2, 2,
                                           2, 2, 2, 2, 2, 3, 3, 3, 3, 3, 3, 3, 3));
  const M256 lane_bit = _mm256_set1_epi64x(int64_t(0x8040201008040201ull));
  const M256 set = _mm256_cmpeq_epi8(_mm256_and_si256(spread, lane_bit), lane_bit);
  return _mm256_and_si256(set, _mm256_set1_epi8(16));
#else
  return _mm256_maskz_mov_epi8(__mmask32(bits), _mm256_set1_epi8(16));
#endif
}

// Σ of four u8 w · i8 x products in each int32 lane. Exact while every w < 128: a pair of
// products then fits vpmaddubsw's saturating int16.
HWY_INLINE M256 dot_u(M256 w, M256 x) {
  return _mm256_madd_epi16(_mm256_maddubs_epi16(w, x), _mm256_set1_epi16(1));
}

// dot_u for i8 weights: |w| · (x with w's sign). Exact for |x| <= 127 (act_q8.hpp's range; the
// pairs then stay within 2 · 128 · 127 < 32768).
HWY_INLINE M256 dot_s(M256 w, M256 x) {
  return dot_u(_mm256_abs_epi8(w), _mm256_sign_epi8(x, w));
}

// The lane sums of v(0) .. v(7) in lanes 0..7 (integer adds, so any order is exact).
template <class V>
HWY_INLINE M256 sum8(V v) {
  const M256 a = _mm256_hadd_epi32(_mm256_hadd_epi32(v(0), v(1)), _mm256_hadd_epi32(v(2), v(3)));
  const M256 b = _mm256_hadd_epi32(_mm256_hadd_epi32(v(4), v(5)), _mm256_hadd_epi32(v(6), v(7)));
  return _mm256_add_epi32(_mm256_permute2x128_si256(a, b, 0x20),
                          _mm256_permute2x128_si256(a, b, 0x31));
}

// Q6_K group j of super-block b against x: lanes summing to sa · Σ_a (qw-32)·q + sb · Σ_b;
// x32 = vpmaddubsw(32, x), shared by every row.
HWY_INLINE M256 q6_products(const uint8_t* b, int j, M256 x, M256 x32) {
  const int h = j / 4, t = j % 4;
  const M256 low = load32(b + 64 * h + 32 * (t & 1));
  const M256 lo = _mm256_and_si256(t < 2 ? low : _mm256_srli_epi16(low, 4), _mm256_set1_epi8(15));
  const M256 hi = _mm256_and_si256(
      _mm256_srl_epi16(load32(b + 128 + 32 * h), _mm_cvtsi32_si128(2 * t)), _mm256_set1_epi8(3));
  const M256 w = _mm256_or_si256(lo, _mm256_slli_epi16(hi, 4));  // 0..63
  // Σ pairs of (qw - 32)·q: both vpmaddubsw stay within ±2 · 64 · 128, the difference is exact.
  const M256 p = _mm256_sub_epi16(_mm256_maddubs_epi16(w, x), x32);
  const int sa = int8_t(b[192 + 8 * h + 2 * t]), sb = int8_t(b[192 + 8 * h + 2 * t + 1]);
  return _mm256_madd_epi16(
      p, _mm256_set_m128i(_mm_set1_epi16(int16_t(sb)), _mm_set1_epi16(int16_t(sa))));
}

HWY_INLINE M256 q6_x32(M256 x) {
  return _mm256_maddubs_epi16(_mm256_set1_epi8(32), x);
}

// Q4_K / Q5_K group j of super-block b: the 32 weights (0..31).
template <bool kFive>
HWY_INLINE M256 qk_weights(const uint8_t* b, int j) {
  const M256 v = load32(b + (kFive ? 48 : 16) + 32 * (j / 2));
  M256 w = _mm256_and_si256((j & 1) ? _mm256_srli_epi16(v, 4) : v, _mm256_set1_epi8(15));
  if constexpr (kFive) {
    const M256 bit = _mm256_set1_epi8(char(1 << j));
    const M256 set = _mm256_cmpeq_epi8(_mm256_and_si256(load32(b + 16), bit), bit);
    w = _mm256_or_si256(w, _mm256_and_si256(set, _mm256_set1_epi8(16)));
  }
  return w;
}

HWY_INLINE M256 q5_0_weights(const uint8_t* b) {
  uint32_t qh;
  std::memcpy(&qh, b + 2, 4);
  return _mm256_or_si256(nibbles32(b + 6), bits_to_16(qh));
}
#else
#define SF_Q8_WHOLE_GROUPS 0
#endif

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
#if SF_Q8_WHOLE_GROUPS
        return V32{dot_s(load32(qs), load32(x[g].q))};
#else
        return group_products(x[g].q, [&](size_t k) { return activations(qs + k); });
#endif
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
#if SF_Q8_WHOLE_GROUPS
        return V32{dot_u(nibbles32(b + 2), load32(x[g].q))};
#else
        return group_products(x[g].q, [&](size_t k) { return nibbles(b + 2, k); });
#endif
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
#if SF_Q8_WHOLE_GROUPS
        return V32{dot_u(nibbles32(b + 4), load32(x[g].q))};
#else
        return group_products(x[g].q, [&](size_t k) { return nibbles(b + 4, k); });
#endif
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
#if SF_Q8_WHOLE_GROUPS
        return V32{dot_u(q5_0_weights(b), load32(x[g].q))};
#else
        uint32_t qh;
        std::memcpy(&qh, b + 2, 4);
        return group_products(x[g].q, [&](size_t k) {
          return hn::Or(nibbles(b + 6, k), high_bit16(uint16_t(qh >> (k & 16)), k & 15));
        });
#endif
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
#if SF_Q8_WHOLE_GROUPS
        return V32{dot_u(qk_weights<kFive>(b, j), load32(x[g].q))};
#else
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
#endif
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
#if SF_Q8_WHOLE_GROUPS
  return row_sum8(
      groups,
      [&](int64_t g) {
        const M256 xv = load32(x[g].q);
        return V32{q6_products(row + (g / 8) * 210, int(g % 8), xv, q6_x32(xv))};
      },
      [&](int64_t g, V32 sums) {
        // g is a multiple of 8: the eight groups are one super-block with one d.
        return hn::Mul(hn::Mul(hn::Set(DF8(), h2f(row + (g / 8) * 210 + 208)), act_scales(x + g)),
                       hn::ConvertTo(DF8(), sums));
      },
      [&](int64_t g, int32_t s) { return h2f(row + (g / 8) * 210 + 208) * x[g].d * float(s); });
#else
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
#endif
}

#if SF_Q8_WHOLE_GROUPS
// Eight rows at once, lane r of every vector belonging to rows[r]: each group's activations are
// loaded once for the eight rows, the eight integer sums reduced together, and each lane adds its
// row's terms in group order, so lane r computes exactly the single-row function of rows[r].
// products(g, xv, r) gives row r's product lanes; terms(g, sums) the eight rows' terms of group g.
// next: the eight rows of the following pass (or nullptr), prefetched at the same pace, since
// eight interleaved rows train the hardware prefetchers poorly (measured: slower than one row at
// a time once the weights come from DRAM).
template <class Products, class Terms>
HWY_INLINE void rows8(const ActBlockQ8* x, int64_t groups, int64_t group_bytes,
                      const uint8_t* const* next, Products products, Terms terms, float* out) {
  VF8 acc = hn::Zero(DF8());
  for (int64_t g = 0; g < groups; ++g) {
    if (next && (g * group_bytes) % 64 < group_bytes)  // once per 64 bytes of each row
      for (int r = 0; r < 8; ++r) hwy::Prefetch(next[r] + g * group_bytes);
    const M256 xv = load32(x[g].q);
    acc = hn::Add(acc, terms(g, V32{sum8([&](int r) { return products(g, xv, r); })}));
  }
  hn::StoreU(acc, DF8(), out);
}

// The 32-bit words at rows[r] + offset (a block's two half scales), or their low 16 bits where
// only two bytes may be read.
template <int kBytes>
HWY_INLINE V32 words8(const uint8_t* const* rows, int64_t offset) {
  const auto word = [&](int r) {
    uint32_t v = 0;
    std::memcpy(&v, rows[r] + offset, kBytes);
    return int32_t(v);
  };
  return V32{
      _mm256_setr_epi32(word(0), word(1), word(2), word(3), word(4), word(5), word(6), word(7))};
}

void rows8_q8(DType t, const uint8_t* const* rows, const uint8_t* const* next, const ActBlockQ8* x,
              int64_t groups, float* out) {
  const DF8 df;
  // Q8_0 Q4_0 Q5_0: d_w · d_x · (Σ - k·s) with the block's d at offset 0.
  auto simple = [&](int64_t bytes, int32_t offset_sum, auto weights, auto dot) {
    rows8(
        x, groups, bytes, next,
        [&](int64_t g, M256 xv, int r) { return dot(weights(rows[r] + g * bytes), xv); },
        [&](int64_t g, V32 sums) {
          const VF8 dw = halves(words8<2>(rows, g * bytes));
          const V32 s = offset_sum ? hn::Sub(sums, hn::Set(D32(), offset_sum * x[g].sum)) : sums;
          return hn::Mul(hn::Mul(dw, hn::Set(df, x[g].d)), hn::ConvertTo(df, s));
        },
        out);
  };
  switch (t) {
    case DType::Q8_0:
      return simple(
          34, 0, [](const uint8_t* b) { return load32(b + 2); },
          [](M256 w, M256 xv) { return dot_s(w, xv); });
    case DType::Q4_0:
      return simple(
          18, 8, [](const uint8_t* b) { return nibbles32(b + 2); },
          [](M256 w, M256 xv) { return dot_u(w, xv); });
    case DType::Q5_0:
      return simple(
          22, 16, [](const uint8_t* b) { return q5_0_weights(b); },
          [](M256 w, M256 xv) { return dot_u(w, xv); });
    case DType::Q4_1:
      return rows8(
          x, groups, 20, next,
          [&](int64_t g, M256 xv, int r) { return dot_u(nibbles32(rows[r] + g * 20 + 4), xv); },
          [&](int64_t g, V32 sums) {
            const V32 words = words8<4>(rows, g * 20);
            const VF8 dw = halves(words), mw = halves(hn::ShiftRight<16>(words));
            const VF8 dx = hn::Set(df, x[g].d);
            return hn::Add(hn::Mul(hn::Mul(dw, dx), hn::ConvertTo(df, sums)),
                           hn::Mul(hn::Mul(mw, dx), hn::Set(df, float(x[g].sum))));
          },
          out);
    case DType::Q4_K:
    case DType::Q5_K: {
      const bool five = t == DType::Q5_K;
      const int64_t bytes = five ? 176 : 144;
      return rows8(
          x, groups, bytes / 8, next,
          [&](int64_t g, M256 xv, int r) {
            const int j = int(g % 8);
            const uint8_t* b = rows[r] + (g / 8) * bytes;
            return dot_u(five ? qk_weights<true>(b, j) : qk_weights<false>(b, j), xv);
          },
          [&](int64_t g, V32 sums) {
            const int j = int(g % 8);
            alignas(32) int32_t sc[8], m[8];
            for (int r = 0; r < 8; ++r) {
              uint8_t scj, mj;
              quant::get_scale_min_k4(j, rows[r] + (g / 8) * bytes + 4, &scj, &mj);
              sc[r] = scj;
              m[r] = mj;
            }
            const V32 words = words8<4>(rows, (g / 8) * bytes);
            const VF8 d = halves(words), dmin = halves(hn::ShiftRight<16>(words));
            const VF8 dx = hn::Set(df, x[g].d);
            const VF8 scaled =
                hn::Mul(hn::Mul(hn::Mul(d, hn::ConvertTo(df, hn::Load(D32(), sc))), dx),
                        hn::ConvertTo(df, sums));
            const VF8 mins =
                hn::Mul(hn::Mul(hn::Mul(dmin, hn::ConvertTo(df, hn::Load(D32(), m))), dx),
                        hn::Set(df, float(x[g].sum)));
            return hn::Sub(scaled, mins);
          },
          out);
    }
    case DType::Q6_K:
      return rows8(
          x, groups, 210 / 8, next,
          [&](int64_t g, M256 xv, int r) {
            // vpmaddubsw(32, x) is recomputed per row; the compiler hoists it.
            return q6_products(rows[r] + (g / 8) * 210, int(g % 8), xv, q6_x32(xv));
          },
          [&](int64_t g, V32 sums) {
            const VF8 d = halves(words8<2>(rows, (g / 8) * 210 + 208));
            return hn::Mul(hn::Mul(d, hn::Set(df, x[g].d)), hn::ConvertTo(df, sums));
          },
          out);
    default:
      raise(ErrorCode::Unsupported,
            "simd::dot_q8_rows: " + std::string(dtype_name(t)) + " is not a block-quantised type");
  }
}
#endif

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

void DotQ8Rows(DType t, const uint8_t* const* rows, int64_t n, const ActBlockQ8* x, int64_t cols,
               float* out) {
  int64_t r = 0;
#if SF_Q8_WHOLE_GROUPS
  if (n >= 8) {
    // The first pass's rows are requested up front; each pass then prefetches the next one's.
    const uint64_t row_bytes = dtype_bytes(t, uint64_t(cols));
    for (int k = 0; k < 8; ++k)
      for (uint64_t b = 0; b < row_bytes; b += 64) hwy::Prefetch(rows[k] + b);
  }
  for (; r + 8 <= n; r += 8)
    rows8_q8(t, rows + r, r + 16 <= n ? rows + r + 8 : nullptr, x, cols / kActBlock, out + r);
#endif
  for (; r < n; ++r) out[r] = DotQ8Row(t, rows[r], x, cols);
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
HWY_EXPORT(DotQ8Rows);
HWY_EXPORT(QuantizeActivations);

float dot_q8_row(DType t, const uint8_t* row, const ActBlockQ8* x, int64_t cols) {
  active_target();
  return HWY_DYNAMIC_DISPATCH(DotQ8Row)(t, row, x, cols);
}

void dot_q8_rows(DType t, const uint8_t* const* rows, int64_t n, const ActBlockQ8* x, int64_t cols,
                 float* out) {
  active_target();
  HWY_DYNAMIC_DISPATCH(DotQ8Rows)(t, rows, n, x, cols, out);
}

void quantize_activations(const float* x, int64_t n, ActBlockQ8* out) {
  active_target();
  HWY_DYNAMIC_DISPATCH(QuantizeActivations)(x, n, out);
}

}  // namespace stagefence::kernels::cpu::simd
#endif  // HWY_ONCE
