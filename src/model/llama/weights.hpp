// A Llama-family model's weights in device buffers: uploaded once from GGUF, or made randomly
// on the host and streamed to the device (benchmarks with real shapes and no file).
#pragma once
#include <array>
#include <cstdint>
#include <functional>
#include <vector>

#include "model/llama/config.hpp"
#include "model/llama/random_init.hpp"
#include "model/llama/tensor_layout.hpp"
#include "model/llama/tensor_parallel.hpp"
#include "stagefence/buffer.hpp"
#include "stagefence/device.hpp"

namespace stagefence::gguf {
class GgufFile;
}

namespace stagefence::llama {

// One weight on the device: a matrix [rows, cols] in `dtype` (rows of whole blocks), or an f32
// vector (rows = 1). An absent optional weight has an invalid buffer.
struct Weight {
  Buffer buffer;
  DType dtype = DType::F32;
  int rows = 0;
  int cols = 0;

  bool present() const { return buffer.valid(); }
};

struct LayerWeights {
  Weight attn_norm, wq, wk, wv, wo;
  Weight bq, bk, bv;      // qkv_bias only
  Weight q_norm, k_norm;  // qk_norm only
  Weight ffn_norm, w_gate, w_up, w_down;
  Weight post_attn_norm, post_ffn_norm;  // post_norms only

  // Every slot, present or not (for walks over all of a layer's weights).
  std::array<const Weight*, 16> all() const {
    return {&attn_norm,    &wq,     &wk,   &wv,     &wo,
            &bq,           &bk,     &bv,   &q_norm, &k_norm,
            &ffn_norm,     &w_gate, &w_up, &w_down, &post_attn_norm,
            &post_ffn_norm};
  }
};

struct LlamaWeights {
  Weight token_embd;
  std::vector<LayerWeights> layers;
  Weight output_norm;
  Weight output;  // shares token_embd's buffer when the output is tied

  uint64_t device_bytes() const;  // bytes of distinct buffers
};

// The slot of LlamaWeights that the layout's tensor `spec` fills (throws Internal for a name
// the layout does not have).
Weight& weight_slot(LlamaWeights& weights, const TensorSpec& spec);

// A tied output is the embedding table, or (for a shard) the rank's rows of it.
void tie_output(LlamaWeights& weights, const LlamaConfig& config, const ShardShape* shard);

// Called with bytes done and bytes in total while weights go to the device.
using LoadProgress = std::function<void(uint64_t done, uint64_t total)>;

// Checks every tensor of the layout (presence, dims, weight type) before allocating anything,
// then uploads each once. Missing or malformed tensors throw Format naming the tensor.
// Norms and biases stored as F16/BF16 are widened to f32.
// With a shard, only that rank's part of each tensor goes to the device (tensor_parallel.hpp);
// a tensor the rank holds none of stays absent.
LlamaWeights load_weights(Device& device, const gguf::GgufFile& file, const LlamaConfig& config,
                          const LoadProgress& progress = {}, const ShardShape* shard = nullptr);

// Random weights of the given types made on the host (several threads) and streamed into device
// buffers slab by slab, so a Llama-3-8B shape never needs its whole f32 copy in host memory.
LlamaWeights random_weights(Device& device, const LlamaConfig& config, const WeightTypes& types,
                            uint64_t seed, const LoadProgress& progress = {});

}  // namespace stagefence::llama
