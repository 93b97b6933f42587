// The tensors a Llama-family model has, with their GGUF names and shapes, derived from the
// configuration. The loader checks files against it and the random-weight makers fill it.
#pragma once
#include <cstdint>
#include <string>
#include <vector>

#include "model/llama/config.hpp"

namespace stagefence::llama {

enum class TensorRole {
  Embedding,      // token_embd: [vocab rows, dim cols], any forward weight type
  TiedEmbedding,  // token_embd when it is also the output matrix
  Matrix,         // a projection [rows, cols], any forward weight type
  Output,         // output.weight (absent when tied)
  Norm,           // an RMSNorm gain [cols]; f32 on the device
  Bias,           // a projection bias [cols]; f32 on the device
};

struct TensorSpec {
  std::string name;
  TensorRole role;
  int64_t rows;  // 1 for vectors
  int64_t cols;  // contiguous length: GGUF dims are [cols, rows] ([cols] for vectors)
  int layer;     // -1 for the model-wide tensors

  bool is_vector() const { return role == TensorRole::Norm || role == TensorRole::Bias; }
  std::vector<uint64_t> gguf_dims() const;
};

// Every tensor the configuration requires, in file order (embedding, layers, final norm, output).
std::vector<TensorSpec> tensor_layout(const LlamaConfig& config);
// How many tensors tensor_layout(config) lists, counted without listing them.
int64_t tensor_count(const LlamaConfig& config);
// Appends layer `layer`'s part of tensor_layout(config) to out.
void append_layer_tensors(const LlamaConfig& config, int layer, std::vector<TensorSpec>& out);

}  // namespace stagefence::llama
