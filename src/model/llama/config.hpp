// The shape of a Llama-family decoder (Llama 2/3, Mistral, Qwen2/Qwen3-style) and how it is read
// from GGUF metadata.
#pragma once
#include <cstdint>
#include <optional>
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
  // Gemma-style parts (set by the architecture's reader; the defaults are Llama's):
  float embed_scale = 1.0f;      // the embedding rows are multiplied by this (gemma3: sqrt(dim))
  float attention_scale = 0.0f;  // the query scale; 0: 1/sqrt(head_dim)
  bool post_norms = false;       // post_attention_norm / post_ffw_norm on each branch's output
  kernels::ops::Activation ffn_act = kernels::ops::Activation::Silu;  // act(gate) · up
  int sliding_window = 0;         // keys a local layer attends to; 0: every layer is global
  int global_period = 0;          // with a window: layer l is global when (l + 1) % period == 0
  float rope_theta_local = 0.0f;  // local layers' RoPE base; 0: rope_theta
  float rope_freq_scale = 1.0f;   // global layers' position scale (linear RoPE scaling)

  // What one layer's attention uses: its RoPE and its key window.
  struct LayerAttention {
    float rope_theta = 0.0f;
    float rope_freq_scale = 1.0f;
    int window = 0;  // 0: every earlier key
  };
  LayerAttention layer_attention(int layer) const;
  float query_scale() const;

  int q_dim() const { return heads * head_dim; }
  int kv_dim() const { return kv_heads * head_dim; }
  // Throws InvalidArgument naming the first inconsistent field.
  void validate() const;
  std::string summary() const;
};

// RoPE pairing of an architecture: adjacent pairs for llama/mistral, half-split for qwen2 and
// newer. Throws Format for an architecture this forward pass does not implement.
kernels::ops::RopeMode rope_mode_for_architecture(const std::string& architecture);

// Metadata of any integer (or float) width: nullopt when absent, Format when of another type.
std::optional<int64_t> metadata_int(const gguf::GgufFile& file, const std::string& key);
std::optional<double> metadata_float(const gguf::GgufFile& file, const std::string& key);

// Gemma 3's own metadata and fixed choices on top of the shared keys (gemma3.cpp).
void read_gemma3_config(const gguf::GgufFile& file, LlamaConfig& config);

// Reads the configuration from metadata (and the tensor list for the optional parts: biases,
// QK-norm, tied output). Missing keys or inconsistent values throw Format naming the key.
LlamaConfig config_from_gguf(const gguf::GgufFile& file);

}  // namespace stagefence::llama
