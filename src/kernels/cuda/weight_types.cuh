// Weight types of the forward pass on the device: one tag struct per GGUF type with its block
// geometry, a per-element decoder (embedding rows, tiled prefill matmul) and a per-lane block
// dot product over a block staged in shared memory, used by the matrix-vector kernel.
#pragma once
#include <cstdint>

#include "kernels/cuda/common.cuh"

namespace stagefence::kernels::cuda {

namespace q = stagefence::quant;

__device__ __forceinline__ float h2f(const uint8_t* p) {
  uint16_t v = uint16_t(p[0]) | uint16_t(uint16_t(p[1]) << 8);
  return __half2float(__ushort_as_half(v));
}

// Plain types: one element per block.
struct WF32 {
  static constexpr const char* kName = "f32";
  static constexpr int kBlockElems = 1, kBlockBytes = 4;
  __device__ static float element(const uint8_t* row, int c) {
    return reinterpret_cast<const float*>(row)[c];
  }
};
struct WF16 {
  static constexpr const char* kName = "f16";
  static constexpr int kBlockElems = 1, kBlockBytes = 2;
  __device__ static float element(const uint8_t* row, int c) { return h2f(row + 2 * c); }
};
struct WBF16 {
  static constexpr const char* kName = "bf16";
  static constexpr int kBlockElems = 1, kBlockBytes = 2;
  __device__ static float element(const uint8_t* row, int c) {
    return __uint_as_float(uint32_t(reinterpret_cast<const uint16_t*>(row)[c]) << 16);
  }
};

// Block types. The matvec kernel stages a chunk of a row's blocks in shared memory and
// `kLanesPerBlock` consecutive lanes then share one block, lane part p taking kBlockElems /
// kLanesPerBlock of its elements, so a warp covers 32 / kLanesPerBlock consecutive blocks per
// pass and its x reads are contiguous. load_x(x, p) fetches the part's inputs (x is the block's
// first input element); dot(b, p, xs) returns the part's sum of w[e]·x[e] with b the block in
// shared memory. Quants become floats without an integer-to-float conversion (a quarter-rate
// instruction): the byte goes into the mantissa of 2^23 and one subtraction removes 2^23 and the
// type's offset, both exactly.
struct XPart {
  float4 a, b;
};

// Byte k of w minus an offset, as a float: 2^23 + byte built by a byte permute, then
// magic_plus_offset (2^23 + offset) subtracted; exact for every byte value.
template <int k>
__device__ __forceinline__ float byte_f(uint32_t w, float magic_plus_offset) {
  return __uint_as_float(__byte_perm(w, 0x4B000000u, 0x7440 + k)) - magic_plus_offset;
}
inline constexpr float kMagic = 8388608.0f;  // 2^23

// sum_k (byte_k(w) - offset) · x_k, k = 0..3.
__device__ __forceinline__ float bytes_dot(uint32_t w, float offset, float4 x) {
  const float m = kMagic + offset;
  float s = byte_f<0>(w, m) * x.x;
  s = fmaf(byte_f<1>(w, m), x.y, s);
  s = fmaf(byte_f<2>(w, m), x.z, s);
  return fmaf(byte_f<3>(w, m), x.w, s);
}
__device__ __forceinline__ float sum4(float4 v) {
  return (v.x + v.y) + (v.z + v.w);
}

// Shared-memory reads of block fields.
__device__ __forceinline__ uint32_t sm_u32(const uint8_t* p) {
  return *reinterpret_cast<const uint32_t*>(p);
}
// Four bytes at a 2-byte-aligned address (reads the 4-byte word after p's word too).
__device__ __forceinline__ uint32_t sm_u32_a2(const uint8_t* p) {
  const uint32_t odd = uint32_t(reinterpret_cast<uintptr_t>(p)) & 2u;
  const uint32_t* w = reinterpret_cast<const uint32_t*>(p - odd);  // keeps the address space
  return __funnelshift_r(w[0], w[1], odd * 8u);
}
__device__ __forceinline__ float sm_half(const uint8_t* p) {
  return __half2float(*reinterpret_cast<const __half*>(p));
}

struct WQ8_0 {
  static constexpr const char* kName = "q8_0";
  static constexpr int kBlockElems = 32, kBlockBytes = 34, kLanesPerBlock = 8;
  __device__ static float element(const uint8_t* row, int c) {
    const uint8_t* b = row + (c / 32) * kBlockBytes;
    return h2f(b) * float(int8_t(b[2 + c % 32]));
  }
  __device__ static XPart load_x(const float* x, int p) { return {load_f4(x + 4 * p), {}}; }
  // Part p: elements 4p..4p+3. Signed bytes are offset to unsigned by flipping the sign bit.
  __device__ static float dot(const uint8_t* b, int p, const XPart& xs) {
    const uint32_t q = sm_u32_a2(b + 2 + 4 * p) ^ 0x80808080u;
    return sm_half(b) * bytes_dot(q, 128.0f, xs.a);
  }
};

struct WQ4_0 {
  static constexpr const char* kName = "q4_0";
  static constexpr int kBlockElems = 32, kBlockBytes = 18, kLanesPerBlock = 4;
  __device__ static float element(const uint8_t* row, int c) {
    const uint8_t* b = row + (c / 32) * kBlockBytes;
    const int j = c % 32;
    const int v = j < 16 ? (b[2 + j] & 0xf) : (b[2 + j - 16] >> 4);
    return h2f(b) * float(v - 8);
  }
  __device__ static XPart load_x(const float* x, int p) {
    return {load_f4(x + 4 * p), load_f4(x + 16 + 4 * p)};
  }
  // Part p: elements 4p..4p+3 (low nibbles) and 16+4p..16+4p+3 (high nibbles).
  __device__ static float dot(const uint8_t* b, int p, const XPart& xs) {
    const uint32_t q = sm_u32_a2(b + 2 + 4 * p);
    const uint32_t lo = q & 0x0f0f0f0fu, hi = (q >> 4) & 0x0f0f0f0fu;
    return sm_half(b) * (bytes_dot(lo, 8.0f, xs.a) + bytes_dot(hi, 8.0f, xs.b));
  }
};

struct WQ4_1 {
  static constexpr const char* kName = "q4_1";
  static constexpr int kBlockElems = 32, kBlockBytes = 20, kLanesPerBlock = 4;
  __device__ static float element(const uint8_t* row, int c) {
    const uint8_t* b = row + (c / 32) * kBlockBytes;
    const int j = c % 32;
    const int v = j < 16 ? (b[4 + j] & 0xf) : (b[4 + j - 16] >> 4);
    return h2f(b) * float(v) + h2f(b + 2);
  }
  __device__ static XPart load_x(const float* x, int p) {
    return {load_f4(x + 4 * p), load_f4(x + 16 + 4 * p)};
  }
  __device__ static float dot(const uint8_t* b, int p, const XPart& xs) {
    const uint32_t q = sm_u32(b + 4 + 4 * p);
    const uint32_t lo = q & 0x0f0f0f0fu, hi = (q >> 4) & 0x0f0f0f0fu;
    const float s = bytes_dot(lo, 0.0f, xs.a) + bytes_dot(hi, 0.0f, xs.b);
    const uint32_t dm = sm_u32(b);
    return lo_half_f(dm) * s + hi_half_f(dm) * (sum4(xs.a) + sum4(xs.b));
  }
};

// Spreads 4 bits (bit i of h) into bit 4 of byte i.
__device__ __forceinline__ uint32_t spread4_to_bit4(uint32_t h) {
  return ((h & 1u) << 4) | ((h & 2u) << 11) | ((h & 4u) << 18) | ((h & 8u) << 25);
}

struct WQ5_0 {
  static constexpr const char* kName = "q5_0";
  static constexpr int kBlockElems = 32, kBlockBytes = 22, kLanesPerBlock = 4;
  __device__ static float element(const uint8_t* row, int c) {
    const uint8_t* b = row + (c / 32) * kBlockBytes;
    const int j = c % 32;
    const uint32_t qh =
        uint32_t(b[2]) | (uint32_t(b[3]) << 8) | (uint32_t(b[4]) << 16) | (uint32_t(b[5]) << 24);
    const int lowbits = j < 16 ? (b[6 + j] & 0xf) : (b[6 + j - 16] >> 4);
    const int v = lowbits | int(((qh >> j) & 1u) << 4);
    return h2f(b) * float(v - 16);
  }
  __device__ static XPart load_x(const float* x, int p) {
    return {load_f4(x + 4 * p), load_f4(x + 16 + 4 * p)};
  }
  __device__ static float dot(const uint8_t* b, int p, const XPart& xs) {
    const uint32_t q = sm_u32_a2(b + 6 + 4 * p);
    const uint32_t qh = sm_u32_a2(b + 2);
    const uint32_t lo = (q & 0x0f0f0f0fu) | spread4_to_bit4(qh >> (4 * p));
    const uint32_t hi = ((q >> 4) & 0x0f0f0f0fu) | spread4_to_bit4(qh >> (16 + 4 * p));
    return sm_half(b) * (bytes_dot(lo, 16.0f, xs.a) + bytes_dot(hi, 16.0f, xs.b));
  }
};

// K-quants: 256 elements in 8 sub-blocks of 32 with 6-bit scales and mins. 32 lanes per block,
// lane part p covers 8 elements: sub-block s = p / 4, elements 32s + 8(p % 4) .. + 7.
__device__ __forceinline__ void k4_scale_min(const uint8_t* b, int s, float* dscale, float* dmin) {
  const uint8_t* sc = b + 4;
  int scale, mn;
  if (s < 4) {
    scale = sc[s] & 63;
    mn = sc[s + 4] & 63;
  } else {
    scale = (sc[s + 4] & 0xf) | ((sc[s - 4] >> 6) << 4);
    mn = (sc[s + 4] >> 4) | ((sc[s] >> 6) << 4);
  }
  const uint32_t dm = sm_u32(b);
  *dscale = lo_half_f(dm) * float(scale);
  *dmin = hi_half_f(dm) * float(mn);
}

__device__ __forceinline__ XPart load_x8(const float* x) {
  return {load_f4(x), load_f4(x + 4)};
}

struct WQ4_K {
  static constexpr const char* kName = "q4_k";
  static constexpr int kBlockElems = 256, kBlockBytes = 144, kLanesPerBlock = 32;
  __device__ static float element(const uint8_t* row, int c) {
    const uint8_t* b = row + (c / 256) * kBlockBytes;
    const int e = c % 256, s = e / 32, l = e % 32;
    uint8_t sc, m;
    q::get_scale_min_k4(s, b + 4, &sc, &m);
    const uint8_t byte = b[16 + 32 * (s / 2) + l];
    const int v = (s & 1) ? (byte >> 4) : (byte & 0xf);
    return h2f(b) * float(sc) * float(v) - h2f(b + 2) * float(m);
  }
  __device__ static XPart load_x(const float* x, int p) { return load_x8(x + 8 * p); }
  __device__ static float dot(const uint8_t* b, int p, const XPart& xs) {
    const int s = p / 4, l0 = 8 * (p % 4);
    const uint2 qq = *reinterpret_cast<const uint2*>(b + 16 + 32 * (s / 2) + l0);
    const int shift = (s & 1) * 4;
    const uint32_t q0 = (qq.x >> shift) & 0x0f0f0f0fu, q1 = (qq.y >> shift) & 0x0f0f0f0fu;
    const float acc = bytes_dot(q0, 0.0f, xs.a) + bytes_dot(q1, 0.0f, xs.b);
    float dscale, dmin;
    k4_scale_min(b, s, &dscale, &dmin);
    return dscale * acc - dmin * (sum4(xs.a) + sum4(xs.b));
  }
};

struct WQ5_K {
  static constexpr const char* kName = "q5_k";
  static constexpr int kBlockElems = 256, kBlockBytes = 176, kLanesPerBlock = 32;
  __device__ static float element(const uint8_t* row, int c) {
    const uint8_t* b = row + (c / 256) * kBlockBytes;
    const int e = c % 256, s = e / 32, l = e % 32;
    uint8_t sc, m;
    q::get_scale_min_k4(s, b + 4, &sc, &m);
    const uint8_t byte = b[48 + 32 * (s / 2) + l];
    int v = (s & 1) ? (byte >> 4) : (byte & 0xf);
    v += ((b[16 + l] >> s) & 1) << 4;
    return h2f(b) * float(sc) * float(v) - h2f(b + 2) * float(m);
  }
  __device__ static XPart load_x(const float* x, int p) { return load_x8(x + 8 * p); }
  __device__ static float dot(const uint8_t* b, int p, const XPart& xs) {
    const int s = p / 4, l0 = 8 * (p % 4);
    const uint2 qq = *reinterpret_cast<const uint2*>(b + 48 + 32 * (s / 2) + l0);
    const uint2 hh = *reinterpret_cast<const uint2*>(b + 16 + l0);
    const int shift = (s & 1) * 4;
    const uint32_t q0 = ((qq.x >> shift) & 0x0f0f0f0fu) | (((hh.x >> s) & 0x01010101u) << 4);
    const uint32_t q1 = ((qq.y >> shift) & 0x0f0f0f0fu) | (((hh.y >> s) & 0x01010101u) << 4);
    const float acc = bytes_dot(q0, 0.0f, xs.a) + bytes_dot(q1, 0.0f, xs.b);
    float dscale, dmin;
    k4_scale_min(b, s, &dscale, &dmin);
    return dscale * acc - dmin * (sum4(xs.a) + sum4(xs.b));
  }
};

// Q6_K: element e: half h = e/128, quadrant t = (e%128)/32, l = e%32; low 4 bits from
// ql[64h + 32(t&1) + l] (low nibble for t<2, high for t>=2), high 2 bits from qh[32h + l] at
// bit 2t, scale scales[8h + 2t + l/16]; value d·scale·(q − 32).
struct WQ6_K {
  static constexpr const char* kName = "q6_k";
  static constexpr int kBlockElems = 256, kBlockBytes = 210, kLanesPerBlock = 32;
  __device__ static float element(const uint8_t* row, int c) {
    const uint8_t* b = row + (c / 256) * kBlockBytes;
    const int e = c % 256, h = e / 128, t = (e % 128) / 32, l = e % 32;
    const uint8_t lowb = b[64 * h + 32 * (t & 1) + l];
    const int lo = t < 2 ? (lowb & 0xf) : (lowb >> 4);
    const int hi = (b[128 + 32 * h + l] >> (2 * t)) & 3;
    const int sc = int8_t(b[192 + 8 * h + 2 * t + l / 16]);
    return h2f(b + 208) * float(sc) * float((lo | (hi << 4)) - 32);
  }
  __device__ static XPart load_x(const float* x, int p) { return load_x8(x + 8 * p); }
  // Part p in [0, 32): elements 8p .. 8p+7 (one scale). Blocks are 2-byte aligned.
  __device__ static float dot(const uint8_t* b, int p, const XPart& xs) {
    const int h = p / 16, t = (p % 16) / 4, l0 = 8 * (p % 4);
    const uint8_t* ql = b + 64 * h + 32 * (t & 1) + l0;
    const uint8_t* qh = b + 128 + 32 * h + l0;
    const int lshift = t < 2 ? 0 : 4, hshift = 2 * t;
    const uint32_t l_0 = (sm_u32_a2(ql) >> lshift) & 0x0f0f0f0fu;
    const uint32_t l_1 = (sm_u32_a2(ql + 4) >> lshift) & 0x0f0f0f0fu;
    const uint32_t h_0 = ((sm_u32_a2(qh) >> hshift) & 0x03030303u) << 4;
    const uint32_t h_1 = ((sm_u32_a2(qh + 4) >> hshift) & 0x03030303u) << 4;
    const float acc = bytes_dot(l_0 | h_0, 32.0f, xs.a) + bytes_dot(l_1 | h_1, 32.0f, xs.b);
    const int sc = int8_t(b[192 + 8 * h + 2 * t + l0 / 16]);
    return sm_half(b + 208) * float(sc) * acc;
  }
};

// Calls f(Tag{}) for every weight type with a name, in the spec's order.
template <typename F>
void for_each_weight_type(F&& f) {
  f(WF32{});
  f(WF16{});
  f(WBF16{});
  f(WQ8_0{});
  f(WQ4_0{});
  f(WQ4_1{});
  f(WQ5_0{});
  f(WQ4_K{});
  f(WQ5_K{});
  f(WQ6_K{});
}

}  // namespace stagefence::kernels::cuda
