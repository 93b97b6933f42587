// Weight types as the streaming decode kernels (decode_stream.cuh) see them: a row is a run of
// "units" (a quantised block, or 16 bytes of a float type) staged in shared memory, each cut into
// items of 32 activation elements (8 for float types). act(acts, item) loads an item's
// activations once, and dot(unit, j, act) returns item j's contribution to one row's dot product,
// so the rows of a task share every activation read. Block types keep exactly the numerics of
// kernels/act_q8.hpp (integer dot products over 8-bit activation blocks); float types are f32.
#pragma once
#include <cstdint>

#include "kernels/cuda/common.cuh"

namespace stagefence::kernels::cuda::stream {

// Activations of one block, in shared memory: f32 values (float types), or 8-bit blocks: q[cols]
// int8 with d[cols/32] and sum[cols/32].
struct Acts {
  const float* f = nullptr;
  bool aligned = true;  // f is 16-byte aligned (f32 values read from global memory may not be)
  const int8_t* q = nullptr;
  const float* d = nullptr;
  const int* sum = nullptr;
};

// One 8-bit activation group: its 32 values as 8 words, its scale and the sum of its values.
struct Q8Act {
  int x[8];
  float d;
  int sum;
};
__device__ __forceinline__ Q8Act q8_act(const Acts& a, int64_t g) {
  Q8Act r;
  const int4* p = reinterpret_cast<const int4*>(a.q + g * 32);
  const int4 u = p[0], v = p[1];
  r.x[0] = u.x, r.x[1] = u.y, r.x[2] = u.z, r.x[3] = u.w;
  r.x[4] = v.x, r.x[5] = v.y, r.x[6] = v.z, r.x[7] = v.w;
  r.d = a.d[g];
  r.sum = a.sum[g];
  return r;
}

__device__ __forceinline__ uint32_t lds_u32(const uint8_t* p) {
  return *reinterpret_cast<const uint32_t*>(p);
}
__device__ __forceinline__ float lds_half(const uint8_t* p) {
  return __half2float(*reinterpret_cast<const __half*>(p));
}

// The bytes from a 2-byte-aligned shared address p as N aligned words read once (a unit of a
// 2-byte-aligned block type would otherwise cost two reads per word); at<o>() is the
// little-endian word at even byte offset o from p (o / 4 + 1 < N).
template <int N>
struct Words {
  uint32_t r[N];
  uint32_t shift;  // 0 or 16: p's offset from the aligned word, in bits
  template <int o>
  __device__ __forceinline__ uint32_t at() const {
    static_assert(o % 2 == 0 && o / 4 + 1 < N, "an even offset inside the words read");
    return __funnelshift_rc(r[o / 4], r[o / 4 + 1], uint32_t(o % 4) * 8u + shift);
  }
};
template <int N>
__device__ __forceinline__ Words<N> lds_words(const uint8_t* p) {
  Words<N> w;
  const uint32_t odd = uint32_t(reinterpret_cast<uintptr_t>(p)) & 2u;
  const uint32_t* a = reinterpret_cast<const uint32_t*>(p - odd);
#pragma unroll
  for (int k = 0; k < N; ++k) w.r[k] = a[k];
  w.shift = odd * 8u;
  return w;
}

// ---- float types: a unit is 16 bytes, one item of 16 / elem_bytes elements ----
struct SF32 {
  static constexpr const char* kName = "f32";
  static constexpr bool kQuant = false;
  static constexpr int kUnitBytes = 16, kUnitElems = 4, kItems = 1;
  using Act = float4;
  __device__ static Act act(const Acts& a, int64_t unit) {
    return *reinterpret_cast<const float4*>(a.f + unit * 4);
  }
  __device__ static float dot(const uint8_t* u, int, const Act& x) {
    const uint4 w = *reinterpret_cast<const uint4*>(u);
    float s = __uint_as_float(w.x) * x.x;
    s = fmaf(__uint_as_float(w.y), x.y, s);
    s = fmaf(__uint_as_float(w.z), x.z, s);
    return fmaf(__uint_as_float(w.w), x.w, s);
  }
};

template <bool kBf16>
struct SHalf16 {
  static constexpr const char* kName = kBf16 ? "bf16" : "f16";
  static constexpr bool kQuant = false;
  static constexpr int kUnitBytes = 16, kUnitElems = 8, kItems = 1;
  struct Act {
    float4 x0, x1;
  };
  __device__ static float lo(uint32_t w) { return kBf16 ? lo_bf16_f(w) : lo_half_f(w); }
  __device__ static float hi(uint32_t w) { return kBf16 ? hi_bf16_f(w) : hi_half_f(w); }
  __device__ static Act act(const Acts& a, int64_t unit) {
    const float4* p = reinterpret_cast<const float4*>(a.f + unit * 8);
    return {p[0], p[1]};
  }
  __device__ static float dot(const uint8_t* u, int, const Act& x) {
    const uint4 w = *reinterpret_cast<const uint4*>(u);
    float s = lo(w.x) * x.x0.x;
    s = fmaf(hi(w.x), x.x0.y, s);
    s = fmaf(lo(w.y), x.x0.z, s);
    s = fmaf(hi(w.y), x.x0.w, s);
    s = fmaf(lo(w.z), x.x1.x, s);
    s = fmaf(hi(w.z), x.x1.y, s);
    s = fmaf(lo(w.w), x.x1.z, s);
    return fmaf(hi(w.w), x.x1.w, s);
  }
};
using SF16 = SHalf16<false>;
using SBF16 = SHalf16<true>;

// ---- block types: one unit is one GGUF block; item j is its j-th group of 32 ----
struct SQuant {
  static constexpr bool kQuant = true;
  using Act = Q8Act;
  __device__ static Act act(const Acts& a, int64_t g) { return q8_act(a, g); }
};

struct SQ8_0 : SQuant {
  static constexpr const char* kName = "q8_0";
  static constexpr int kUnitBytes = 34, kUnitElems = 32, kItems = 1;
  __device__ static float dot(const uint8_t* b, int, const Act& x) {
    const Words<9> w = lds_words<9>(b);
    int s = 0;
    s = __dp4a(int(w.at<2>()), x.x[0], s);
    s = __dp4a(int(w.at<6>()), x.x[1], s);
    s = __dp4a(int(w.at<10>()), x.x[2], s);
    s = __dp4a(int(w.at<14>()), x.x[3], s);
    s = __dp4a(int(w.at<18>()), x.x[4], s);
    s = __dp4a(int(w.at<22>()), x.x[5], s);
    s = __dp4a(int(w.at<26>()), x.x[6], s);
    s = __dp4a(int(w.at<30>()), x.x[7], s);
    return lo_half_f(w.at<0>()) * x.d * float(s);
  }
};

struct SQ4_0 : SQuant {
  static constexpr const char* kName = "q4_0";
  static constexpr int kUnitBytes = 18, kUnitElems = 32, kItems = 1;
  __device__ static int nibbles(uint32_t w, int lo, int hi, int s) {
    s = __dp4a(int(w & 0x0f0f0f0fu), lo, s);
    return __dp4a(int((w >> 4) & 0x0f0f0f0fu), hi, s);
  }
  __device__ static float dot(const uint8_t* b, int, const Act& x) {
    const Words<5> w = lds_words<5>(b);
    int s = 0;
    s = nibbles(w.at<2>(), x.x[0], x.x[4], s);
    s = nibbles(w.at<6>(), x.x[1], x.x[5], s);
    s = nibbles(w.at<10>(), x.x[2], x.x[6], s);
    s = nibbles(w.at<14>(), x.x[3], x.x[7], s);
    return lo_half_f(w.at<0>()) * x.d * float(s - 8 * x.sum);
  }
};

struct SQ4_1 : SQuant {
  static constexpr const char* kName = "q4_1";
  static constexpr int kUnitBytes = 20, kUnitElems = 32, kItems = 1;
  __device__ static float dot(const uint8_t* b, int, const Act& x) {
    int s = 0;
#pragma unroll
    for (int k = 0; k < 4; ++k) s = SQ4_0::nibbles(lds_u32(b + 4 + 4 * k), x.x[k], x.x[4 + k], s);
    const uint32_t dm = lds_u32(b);
    return lo_half_f(dm) * x.d * float(s) + hi_half_f(dm) * x.d * float(x.sum);
  }
};

// Bit i of h into bit 4 of byte i, i = 0..3.
__device__ __forceinline__ uint32_t bits_to_bit4(uint32_t h) {
  return ((h & 1u) << 4) | ((h & 2u) << 11) | ((h & 4u) << 18) | ((h & 8u) << 25);
}

struct SQ5_0 : SQuant {
  static constexpr const char* kName = "q5_0";
  static constexpr int kUnitBytes = 22, kUnitElems = 32, kItems = 1;
  template <int k>
  __device__ static int part(const Words<6>& w, uint32_t qh, const Act& x, int s) {
    const uint32_t q = w.at<6 + 4 * k>();
    const uint32_t lo = (q & 0x0f0f0f0fu) | bits_to_bit4(qh >> (4 * k));
    const uint32_t hi = ((q >> 4) & 0x0f0f0f0fu) | bits_to_bit4(qh >> (16 + 4 * k));
    s = __dp4a(int(lo), x.x[k], s);
    return __dp4a(int(hi), x.x[4 + k], s);
  }
  __device__ static float dot(const uint8_t* b, int, const Act& x) {
    const Words<6> w = lds_words<6>(b);
    const uint32_t qh = w.at<2>();
    int s = 0;
    s = part<0>(w, qh, x, s);
    s = part<1>(w, qh, x, s);
    s = part<2>(w, qh, x, s);
    s = part<3>(w, qh, x, s);
    return lo_half_f(w.at<0>()) * x.d * float(s - 16 * x.sum);
  }
};

// Q4_K / Q5_K: 6-bit scale and min of sub-block j (as integers).
__device__ __forceinline__ void k_scale_min(const uint8_t* sc, int j, int* scale, int* mn) {
  if (j < 4) {
    *scale = sc[j] & 63;
    *mn = sc[j + 4] & 63;
  } else {
    *scale = (sc[j + 4] & 0xf) | ((sc[j - 4] >> 6) << 4);
    *mn = (sc[j + 4] >> 4) | ((sc[j] >> 6) << 4);
  }
}

template <bool kFive>
struct SQK : SQuant {
  static constexpr const char* kName = kFive ? "q5_k" : "q4_k";
  static constexpr int kUnitBytes = kFive ? 176 : 144, kUnitElems = 256, kItems = 8;
  static constexpr int kQsOffset = kFive ? 48 : 16;
  __device__ static float dot(const uint8_t* b, int j, const Act& x) {
    const uint8_t* qs = b + kQsOffset + 32 * (j / 2);
    const int shift = (j & 1) * 4;
    int s = 0;
#pragma unroll
    for (int k = 0; k < 8; ++k) {
      uint32_t w = (lds_u32(qs + 4 * k) >> shift) & 0x0f0f0f0fu;
      if constexpr (kFive) w |= ((lds_u32(b + 16 + 4 * k) >> j) & 0x01010101u) << 4;
      s = __dp4a(int(w), x.x[k], s);
    }
    int scale, mn;
    k_scale_min(b + 4, j, &scale, &mn);
    const uint32_t dm = lds_u32(b);
    return lo_half_f(dm) * float(scale) * x.d * float(s) -
           hi_half_f(dm) * float(mn) * x.d * float(x.sum);
  }
};
using SQ4_K = SQK<false>;
using SQ5_K = SQK<true>;

// Q6_K group j = 32h + 32t' elements: h = j / 4, t = j % 4; low 4 bits from ql[64h + 32(t&1) + l]
// (>> 4 for t >= 2), high 2 bits from qh[32h + l] >> 2t, scales sc[8h + 2t] (l < 16) and
// sc[8h + 2t + 1] (l >= 16); value d·sc·(q − 32). Blocks are 2-byte aligned.
struct SQ6_K : SQuant {
  static constexpr const char* kName = "q6_k";
  static constexpr int kUnitBytes = 210, kUnitElems = 256, kItems = 8;
  template <int k>
  __device__ static void part(const Words<9>& l, const Words<9>& h, int lshift, int hshift,
                              const Act& x, int (&s)[2], int (&xs)[2]) {
    const uint32_t lo = (l.at<4 * k>() >> lshift) & 0x0f0f0f0fu;
    const uint32_t hi = ((h.at<4 * k>() >> hshift) & 0x03030303u) << 4;
    s[k / 4] = __dp4a(int(lo | hi), x.x[k], s[k / 4]);
    xs[k / 4] = __dp4a(0x01010101, x.x[k], xs[k / 4]);
  }
  __device__ static float dot(const uint8_t* b, int j, const Act& x) {
    const int h = j / 4, t = j % 4;
    const Words<9> l = lds_words<9>(b + 64 * h + 32 * (t & 1));
    const Words<9> hw = lds_words<9>(b + 128 + 32 * h);
    const int lshift = t < 2 ? 0 : 4, hshift = 2 * t;
    int s[2] = {0, 0}, xs[2] = {0, 0};
    part<0>(l, hw, lshift, hshift, x, s, xs);
    part<1>(l, hw, lshift, hshift, x, s, xs);
    part<2>(l, hw, lshift, hshift, x, s, xs);
    part<3>(l, hw, lshift, hshift, x, s, xs);
    part<4>(l, hw, lshift, hshift, x, s, xs);
    part<5>(l, hw, lshift, hshift, x, s, xs);
    part<6>(l, hw, lshift, hshift, x, s, xs);
    part<7>(l, hw, lshift, hshift, x, s, xs);
    const int sa = int8_t(b[192 + 8 * h + 2 * t]), sb = int8_t(b[192 + 8 * h + 2 * t + 1]);
    const int isum = sa * (s[0] - 32 * xs[0]) + sb * (s[1] - 32 * xs[1]);
    return lds_half(b + 208) * x.d * float(isum);
  }
};

template <typename F>
void for_each_stream_type(F&& f) {
  f(SF32{});
  f(SF16{});
  f(SBF16{});
  f(SQ8_0{});
  f(SQ4_0{});
  f(SQ4_1{});
  f(SQ5_0{});
  f(SQ4_K{});
  f(SQ5_K{});
  f(SQ6_K{});
}

}  // namespace stagefence::kernels::cuda::stream
