// Helpers for the CUDA backend tests: open the CUDA device (skipping cleanly without a GPU),
// random inputs, and reading the timestamp kernel's output.
//
// Several tests fault on purpose, and a CUDA fault is fatal to the process's context: run these
// tests through ctest (one process per test) or one at a time with --gtest_filter.
#pragma once
#include <gtest/gtest.h>

#include <cstdint>
#include <cstdlib>
#include <limits>
#include <optional>
#include <random>
#include <string>
#include <vector>

#include "scoped_env.hpp"
#include "stagefence/stagefence.hpp"

namespace sf = stagefence;

namespace cudatest {

// Opens the CUDA backend (with `o`'s other settings), or returns nothing when this machine has
// no usable GPU.
inline std::optional<sf::Device> open_cuda(sf::DeviceOptions o = {}) {
  try {
    o.backend = sf::BackendKind::Cuda;
    return sf::Device::open(o);
  } catch (const sf::Error& e) {
    if (e.code() == sf::ErrorCode::Unsupported) return std::nullopt;
    throw;
  }
}

#define SF_OPEN_CUDA_OR_SKIP(var)                                          \
  auto var##_opt = ::cudatest::open_cuda();                                \
  if (!var##_opt) GTEST_SKIP() << "no usable CUDA device on this machine"; \
  sf::Device& var = *var##_opt

inline std::vector<float> random_floats(size_t n, uint32_t seed, float lo = -4.0f,
                                        float hi = 4.0f) {
  std::mt19937 rng(seed);
  std::uniform_real_distribution<float> dist(lo, hi);
  std::vector<float> v(n);
  for (float& x : v) x = dist(rng);
  return v;
}

inline sf::Buffer upload_f32(sf::Device& dev, const std::vector<float>& v) {
  auto b = dev.alloc(sf::DType::F32, {static_cast<int64_t>(v.size())});
  b.upload(v);
  return b;
}

// A buffer of n floats holding NaN, so unwritten outputs show.
inline sf::Buffer poisoned_f32(sf::Device& dev, size_t n) {
  return upload_f32(dev, std::vector<float>(n, std::numeric_limits<float>::quiet_NaN()));
}

// Start and end (GPU %globaltimer, ns) written by the timestamp_spin kernel.
struct Interval {
  uint64_t start = 0, end = 0;
};
inline Interval read_interval(const sf::Buffer& b) {
  auto v = b.to_vector<uint64_t>();
  return {v[0], v[1]};
}

inline void spin(sf::CommandEncoder& enc, const sf::Buffer& stamp, uint64_t ns,
                 bool read_write = false) {
  enc.dispatch("timestamp_spin", {read_write ? sf::reads_writes(stamp) : sf::writes(stamp)}, {ns});
}

}  // namespace cudatest
