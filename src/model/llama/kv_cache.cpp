#include "model/llama/kv_cache.hpp"

#include <string>

#include "stagefence/error.hpp"

namespace stagefence::llama {

KvCache KvCache::allocate(Device& device, const LlamaConfig& config, int capacity) {
  if (capacity <= 0)
    raise(ErrorCode::InvalidArgument,
          "KV cache capacity must be positive, got " + std::to_string(capacity));
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
