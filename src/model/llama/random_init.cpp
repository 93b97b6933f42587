#include "model/llama/random_init.hpp"

#include <algorithm>
#include <cmath>
#include <cstdint>
#include <string>
#include <thread>

#include "kernels/quantize.hpp"
#include "stagefence/error.hpp"

namespace stagefence::llama {
namespace {

uint64_t mix64(uint64_t z) {
  z = (z ^ (z >> 30)) * 0xBF58476D1CE4E5B9ull;
  z = (z ^ (z >> 27)) * 0x94D049BB133111EBull;
  return z ^ (z >> 31);
}

uint64_t name_hash(const std::string& s) {
  uint64_t h = 0xcbf29ce484222325ull;  // FNV-1a
  for (unsigned char ch : s) h = (h ^ ch) * 0x100000001b3ull;
  return h;
}

// Uniform in [-1, 1).
float symmetric_uniform(uint64_t key, uint64_t index) {
  const uint64_t z = mix64(key + (index + 1) * 0x9E3779B97F4A7C15ull);
  return float(double(z >> 11) * (2.0 / 9007199254740992.0) - 1.0);
}

constexpr float kSqrt3 = 1.7320508f;  // uniform on [-a, a] has variance a²/3
constexpr float kOutputGain = 3.0f;
// A tied embedding is also the output matrix: with unit variance every token would predict
// itself, so it gets variance 1/dim (logits of about unit spread).

}  // namespace

DType WeightTypes::type_of(const TensorSpec& spec) const {
  if (spec.is_vector()) return DType::F32;
  if (spec.role == TensorRole::Embedding || spec.role == TensorRole::TiedEmbedding)
    return embedding;
  if (spec.role == TensorRole::Output) return output;
  if (spec.name.find("ffn_down") != std::string::npos) return ffn_down;
  if (spec.name.find("ffn_") != std::string::npos) return ffn_gate_up;
  return attention;
}

void random_values(const TensorSpec& spec, uint64_t seed, int64_t row_begin, int64_t row_end,
                   float* out) {
  const uint64_t key = mix64(seed ^ name_hash(spec.name));
  float scale = 1.0f, offset = 0.0f;
  switch (spec.role) {
    case TensorRole::Embedding:
      scale = kSqrt3;
      break;
    case TensorRole::Matrix:
      scale = kSqrt3 / std::sqrt(float(spec.cols));
      break;
    case TensorRole::TiedEmbedding:
      scale = kSqrt3 / std::sqrt(float(spec.cols));
      break;
    case TensorRole::Output:
      scale = kOutputGain * kSqrt3 / std::sqrt(float(spec.cols));
      break;
    case TensorRole::Norm:
      scale = 0.2f, offset = 1.0f;
      break;
    case TensorRole::Bias:
      scale = 0.1f;
      break;
  }
  const uint64_t first = uint64_t(row_begin) * uint64_t(spec.cols);
  const uint64_t count = uint64_t(row_end - row_begin) * uint64_t(spec.cols);
  for (uint64_t i = 0; i < count; ++i) out[i] = offset + scale * symmetric_uniform(key, first + i);
}

std::vector<uint8_t> random_tensor_bytes(const TensorSpec& spec, DType dtype, uint64_t seed,
                                         int64_t row_begin, int64_t row_end) {
  if (row_begin < 0 || row_end > spec.rows || row_begin > row_end)
    raise(ErrorCode::OutOfRange, "random_tensor_bytes: rows [" + std::to_string(row_begin) + ", " +
                                     std::to_string(row_end) + ") outside " + spec.name);
  if (!kernels::can_quantize(dtype))
    raise(ErrorCode::Unsupported,
          "random weights: cannot encode " + spec.name + " as " + std::string(dtype_name(dtype)));
  // Throws for rows that are not whole blocks, before any thread starts.
  const uint64_t row_bytes = dtype_bytes(dtype, uint64_t(spec.cols));
  std::vector<uint8_t> bytes(row_bytes * uint64_t(row_end - row_begin));
  const int64_t rows = row_end - row_begin;
  // One thread per ~256k elements, at most the hardware's threads.
  const int64_t work = rows * spec.cols;
  const int threads = int(
      std::clamp<int64_t>(work / (1 << 18), 1, std::max(1u, std::thread::hardware_concurrency())));
  auto fill = [&](int64_t r0, int64_t r1) {
    std::vector<float> values(size_t((r1 - r0) * spec.cols));
    random_values(spec, seed, row_begin + r0, row_begin + r1, values.data());
    kernels::quantize(dtype, values.data(), bytes.data() + uint64_t(r0) * row_bytes,
                      (r1 - r0) * spec.cols);
  };
  if (threads == 1) {
    fill(0, rows);
    return bytes;
  }
  std::vector<std::thread> pool;
  const int64_t per = (rows + threads - 1) / threads;
  for (int t = 0; t < threads; ++t) {
    const int64_t r0 = std::min(rows, t * per), r1 = std::min(rows, r0 + per);
    if (r0 < r1) pool.emplace_back(fill, r0, r1);
  }
  for (auto& th : pool) th.join();
  return bytes;
}

}  // namespace stagefence::llama
