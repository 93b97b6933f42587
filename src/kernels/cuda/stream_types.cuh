// Weight types as the streaming decode kernels (decode_stream.cuh) see them: a row is a run of
// "units" (a quantised block, or 16 bytes of a float type) staged in shared memory, each cut into
// items of 32 activation elements (8 for float types). term(unit, j, act, group) returns item j's
// contribution to the row's dot product, with exactly the numerics of kernels/act_q8.hpp for
// block types (integer dot products over 8-bit activation blocks) and f32 for float types.
#pragma once
#include <cstdint>

#include "kernels/cuda/common.cuh"

namespace stagefence::kernels::cuda::stream {

// Activations of one block, in shared memory: f32 values (float types), or 8-bit blocks: q[cols]
// int8 with d[cols/32] and sum[cols/32].
struct Acts {
  const float* f = nullptr;
  const int8_t* q = nullptr;
  const float* d = nullptr;
  const int* sum = nullptr;
};

__device__ __forceinline__ uint32_t lds_u32(const uint8_t* p) {
  return *reinterpret_cast<const uint32_t*>(p);
}
// Four bytes at a 2-byte-aligned shared address.
__device__ __forceinline__ uint32_t lds_u32_a2(const uint8_t* p) {
  const uint32_t odd = uint32_t(reinterpret_cast<uintptr_t>(p)) & 2u;
  const uint32_t* w = reinterpret_cast<const uint32_t*>(p - odd);
  return __funnelshift_r(w[0], w[1], odd * 8u);
}
__device__ __forceinline__ float lds_half(const uint8_t* p) {
  return __half2float(*reinterpret_cast<const __half*>(p));
}
// The 8 int32 words of activation group g (32 int8 values, 32-byte aligned).
__device__ __forceinline__ void act_words(const Acts& a, int64_t g, int (&x)[8]) {
  const int4* p = reinterpret_cast<const int4*>(a.q + g * 32);
  const int4 u = p[0], v = p[1];
  x[0] = u.x, x[1] = u.y, x[2] = u.z, x[3] = u.w, x[4] = v.x, x[5] = v.y, x[6] = v.z, x[7] = v.w;
}

// ---- float types: a unit is 16 bytes, one item of 16 / elem_bytes elements ----
struct SF32 {
  static constexpr const char* kName = "f32";
  static constexpr bool kQuant = false;
  static constexpr int kUnitBytes = 16, kUnitElems = 4, kItems = 1;
  __device__ static float term(const uint8_t* u, int, const Acts& a, int64_t unit) {
    const uint4 w = *reinterpret_cast<const uint4*>(u);
    const float4 x = *reinterpret_cast<const float4*>(a.f + unit * 4);
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
  __device__ static float lo(uint32_t w) { return kBf16 ? lo_bf16_f(w) : lo_half_f(w); }
  __device__ static float hi(uint32_t w) { return kBf16 ? hi_bf16_f(w) : hi_half_f(w); }
  __device__ static float term(const uint8_t* u, int, const Acts& a, int64_t unit) {
    const uint4 w = *reinterpret_cast<const uint4*>(u);
    const float4 x0 = *reinterpret_cast<const float4*>(a.f + unit * 8);
    const float4 x1 = *reinterpret_cast<const float4*>(a.f + unit * 8 + 4);
    float s = lo(w.x) * x0.x;
    s = fmaf(hi(w.x), x0.y, s);
    s = fmaf(lo(w.y), x0.z, s);
    s = fmaf(hi(w.y), x0.w, s);
    s = fmaf(lo(w.z), x1.x, s);
    s = fmaf(hi(w.z), x1.y, s);
    s = fmaf(lo(w.w), x1.z, s);
    return fmaf(hi(w.w), x1.w, s);
  }
};
using SF16 = SHalf16<false>;
using SBF16 = SHalf16<true>;

// ---- block types: one unit is one GGUF block; item j is its j-th group of 32 ----
struct SQ8_0 {
  static constexpr const char* kName = "q8_0";
  static constexpr bool kQuant = true;
  static constexpr int kUnitBytes = 34, kUnitElems = 32, kItems = 1;
  __device__ static float term(const uint8_t* b, int, const Acts& a, int64_t g) {
    int x[8];
    act_words(a, g, x);
    int s = 0;
#pragma unroll
    for (int k = 0; k < 8; ++k) s = __dp4a(int(lds_u32_a2(b + 2 + 4 * k)), x[k], s);
    return lds_half(b) * a.d[g] * float(s);
  }
};

struct SQ4_0 {
  static constexpr const char* kName = "q4_0";
  static constexpr bool kQuant = true;
  static constexpr int kUnitBytes = 18, kUnitElems = 32, kItems = 1;
  __device__ static float term(const uint8_t* b, int, const Acts& a, int64_t g) {
    int x[8];
    act_words(a, g, x);
    int s = 0;
#pragma unroll
    for (int k = 0; k < 4; ++k) {
      const uint32_t w = lds_u32_a2(b + 2 + 4 * k);
      s = __dp4a(int(w & 0x0f0f0f0fu), x[k], s);
      s = __dp4a(int((w >> 4) & 0x0f0f0f0fu), x[4 + k], s);
    }
    return lds_half(b) * a.d[g] * float(s - 8 * a.sum[g]);
  }
};

struct SQ4_1 {
  static constexpr const char* kName = "q4_1";
  static constexpr bool kQuant = true;
  static constexpr int kUnitBytes = 20, kUnitElems = 32, kItems = 1;
  __device__ static float term(const uint8_t* b, int, const Acts& a, int64_t g) {
    int x[8];
    act_words(a, g, x);
    int s = 0;
#pragma unroll
    for (int k = 0; k < 4; ++k) {
      const uint32_t w = lds_u32(b + 4 + 4 * k);
      s = __dp4a(int(w & 0x0f0f0f0fu), x[k], s);
      s = __dp4a(int((w >> 4) & 0x0f0f0f0fu), x[4 + k], s);
    }
    const uint32_t dm = lds_u32(b);
    const float dx = a.d[g];
    return lo_half_f(dm) * dx * float(s) + hi_half_f(dm) * dx * float(a.sum[g]);
  }
};

// Bit i of h into bit 4 of byte i, i = 0..3.
__device__ __forceinline__ uint32_t bits_to_bit4(uint32_t h) {
  return ((h & 1u) << 4) | ((h & 2u) << 11) | ((h & 4u) << 18) | ((h & 8u) << 25);
}

struct SQ5_0 {
  static constexpr const char* kName = "q5_0";
  static constexpr bool kQuant = true;
  static constexpr int kUnitBytes = 22, kUnitElems = 32, kItems = 1;
  __device__ static float term(const uint8_t* b, int, const Acts& a, int64_t g) {
    int x[8];
    act_words(a, g, x);
    const uint32_t qh = lds_u32_a2(b + 2);
    int s = 0;
#pragma unroll
    for (int k = 0; k < 4; ++k) {
      const uint32_t w = lds_u32_a2(b + 6 + 4 * k);
      const uint32_t lo = (w & 0x0f0f0f0fu) | bits_to_bit4(qh >> (4 * k));
      const uint32_t hi = ((w >> 4) & 0x0f0f0f0fu) | bits_to_bit4(qh >> (16 + 4 * k));
      s = __dp4a(int(lo), x[k], s);
      s = __dp4a(int(hi), x[4 + k], s);
    }
    return lds_half(b) * a.d[g] * float(s - 16 * a.sum[g]);
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
struct SQK {
  static constexpr const char* kName = kFive ? "q5_k" : "q4_k";
  static constexpr bool kQuant = true;
  static constexpr int kUnitBytes = kFive ? 176 : 144, kUnitElems = 256, kItems = 8;
  static constexpr int kQsOffset = kFive ? 48 : 16;
  __device__ static float term(const uint8_t* b, int j, const Acts& a, int64_t g) {
    int x[8];
    act_words(a, g, x);
    const uint8_t* qs = b + kQsOffset + 32 * (j / 2);
    const int shift = (j & 1) * 4;
    int s = 0;
#pragma unroll
    for (int k = 0; k < 8; ++k) {
      uint32_t w = (lds_u32(qs + 4 * k) >> shift) & 0x0f0f0f0fu;
      if constexpr (kFive) w |= ((lds_u32(b + 16 + 4 * k) >> j) & 0x01010101u) << 4;
      s = __dp4a(int(w), x[k], s);
    }
    int scale, mn;
    k_scale_min(b + 4, j, &scale, &mn);
    const uint32_t dm = lds_u32(b);
    const float dx = a.d[g];
    return lo_half_f(dm) * float(scale) * dx * float(s) -
           hi_half_f(dm) * float(mn) * dx * float(a.sum[g]);
  }
};
using SQ4_K = SQK<false>;
using SQ5_K = SQK<true>;

// Q6_K group j = 32h + 32t' elements: h = j / 4, t = j % 4; low 4 bits from ql[64h + 32(t&1) + l]
// (>> 4 for t >= 2), high 2 bits from qh[32h + l] >> 2t, scales sc[8h + 2t] (l < 16) and
// sc[8h + 2t + 1] (l >= 16); value d·sc·(q − 32). Blocks are 2-byte aligned.
struct SQ6_K {
  static constexpr const char* kName = "q6_k";
  static constexpr bool kQuant = true;
  static constexpr int kUnitBytes = 210, kUnitElems = 256, kItems = 8;
  __device__ static float term(const uint8_t* b, int j, const Acts& a, int64_t g) {
    int x[8];
    act_words(a, g, x);
    const int h = j / 4, t = j % 4;
    const uint8_t* ql = b + 64 * h + 32 * (t & 1);
    const uint8_t* qh = b + 128 + 32 * h;
    const int lshift = t < 2 ? 0 : 4, hshift = 2 * t;
    int s[2] = {0, 0}, xs[2] = {0, 0};
#pragma unroll
    for (int k = 0; k < 8; ++k) {
      const uint32_t lo = (lds_u32_a2(ql + 4 * k) >> lshift) & 0x0f0f0f0fu;
      const uint32_t hi = ((lds_u32_a2(qh + 4 * k) >> hshift) & 0x03030303u) << 4;
      s[k / 4] = __dp4a(int(lo | hi), x[k], s[k / 4]);
      xs[k / 4] = __dp4a(0x01010101, x[k], xs[k / 4]);
    }
    const int sa = int8_t(b[192 + 8 * h + 2 * t]), sb = int8_t(b[192 + 8 * h + 2 * t + 1]);
    const int isum = sa * (s[0] - 32 * xs[0]) + sb * (s[1] - 32 * xs[1]);
    return lds_half(b + 208) * a.d[g] * float(isum);
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
