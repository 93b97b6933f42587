// Weight types of the forward pass on the device: one tag struct per GGUF type with its block
// geometry, a per-element decoder (embedding rows, tiled prefill matmul) and a per-lane block
// dot product used by the quantised matrix-vector kernel.
#pragma once
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

// Block types. In the matvec kernel `kLanesPerBlock` consecutive lanes share one block, lane
// part p taking kBlockElems / kLanesPerBlock of its elements, so a warp covers 32 / kLanesPerBlock
// consecutive blocks per step and its x reads are contiguous. dot(b, p, x) returns the part's
// sum of w[e]·x[e] with b the block in global memory and x its first input element.
__device__ __forceinline__ uint32_t ldg_u16(const uint8_t* p) {
  return __ldg(reinterpret_cast<const unsigned short*>(p));
}
// Four bytes at a 2-byte-aligned address.
__device__ __forceinline__ uint32_t ldg_u32_a2(const uint8_t* p) {
  return ldg_u16(p) | (ldg_u16(p + 2) << 16);
}
__device__ __forceinline__ uint32_t ldg_u32(const uint8_t* p) {
  return __ldg(reinterpret_cast<const unsigned int*>(p));
}
__device__ __forceinline__ float ldg_half(const uint8_t* p) {
  return __half2float(__ushort_as_half(static_cast<unsigned short>(ldg_u16(p))));
}
// Byte k of w as a float, signed or not.
__device__ __forceinline__ float sbyte(uint32_t w, int k) { return float(int8_t(w >> (8 * k))); }
__device__ __forceinline__ float ubyte(uint32_t w, int k) { return float((w >> (8 * k)) & 0xffu); }
__device__ __forceinline__ float dot4(float a, float b, float c, float d, float4 x) {
  return a * x.x + b * x.y + c * x.z + d * x.w;
}

