// A few hashed values read back from the device, each checked against the host's evaluation of
// the same formula; written to the JSON so bench/torch_decode.py can prove that its weights and
// cache are bit-identical to ours.
#pragma once
#include <cstdint>
#include <string>
#include <vector>

#include "model/llama/forward.hpp"
#include "model/llama/model.hpp"
#include "stagefence/device.hpp"

namespace stagefence::bench {

struct WeightSample {
  std::string tensor;  // GGUF name
  std::string dtype;   // bf16, f16 or f32 (the bits' encoding)
  uint64_t index = 0;  // flat element index, row-major [rows, cols]
  uint32_t bits = 0;
};

struct KvSample {
  int layer = 0;
  bool value = false;  // false: K cache, true: V cache
  int position = 0, head = 0, dim = 0;
  uint16_t bits = 0;  // f16
};

// Samples of the embedding, the first and last layers' matrices and norms, the final norm and
// the output projection (plain dtypes only; quantised tensors are skipped). Throws Internal when
// a device value differs from the host formula.
std::vector<WeightSample> sample_weights(const llama::LlamaModel& model, uint64_t seed);

// Samples of layers 0 and L-1, K and V, at positions 0, 1 and `positions` - 1. Throws Internal
// on a mismatch with the host formula.
std::vector<KvSample> sample_kv_cache(Device& device, const llama::LlamaForward& forward,
                                      int positions, uint64_t seed);

}  // namespace stagefence::bench
