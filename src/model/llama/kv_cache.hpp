// The attention key/value cache: per layer, f16 [kv_heads, capacity, head_dim] for K and for V.
#pragma once
#include <cstdint>
#include <vector>

#include "model/llama/config.hpp"
#include "stagefence/device.hpp"

namespace stagefence::llama {

struct KvCache {
  int capacity = 0;  // positions
  std::vector<Buffer> k;
  std::vector<Buffer> v;

  // Throws OutOfRange naming --context, the bytes needed and the device's memory when the cache
  // alone cannot fit in it; nothing is allocated then.
  static KvCache allocate(Device& device, const LlamaConfig& config, int capacity);
  static double estimate_bytes(const LlamaConfig& config, int capacity);
  uint64_t bytes() const;
};

}  // namespace stagefence::llama