struct WQ8_0 {
  static constexpr const char* kName = "q8_0";
  static constexpr int kBlockElems = 32, kBlockBytes = 34, kLanesPerBlock = 8;
  __device__ static float element(const uint8_t* row, int c) {
    const uint8_t* b = row + (c / 32) * kBlockBytes;
    return h2f(b) * float(int8_t(b[2 + c % 32]));
  }
  __device__ static float dot(const uint8_t* b, int p, const float* x) {
    const uint32_t q = ldg_u32_a2(b + 2 + 4 * p);
    const float4 xv = load_f4(x + 4 * p);
    return ldg_half(b) * dot4(sbyte(q, 0), sbyte(q, 1), sbyte(q, 2), sbyte(q, 3), xv);
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
  // Part p: elements 4p..4p+3 (low nibbles) and 16+4p..16+4p+3 (high nibbles).
  __device__ static float dot(const uint8_t* b, int p, const float* x) {
    const uint32_t q = ldg_u32_a2(b + 2 + 4 * p);
    const uint32_t lo = q & 0x0f0f0f0fu, hi = (q >> 4) & 0x0f0f0f0fu;
    const float4 xl = load_f4(x + 4 * p), xh = load_f4(x + 16 + 4 * p);
    const float s = dot4(ubyte(lo, 0), ubyte(lo, 1), ubyte(lo, 2), ubyte(lo, 3), xl) +
                    dot4(ubyte(hi, 0), ubyte(hi, 1), ubyte(hi, 2), ubyte(hi, 3), xh);
    const float xsum = (xl.x + xl.y) + (xl.z + xl.w) + (xh.x + xh.y) + (xh.z + xh.w);
    return ldg_half(b) * (s - 8.0f * xsum);
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
  __device__ static float dot(const uint8_t* b, int p, const float* x) {
    const uint32_t q = ldg_u32(b + 4 + 4 * p);
    const uint32_t lo = q & 0x0f0f0f0fu, hi = (q >> 4) & 0x0f0f0f0fu;
    const float4 xl = load_f4(x + 4 * p), xh = load_f4(x + 16 + 4 * p);
    const float s = dot4(ubyte(lo, 0), ubyte(lo, 1), ubyte(lo, 2), ubyte(lo, 3), xl) +
                    dot4(ubyte(hi, 0), ubyte(hi, 1), ubyte(hi, 2), ubyte(hi, 3), xh);
    const float xsum = (xl.x + xl.y) + (xl.z + xl.w) + (xh.x + xh.y) + (xh.z + xh.w);
    const uint32_t dm = ldg_u32(b);
    return lo_half_f(dm) * s + hi_half_f(dm) * xsum;
  }
};

struct WQ5_0 {
  static constexpr const char* kName = "q5_0";
  static constexpr int kBlockElems = 32, kBlockBytes = 22, kLanesPerBlock = 4;
  __device__ static float element(const uint8_t* row, int c) {
    const uint8_t* b = row + (c / 32) * kBlockBytes;
    const int j = c % 32;
    const uint32_t qh = uint32_t(b[2]) | (uint32_t(b[3]) << 8) | (uint32_t(b[4]) << 16) |
                        (uint32_t(b[5]) << 24);
    const int lowbits = j < 16 ? (b[6 + j] & 0xf) : (b[6 + j - 16] >> 4);
    const int v = lowbits | int(((qh >> j) & 1u) << 4);
    return h2f(b) * float(v - 16);
  }
  __device__ static float dot(const uint8_t* b, int p, const float* x) {
    const uint32_t q = ldg_u32_a2(b + 6 + 4 * p);
    const uint32_t qh = ldg_u32_a2(b + 2);
    const uint32_t hl = qh >> (4 * p), hh = qh >> (16 + 4 * p);
    // Spread 4 high bits into bit 4 of each byte.
    const uint32_t hlb = ((hl & 1u) << 4) | ((hl & 2u) << 11) | ((hl & 4u) << 18) | ((hl & 8u) << 25);
    const uint32_t hhb = ((hh & 1u) << 4) | ((hh & 2u) << 11) | ((hh & 4u) << 18) | ((hh & 8u) << 25);
    const uint32_t lo = (q & 0x0f0f0f0fu) | hlb, hi = ((q >> 4) & 0x0f0f0f0fu) | hhb;
    const float4 xl = load_f4(x + 4 * p), xh = load_f4(x + 16 + 4 * p);
    const float s = dot4(ubyte(lo, 0), ubyte(lo, 1), ubyte(lo, 2), ubyte(lo, 3), xl) +
                    dot4(ubyte(hi, 0), ubyte(hi, 1), ubyte(hi, 2), ubyte(hi, 3), xh);
    const float xsum = (xl.x + xl.y) + (xl.z + xl.w) + (xh.x + xh.y) + (xh.z + xh.w);
    return ldg_half(b) * (s - 16.0f * xsum);
  }
};

// K-quants: 256 elements in 8 sub-blocks of 32 with 6-bit scales and mins. 32 lanes per block,
// lane part p covers 8 elements: sub-block s = p / 4, elements 32s + 8(p % 4) .. + 7.
__device__ __forceinline__ void k4_scale_min(const uint8_t* b, int s, float* dscale, float* dmin) {
  const uint8_t* sc = b + 4;
  int scale, mn;
  if (s < 4) {
    scale = __ldg(sc + s) & 63;
    mn = __ldg(sc + s + 4) & 63;
  } else {
    scale = (__ldg(sc + s + 4) & 0xf) | ((__ldg(sc + s - 4) >> 6) << 4);
    mn = (__ldg(sc + s + 4) >> 4) | ((__ldg(sc + s) >> 6) << 4);
  }
  const uint32_t dm = ldg_u32(b);
  *dscale = lo_half_f(dm) * float(scale);
  *dmin = hi_half_f(dm) * float(mn);
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
  __device__ static float dot(const uint8_t* b, int p, const float* x) {
    const int s = p / 4, l0 = 8 * (p % 4);
    const uint2 qq = __ldg(reinterpret_cast<const uint2*>(b + 16 + 32 * (s / 2) + l0));
    const int shift = (s & 1) * 4;
    const uint32_t q0 = (qq.x >> shift) & 0x0f0f0f0fu, q1 = (qq.y >> shift) & 0x0f0f0f0fu;
    const float4 x0 = load_f4(x + 32 * s + l0), x1 = load_f4(x + 32 * s + l0 + 4);
    const float acc = dot4(ubyte(q0, 0), ubyte(q0, 1), ubyte(q0, 2), ubyte(q0, 3), x0) +
                      dot4(ubyte(q1, 0), ubyte(q1, 1), ubyte(q1, 2), ubyte(q1, 3), x1);
    const float xsum = (x0.x + x0.y) + (x0.z + x0.w) + (x1.x + x1.y) + (x1.z + x1.w);
    float dscale, dmin;
    k4_scale_min(b, s, &dscale, &dmin);
    return dscale * acc - dmin * xsum;
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
  __device__ static float dot(const uint8_t* b, int p, const float* x) {
    const int s = p / 4, l0 = 8 * (p % 4);
    const uint2 qq = __ldg(reinterpret_cast<const uint2*>(b + 48 + 32 * (s / 2) + l0));
    const uint2 hh = __ldg(reinterpret_cast<const uint2*>(b + 16 + l0));
    const int shift = (s & 1) * 4;
    const uint32_t q0 = ((qq.x >> shift) & 0x0f0f0f0fu) | (((hh.x >> s) & 0x01010101u) << 4);
    const uint32_t q1 = ((qq.y >> shift) & 0x0f0f0f0fu) | (((hh.y >> s) & 0x01010101u) << 4);
    const float4 x0 = load_f4(x + 32 * s + l0), x1 = load_f4(x + 32 * s + l0 + 4);
    const float acc = dot4(ubyte(q0, 0), ubyte(q0, 1), ubyte(q0, 2), ubyte(q0, 3), x0) +
                      dot4(ubyte(q1, 0), ubyte(q1, 1), ubyte(q1, 2), ubyte(q1, 3), x1);
    const float xsum = (x0.x + x0.y) + (x0.z + x0.w) + (x1.x + x1.y) + (x1.z + x1.w);
    float dscale, dmin;
    k4_scale_min(b, s, &dscale, &dmin);
    return dscale * acc - dmin * xsum;
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
  // Part p in [0, 32): elements 8p .. 8p+7 (one scale).
  __device__ static float dot(const uint8_t* b, int p, const float* x) {
    const int h = p / 16, t = (p % 16) / 4, l0 = 8 * (p % 4);
    const uint8_t* ql = b + 64 * h + 32 * (t & 1) + l0;
    const uint8_t* qh = b + 128 + 32 * h + l0;
    const int lshift = t < 2 ? 0 : 4, hshift = 2 * t;
    const uint32_t l_0 = (ldg_u32_a2(ql) >> lshift) & 0x0f0f0f0fu;
    const uint32_t l_1 = (ldg_u32_a2(ql + 4) >> lshift) & 0x0f0f0f0fu;
    const uint32_t h_0 = ((ldg_u32_a2(qh) >> hshift) & 0x03030303u) << 4;
    const uint32_t h_1 = ((ldg_u32_a2(qh + 4) >> hshift) & 0x03030303u) << 4;
    const uint32_t q0 = l_0 | h_0, q1 = l_1 | h_1;
    const float4 x0 = load_f4(x + 8 * p), x1 = load_f4(x + 8 * p + 4);
    const float acc = dot4(ubyte(q0, 0), ubyte(q0, 1), ubyte(q0, 2), ubyte(q0, 3), x0) +
                      dot4(ubyte(q1, 0), ubyte(q1, 1), ubyte(q1, 2), ubyte(q1, 3), x1);
    const float xsum = (x0.x + x0.y) + (x0.z + x0.w) + (x1.x + x1.y) + (x1.z + x1.w);
    const int sc = int8_t(__ldg(b + 192 + 8 * h + 2 * t + l0 / 16));
    return ldg_half(b + 208) * float(sc) * (acc - 32.0f * xsum);
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
