// The shape of a Llama-family decoder (Llama 2/3, Mistral, Qwen2/Qwen3-style) and how it is read
// from GGUF metadata.
#pragma once
#include <cstdint>
#include <string>

#include "kernels/ops.hpp"

namespace stagefence::gguf {
class GgufFile;
}

namespace stagefence::llama {

struct LlamaConfig {
  std::string architecture = "llama";  // GGUF general.architecture
  int dim = 0;                         // embedding_length
  int layers = 0;                      // block_count
  int heads = 0;                       // attention.head_count
  int kv_heads = 0;                    // attention.head_count_kv (grouped-query attention)
  int head_dim = 0;                    // attention.key_length, else dim / heads
  int ffn_dim = 0;                     // feed_forward_length
  int vocab = 0;                       // tokenizer.ggml.tokens size, else token_embd rows
  int context_length = 0;              // context_length (the trained maximum)
  int rope_dim = 0;                    // rope.dimension_count, else head_dim
  float rope_theta = 10000.0f;         // rope.freq_base
  float rms_eps = 1e-5f;               // attention.layer_norm_rms_epsilon
  kernels::ops::RopeMode rope_mode = kernels::ops::RopeMode::Adjacent;
  bool qkv_bias = false;     // attn_q/k/v.bias present (qwen2)
  bool qk_norm = false;      // attn_q_norm / attn_k_norm present (qwen3)
  bool tied_output = false;  // no output.weight: the embedding table is the output matrix

  int q_dim() const { return heads * head_dim; }
  int kv_dim() const { return kv_heads * head_dim; }
  // Throws InvalidArgument naming the first inconsistent field.
  void validate() const;
  std::string summary() const;
};

// RoPE pairing of an architecture: adjacent pairs for llama/mistral, half-split for qwen2 and
// newer. Throws Format for an architecture this forward pass does not implement.
kernels::ops::RopeMode rope_mode_for_architecture(const std::string& architecture);

// Reads the configuration from metadata (and the tensor list for the optional parts: biases,
// QK-norm, tied output). Missing keys or inconsistent values throw Format naming the key.
LlamaConfig config_from_gguf(const gguf::GgufFile& file);

}  // namespace stagefence::llama
