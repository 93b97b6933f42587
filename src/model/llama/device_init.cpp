#include "model/llama/device_init.hpp"

#include <cmath>
#include <cstdint>
#include <mutex>
#include <string>

#include "kernels/quant_blocks.hpp"
#include "model/llama/device_init_hash.hpp"
#include "stagefence/error.hpp"
#include "stagefence/kernel.hpp"

namespace stagefence::llama {
namespace {

namespace di = device_init;

constexpr double kDrawSteps = 32768.0;  // draw16 spans [-kDrawSteps, kDrawSteps)
constexpr double kOutputGain = 3.0;
constexpr double kQ8Max = 127.0;            // q8_0 quants span [-127, 127]
constexpr double kQ4Half = 8.0;             // q4_0 weights span [-8, 7] * d
constexpr int32_t kNormOffset = 5 * 32768;  // norm gains: (kNormOffset + draw16) * 0.2 / 32768
constexpr double kNormSpread = 0.2;
constexpr double kBiasAmplitude = 0.1;
constexpr double kKvAmplitude = 1.0;

uint64_t fnv1a64(std::string_view s) {
  uint64_t h = 0xcbf29ce484222325ull;
  for (unsigned char ch : s) h = (h ^ ch) * 0x100000001b3ull;
  return h;
}

uint64_t splitmix64(uint64_t z) {
  z = (z ^ (z >> 30)) * 0xBF58476D1CE4E5B9ull;
  z = (z ^ (z >> 27)) * 0x94D049BB133111EBull;
  return z ^ (z >> 31);
}

di::HashFormat format_of(DType dtype) {
  switch (dtype) {
    case DType::F32:
      return di::HashFormat::F32;
    case DType::F16:
      return di::HashFormat::F16;
    case DType::BF16:
      return di::HashFormat::BF16;
    case DType::Q8_0:
      return di::HashFormat::Q8_0;
    case DType::Q4_0:
      return di::HashFormat::Q4_0;
    default:
      raise(ErrorCode::Unsupported, "the hash initialiser cannot write " +
                                        std::string(dtype_name(dtype)) +
                                        " (f32, f16, bf16, q8_0 and q4_0 only)");
  }
}

bool is_block_format(di::HashFormat f) {
  return f == di::HashFormat::Q8_0 || f == di::HashFormat::Q4_0;
}

// The fill of values uniform in [-amplitude, amplitude) stored as `dtype`.
HashFill amplitude_fill(HashKey key, DType dtype, double amplitude) {
  HashFill f;
  f.key = key;
  f.dtype = dtype;
  f.scale = float(amplitude / kDrawSteps);
  const di::HashFormat format = format_of(dtype);
  if (format == di::HashFormat::Q8_0) f.block_d = quant::float_to_half(float(amplitude / kQ8Max));
  if (format == di::HashFormat::Q4_0) f.block_d = quant::float_to_half(float(amplitude / kQ4Half));
  return f;
}

}  // namespace

HashKey hash_key(uint64_t seed, std::string_view name) {
  const uint64_t k = splitmix64(seed ^ fnv1a64(name));
  return {uint32_t(k), uint32_t(k >> 32)};
}

HashFill weight_fill(const TensorSpec& spec, DType dtype, uint64_t seed) {
  const HashKey key = hash_key(seed, spec.name);
  const double cols = double(spec.cols);
  switch (spec.role) {
    case TensorRole::Embedding:
      return amplitude_fill(key, dtype, std::sqrt(3.0));
    case TensorRole::Matrix:
    case TensorRole::TiedEmbedding:
      return amplitude_fill(key, dtype, std::sqrt(3.0 / cols));
    case TensorRole::Output:
      return amplitude_fill(key, dtype, kOutputGain * std::sqrt(3.0 / cols));
    case TensorRole::Bias:
      return amplitude_fill(key, dtype, kBiasAmplitude);
    case TensorRole::Norm: {
      if (is_block_format(format_of(dtype)))
        raise(ErrorCode::Unsupported, "norm " + spec.name + " cannot be block-quantised");
      HashFill f = amplitude_fill(key, dtype, kNormSpread);
      f.offset = kNormOffset;
      return f;
    }
  }
  raise(ErrorCode::Internal, "weight_fill: unknown role of " + spec.name);
}

HashFill kv_fill(uint64_t seed, int layer, bool values) {
  const std::string name = "blk." + std::to_string(layer) + (values ? ".cache_v" : ".cache_k");
  return amplitude_fill(hash_key(seed, name), DType::F16, kKvAmplitude);
}

void record_hash_fill(CommandEncoder& enc, const Buffer& out, uint64_t elements,
                      const HashFill& fill) {
  register_device_init_kernels();
  const di::HashFormat format = format_of(fill.dtype);
  if (elements == 0 || elements > (uint64_t(1) << 32))
    raise(ErrorCode::InvalidArgument,
          "record_hash_fill: " + std::to_string(elements) + " elements (need 1 to 2^32)");
  const uint64_t bytes = dtype_bytes(fill.dtype, elements);  // throws for partial blocks
  if (out.size() < bytes)
    raise(ErrorCode::InvalidArgument, "record_hash_fill: " + std::to_string(elements) + " " +
                                          std::string(dtype_name(fill.dtype)) + " elements need " +
                                          std::to_string(bytes) + " bytes; the buffer holds " +
                                          std::to_string(out.size()));
  const uint64_t units = is_block_format(format) ? elements / quant::QK8_0 : elements;
  static const KernelId kernel = KernelRegistry::global().id("init.hash");
  enc.dispatch(kernel, {writes(out, 0, bytes)},
               {Scalar(units), Scalar(uint32_t(format)), Scalar(fill.key.a), Scalar(fill.key.b),
                Scalar(fill.scale), Scalar(int(fill.offset)), Scalar(uint32_t(fill.block_d))});
}

void record_hash_kv_fill(CommandEncoder& enc, const Buffer& cache, int kv_heads, int capacity,
                         int head_dim, int positions, const HashFill& fill) {
  register_device_init_kernels();
  if (fill.dtype != DType::F16)
    raise(ErrorCode::InvalidArgument, "record_hash_kv_fill: the KV cache is f16, the fill is " +
                                          std::string(dtype_name(fill.dtype)));
  if (kv_heads < 1 || capacity < 1 || head_dim < 1 || positions < 0 || positions > capacity)
    raise(ErrorCode::InvalidArgument,
          "record_hash_kv_fill: positions " + std::to_string(positions) + " of a cache [" +
              std::to_string(kv_heads) + ", " + std::to_string(capacity) + ", " +
              std::to_string(head_dim) + "]");
  const uint64_t bytes = uint64_t(kv_heads) * uint64_t(capacity) * uint64_t(head_dim) * 2;
  if (cache.size() < bytes)
    raise(ErrorCode::InvalidArgument, "record_hash_kv_fill: the cache holds " +
                                          std::to_string(cache.size()) + " bytes, needs " +
                                          std::to_string(bytes));
  if (uint64_t(positions) * uint64_t(kv_heads) * uint64_t(head_dim) > (uint64_t(1) << 32))
    raise(ErrorCode::InvalidArgument, "record_hash_kv_fill: 2^32 or more elements");
  if (positions == 0) return;
  static const KernelId kernel = KernelRegistry::global().id("init.hash_kv");
  enc.dispatch(kernel, {writes(cache, 0, bytes)},
               {Scalar(kv_heads), Scalar(capacity), Scalar(head_dim), Scalar(positions),
                Scalar(fill.key.a), Scalar(fill.key.b), Scalar(fill.scale)});
}

void register_device_init_kernels() {
  static std::once_flag once;
  std::call_once(once, [] {
    register_cpu_device_init_kernels();
#if defined(STAGEFENCE_WITH_CUDA)
    register_cuda_device_init_kernels();
#endif
  });
}

}  // namespace stagefence::llama
