// Shared helpers for the CPU kernel tests: hand-filled KernelArgs, runs of a kernel over its
// whole grid and split into uneven block ranges, random data and bitwise comparison.
#pragma once
#include <gtest/gtest.h>

#include <cmath>
#include <cstdint>
#include <cstring>
#include <limits>
#include <random>
#include <stdexcept>
#include <string>
#include <vector>

#include "kernels/cpu/cpu_kernels.hpp"
#include "kernels/quant_blocks.hpp"
#include "stagefence/dtype.hpp"
#include "stagefence/kernel_args.hpp"

namespace stagefence::kernels::testing {

inline const cpu::CpuKernel& kernel(const std::string& name) {
  const cpu::CpuKernel* k = cpu::find_forward_kernel(name);
  if (!k) throw std::runtime_error("no CPU kernel named " + name);
  return *k;
}

// Fills KernelArgs the way the runtime does: bindings and scalars in declaration order.
class ArgsBuilder {
 public:
  ArgsBuilder() { std::memset(&args_, 0, sizeof args_); }
  template <typename T>
  ArgsBuilder& bind(std::vector<T>& v) {
    args_.ptr[args_.num_bindings] = v.data();
    args_.len[args_.num_bindings] = v.size() * sizeof(T);
    ++args_.num_bindings;
    return *this;
  }
  ArgsBuilder& scalar(Scalar s) {
    args_.s[args_.num_scalars++] = s.word;
    return *this;
  }
  const KernelArgs& args() const { return args_; }

 private:
  KernelArgs args_;
};

// Runs blocks [0, count) of the kernel's own launch in one call.
inline Launch run_full(const cpu::CpuKernel& k, const KernelArgs& args) {
  const Launch launch = k.launch(args);
  k.fn(args, launch, 0, launch.grid.count());
  return launch;
}

// Runs the kernel's own launch as two uneven ranges [0, cut) and [cut, count).
inline Launch run_split(const cpu::CpuKernel& k, const KernelArgs& args) {
  const Launch launch = k.launch(args);
  const uint64_t count = launch.grid.count();
  const uint64_t cut = count / 3 + 1 < count ? count / 3 + 1 : count;
  k.fn(args, launch, 0, cut);
  k.fn(args, launch, cut, count);
  return launch;
}

// Runs a foreign 7-block grid as [0, 2), [2, 3), [3, 7): any grid must give the same result.
inline void run_foreign_grid(const cpu::CpuKernel& k, const KernelArgs& args) {
  Launch launch;
  launch.grid.x = 7;
  k.fn(args, launch, 0, 2);
  k.fn(args, launch, 2, 3);
  k.fn(args, launch, 3, 7);
}

enum class RunMode { Full, Split, ForeignGrid };
inline constexpr RunMode kAllRunModes[] = {RunMode::Full, RunMode::Split, RunMode::ForeignGrid};

inline void run(const cpu::CpuKernel& k, const KernelArgs& args, RunMode mode) {
  switch (mode) {
    case RunMode::Full:
      run_full(k, args);
      break;
    case RunMode::Split:
      run_split(k, args);
      break;
    case RunMode::ForeignGrid:
      run_foreign_grid(k, args);
      break;
  }
}

inline std::vector<float> random_floats(std::mt19937& rng, size_t n, float lo = -1.0f,
                                        float hi = 1.0f) {
  std::uniform_real_distribution<float> dist(lo, hi);
  std::vector<float> v(n);
  for (float& x : v) {
    do x = dist(rng);
    while (x == 0.0f);
  }
  return v;
}

template <typename T>
void poison(std::vector<T>& v) {
  if constexpr (std::is_floating_point_v<T>) {
    std::fill(v.begin(), v.end(), std::numeric_limits<T>::quiet_NaN());
  } else {
    std::memset(v.data(), 0xA5, v.size() * sizeof(T));
  }
}

// A random row-major weight of `elems` elements of type t: plain types hold random floats; block
// types hold random quant bits with scales drawn from ranges that keep values near [-2, 2].
inline std::vector<uint8_t> random_weight_bytes(std::mt19937& rng, DType t, int64_t elems) {
  std::vector<uint8_t> bytes(dtype_bytes(t, uint64_t(elems)));
  std::uniform_real_distribution<float> unit(-1.0f, 1.0f);
  auto u = [&](float lo, float hi) { return lo + (hi - lo) * (unit(rng) * 0.5f + 0.5f); };
  auto put_half = [&](size_t at, float v) {
    const uint16_t h = quant::float_to_half(v);
    std::memcpy(&bytes[at], &h, 2);
  };
  if (t == DType::F32 || t == DType::F16 || t == DType::BF16) {
    const std::vector<float> v = random_floats(rng, size_t(elems));
    for (int64_t i = 0; i < elems; ++i) {
      if (t == DType::F32)
        std::memcpy(&bytes[4 * i], &v[i], 4);
      else if (t == DType::F16)
        put_half(2 * i, v[i]);
      else {
        const uint16_t b = quant::float_to_bf16(v[i]);
        std::memcpy(&bytes[2 * i], &b, 2);
      }
    }
    return bytes;
  }
  std::uniform_int_distribution<int> byte(0, 255);
  for (uint8_t& b : bytes) b = uint8_t(byte(rng));
  const DTypeInfo* info = dtype_info(t);
  const float sign[2] = {-1.0f, 1.0f};
  for (size_t at = 0; at < bytes.size(); at += info->block_bytes) {
    switch (t) {
      case DType::Q8_0:
        put_half(at, sign[byte(rng) & 1] * u(0.002f, 0.015f));
        break;
      case DType::Q4_0:
        put_half(at, sign[byte(rng) & 1] * u(0.02f, 0.2f));
        break;
      case DType::Q5_0:
        put_half(at, sign[byte(rng) & 1] * u(0.01f, 0.1f));
        break;
      case DType::Q4_1:
        put_half(at, u(0.02f, 0.1f));
        put_half(at + 2, u(-1.0f, 0.5f));
        break;
      case DType::Q4_K:
      case DType::Q5_K:
        put_half(at, u(0.0005f, 0.002f));
        put_half(at + 2, u(0.0005f, 0.01f));
        break;
      case DType::Q6_K:
        put_half(at + 208, u(0.0002f, 0.001f));
        break;
      default:
        throw std::runtime_error("random_weight_bytes: unexpected type");
    }
  }
  return bytes;
}

// Byte-for-byte equality (NaNs included).
template <typename T>
::testing::AssertionResult bitwise_equal(const std::vector<T>& a, const std::vector<T>& b) {
  if (a.size() != b.size()) return ::testing::AssertionFailure() << "sizes differ";
  for (size_t i = 0; i < a.size(); ++i)
    if (std::memcmp(&a[i], &b[i], sizeof(T)) != 0)
      return ::testing::AssertionFailure()
             << "element " << i << " differs: " << a[i] << " vs " << b[i];
  return ::testing::AssertionSuccess();
}

}  // namespace stagefence::kernels::testing
