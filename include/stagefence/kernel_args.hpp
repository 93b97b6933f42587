// The single parameter block every kernel receives, on every backend.
// Bindings fill ptr/len in the order they were declared; scalars fill s[] in order, or one
// trivially copyable params struct fills s[] with its bytes (params<P>() reads it back).
// This header compiles under both a C++ compiler and nvcc.
#pragma once
#include <cstdint>
#include <cstring>
#include <type_traits>

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
  SF_HD T* p(int i) const {
    return static_cast<T*>(ptr[i]);
  }
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
  // The scalar words as the params struct P (the dispatch checked that enough were passed).
  template <typename P>
  SF_HD P params() const {
    static_assert(std::is_trivially_copyable_v<P>, "kernel params must be trivially copyable");
    static_assert(sizeof(P) <= sizeof(s), "kernel params exceed the scalar words");
    P p;
    memcpy(&p, s, sizeof p);
    return p;
  }
};

// The number of scalar words a params struct fills.
template <typename P>
inline constexpr uint32_t kParamWords = uint32_t((sizeof(P) + 7) / 8);

// An f32 scalar that fills one whole word the way Scalar(float) writes it (bits in the low half,
// zero above), so a params struct of int64_t and ScalarF32 fields has the positional layout.
struct ScalarF32 {
  float value = 0.0f;
  uint32_t zero_ = 0;
  ScalarF32() = default;
  SF_HD ScalarF32(float v) : value(v) {}
  SF_HD operator float() const { return value; }
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
  explicit Scalar(ScalarF32 v) : Scalar(v.value) {}
};

}  // namespace stagefence
