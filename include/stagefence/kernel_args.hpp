// The single parameter block every kernel receives, on every backend.
// Bindings fill ptr/len in the order they were declared; scalars fill s[] in order.
// This header compiles under both a C++ compiler and nvcc.
#pragma once
#include <cstdint>
#include <cstring>

#if defined(__CUDACC__)
#define SF_HD __host__ __device__ __forceinline__
#else
#define SF_HD inline
#endif

namespace stagefence {

inline constexpr int kMaxBindings = 12;
inline constexpr int kMaxScalars = 16;

struct Dim3 {
  uint32_t x = 1, y = 1, z = 1;
  SF_HD uint64_t count() const { return uint64_t(x) * y * z; }
};

struct KernelArgs {
  void* ptr[kMaxBindings];     // start of binding i's byte range
  uint64_t len[kMaxBindings];  // byte length of binding i's range
  uint64_t s[kMaxScalars];     // scalar words, written with the set_* helpers
  uint32_t num_bindings;
  uint32_t num_scalars;

  template <typename T>
  SF_HD T* p(int i) const { return static_cast<T*>(ptr[i]); }
  SF_HD int64_t i64(int i) const { return static_cast<int64_t>(s[i]); }
  SF_HD int32_t i32(int i) const { return static_cast<int32_t>(s[i]); }
  SF_HD uint32_t u32(int i) const { return static_cast<uint32_t>(s[i]); }
  SF_HD float f32(int i) const {
    uint32_t bits = static_cast<uint32_t>(s[i]);
    float f;
    memcpy(&f, &bits, sizeof f);
    return f;
  }
  SF_HD double f64(int i) const {
    double d;
    memcpy(&d, &s[i], sizeof d);
    return d;
  }
};

// Encodes one scalar word the way KernelArgs reads it back.
struct Scalar {
  uint64_t word = 0;
  Scalar() = default;
  Scalar(int v) : word(static_cast<uint64_t>(static_cast<int64_t>(v))) {}
  Scalar(unsigned v) : word(v) {}
  Scalar(long v) : word(static_cast<uint64_t>(static_cast<int64_t>(v))) {}
  Scalar(unsigned long v) : word(v) {}
  Scalar(long long v) : word(static_cast<uint64_t>(v)) {}
  Scalar(unsigned long long v) : word(v) {}
  Scalar(float v) {
    uint32_t bits;
    memcpy(&bits, &v, sizeof bits);
    word = bits;
  }
  Scalar(double v) { memcpy(&word, &v, sizeof word); }
};

}  // namespace stagefence
