#include "model/llama/kv_cache.hpp"

#include <unistd.h>

#include <cstdint>
#include <cstdio>
#include <string>

#include "stagefence/error.hpp"

namespace stagefence::llama {
namespace {

// Bytes the device can hold at most: the GPU's memory, or the host's physical memory.
uint64_t device_memory_bytes(const Device& device) {
  if (device.info().memory_bytes > 0) return device.info().memory_bytes;
  const long pages = sysconf(_SC_PHYS_PAGES), page = sysconf(_SC_PAGESIZE);
  return pages > 0 && page > 0 ? uint64_t(pages) * uint64_t(page) : 0;
}

std::string gib(double bytes) {
  char s[32];
  std::snprintf(s, sizeof s, "%.2f GiB", bytes / double(1ull << 30));
  return s;
}

}  // namespace

double KvCache::estimate_bytes(const LlamaConfig& config, int capacity) {
  // K and V, f16, per layer [kv_heads, capacity, head_dim]; in double so no size overflows.
  return 2.0 * 2.0 * double(config.layers) * double(config.kv_heads) * double(capacity) *
         double(config.head_dim);
}

KvCache KvCache::allocate(Device& device, const LlamaConfig& config, int capacity) {
  if (capacity <= 0)
    raise(ErrorCode::InvalidArgument,
          "KV cache capacity must be positive, got " + std::to_string(capacity));
  const double need = estimate_bytes(config, capacity);
  const uint64_t have = device_memory_bytes(device);
  if (have > 0 && need > double(have))
    raise(ErrorCode::OutOfRange,
          "a KV cache of " + std::to_string(capacity) + " positions (--context) needs " +
              gib(need) + " (" + std::to_string(config.layers) + " layers x K and V x " +
              std::to_string(config.kv_heads) + " kv heads x " + std::to_string(config.head_dim) +
              " x f16) and " + device.info().name + " has " + gib(double(have)) +
              " in all: use a smaller --context");
  KvCache cache;
  cache.capacity = capacity;
  const std::vector<int64_t> shape = {config.kv_heads, capacity, config.head_dim};
  for (int l = 0; l < config.layers; ++l) {
    cache.k.push_back(device.alloc(DType::F16, shape));
    cache.v.push_back(device.alloc(DType::F16, shape));
  }
  return cache;
}

uint64_t KvCache::bytes() const {
  uint64_t total = 0;
  for (const Buffer& b : k) total += b.size();
  for (const Buffer& b : v) total += b.size();
  return total;
}

}  // namespace stagefence::llama
