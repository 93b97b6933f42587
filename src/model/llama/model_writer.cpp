#include "model/llama/model_writer.hpp"

#include <cstddef>
#include <cstdint>
#include <span>

#include "model/llama/tensor_layout.hpp"

namespace stagefence::llama {

std::vector<std::pair<std::string, gguf::Value>> config_metadata(const LlamaConfig& c) {
  const std::string p = c.architecture + ".";
  std::vector<std::pair<std::string, gguf::Value>> out;
  out.emplace_back("general.architecture", gguf::Value(c.architecture));
  out.emplace_back(p + "context_length", gguf::Value(uint32_t(c.context_length)));
  out.emplace_back(p + "embedding_length", gguf::Value(uint32_t(c.dim)));
  out.emplace_back(p + "block_count", gguf::Value(uint32_t(c.layers)));
  out.emplace_back(p + "feed_forward_length", gguf::Value(uint32_t(c.ffn_dim)));
  out.emplace_back(p + "attention.head_count", gguf::Value(uint32_t(c.heads)));
  out.emplace_back(p + "attention.head_count_kv", gguf::Value(uint32_t(c.kv_heads)));
  if (c.head_dim * c.heads != c.dim) {
    out.emplace_back(p + "attention.key_length", gguf::Value(uint32_t(c.head_dim)));
    out.emplace_back(p + "attention.value_length", gguf::Value(uint32_t(c.head_dim)));
  }
  out.emplace_back(p + "rope.dimension_count", gguf::Value(uint32_t(c.rope_dim)));
  out.emplace_back(p + "rope.freq_base", gguf::Value(c.rope_theta));
  out.emplace_back(p + "attention.layer_norm_rms_epsilon", gguf::Value(c.rms_eps));
  if (c.sliding_window > 0)
    out.emplace_back(p + "attention.sliding_window", gguf::Value(uint32_t(c.sliding_window)));
  return out;
}

void add_random_model(gguf::GgufWriter& writer, const LlamaConfig& config, const WeightTypes& types,
                      uint64_t seed) {
  for (auto& [key, value] : config_metadata(config)) writer.add(key, value);
  for (const TensorSpec& spec : tensor_layout(config)) {
    const DType dtype = types.type_of(spec);
    const std::vector<uint8_t> bytes = random_tensor_bytes(spec, dtype, seed, 0, spec.rows);
    writer.add_tensor(spec.name, dtype, spec.gguf_dims(),
                      std::as_bytes(std::span<const uint8_t>(bytes)));
  }
}

void add_vocabulary(gguf::GgufWriter& writer, const std::string& model,
                    std::vector<std::string> tokens) {
  writer.add_string("tokenizer.ggml.model", model);
  writer.add_string_array("tokenizer.ggml.tokens", std::move(tokens));
}

}  // namespace stagefence::llama
