#include "model/llama/tensor_layout.hpp"

#include <cstdint>

namespace stagefence::llama {

std::vector<uint64_t> TensorSpec::gguf_dims() const {
  if (is_vector()) return {uint64_t(cols)};
  return {uint64_t(cols), uint64_t(rows)};
}

int64_t tensor_count(const LlamaConfig& c) {
  const int64_t per_layer = 9 + (c.qkv_bias ? 3 : 0) + (c.qk_norm ? 2 : 0) + (c.post_norms ? 2 : 0);
  return 2 + int64_t(c.layers) * per_layer + (c.tied_output ? 0 : 1);
}

void append_layer_tensors(const LlamaConfig& c, int l, std::vector<TensorSpec>& out) {
  const std::string b = "blk." + std::to_string(l) + ".";
  out.push_back({b + "attn_norm.weight", TensorRole::Norm, 1, c.dim, l});
  out.push_back({b + "attn_q.weight", TensorRole::Matrix, c.q_dim(), c.dim, l});
  out.push_back({b + "attn_k.weight", TensorRole::Matrix, c.kv_dim(), c.dim, l});
  out.push_back({b + "attn_v.weight", TensorRole::Matrix, c.kv_dim(), c.dim, l});
  if (c.qkv_bias) {
    out.push_back({b + "attn_q.bias", TensorRole::Bias, 1, c.q_dim(), l});
    out.push_back({b + "attn_k.bias", TensorRole::Bias, 1, c.kv_dim(), l});
    out.push_back({b + "attn_v.bias", TensorRole::Bias, 1, c.kv_dim(), l});
  }
  if (c.qk_norm) {
    out.push_back({b + "attn_q_norm.weight", TensorRole::Norm, 1, c.head_dim, l});
    out.push_back({b + "attn_k_norm.weight", TensorRole::Norm, 1, c.head_dim, l});
  }
  out.push_back({b + "attn_output.weight", TensorRole::Matrix, c.dim, c.q_dim(), l});
  if (c.post_norms)
    out.push_back({b + "post_attention_norm.weight", TensorRole::Norm, 1, c.dim, l});
  out.push_back({b + "ffn_norm.weight", TensorRole::Norm, 1, c.dim, l});
  out.push_back({b + "ffn_gate.weight", TensorRole::Matrix, c.ffn_dim, c.dim, l});
  out.push_back({b + "ffn_up.weight", TensorRole::Matrix, c.ffn_dim, c.dim, l});
  out.push_back({b + "ffn_down.weight", TensorRole::Matrix, c.dim, c.ffn_dim, l});
  if (c.post_norms) out.push_back({b + "post_ffw_norm.weight", TensorRole::Norm, 1, c.dim, l});
}

std::vector<TensorSpec> tensor_layout(const LlamaConfig& c) {
  std::vector<TensorSpec> out;
  out.reserve(size_t(tensor_count(c)));
  const TensorRole embedding = c.tied_output ? TensorRole::TiedEmbedding : TensorRole::Embedding;
  out.push_back({"token_embd.weight", embedding, c.vocab, c.dim, -1});
  for (int l = 0; l < c.layers; ++l) append_layer_tensors(c, l, out);
  out.push_back({"output_norm.weight", TensorRole::Norm, 1, c.dim, -1});
  if (!c.tied_output) out.push_back({"output.weight", TensorRole::Output, c.vocab, c.dim, -1});
  return out;
}

}  // namespace stagefence::llama
