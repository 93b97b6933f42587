// The seed models of model_load_fuzz, shared by its corpus writer (model_make_corpus.cpp) and
// its regression test: tiny complete models of each supported family (llama; qwen2 with biases
// and tied output; qwen3 with QK-norm) in several weight types, and variants with one count or
// size in the metadata changed (block_count 2^30, a layer too many, wrong widths and heads).
#pragma once
#include <cstdint>
#include <string>
#include <utility>
#include <vector>

#include "model/gguf/gguf_file.hpp"
#include "model/gguf/gguf_writer.hpp"
#include "model/llama/model_writer.hpp"

namespace stagefence::fuzzing {

namespace seeds_detail {
namespace sf = stagefence;
namespace llama = stagefence::llama;

inline llama::LlamaConfig tiny(const std::string& architecture) {
  llama::LlamaConfig c;
  c.architecture = architecture;
  c.dim = 32;
  c.layers = 2;
  c.heads = 4;
  c.kv_heads = 2;
  c.head_dim = 8;
  c.ffn_dim = 32;
  c.vocab = 16;
  c.context_length = 32;
  c.rope_dim = 8;
  c.rms_eps = 1e-5f;
  c.rope_mode = llama::rope_mode_for_architecture(architecture);
  c.qkv_bias = architecture == "qwen2";
  c.tied_output = architecture == "qwen2";
  c.qk_norm = architecture == "qwen3";
  return c;
}

inline std::vector<std::byte> model(const llama::LlamaConfig& c, sf::DType t,
                                    const std::string& key = "", uint32_t value = 0) {
  sf::gguf::GgufWriter w;
  if (key.empty()) {
    llama::add_random_model(w, c, llama::WeightTypes::all(t), 3);
    return w.to_bytes();
  }
  // The same model with metadata `key` set to `value`.
  sf::gguf::GgufWriter full;
  llama::add_random_model(full, c, llama::WeightTypes::all(t), 3);
  const sf::gguf::GgufFile parsed = sf::gguf::GgufFile::from_bytes(full.to_bytes());
  for (const sf::gguf::MetadataEntry& m : parsed.metadata())
    if (m.key == key)
      w.add_u32(m.key, value);
    else if (m.key != "general.alignment")
      w.add(m.key, m.value);
  for (const sf::gguf::TensorView& v : parsed.tensors())
    w.add_tensor(v.name, v.dtype, v.dims, v.bytes());
  return w.to_bytes();
}

}  // namespace seeds_detail

// (file name, bytes) of every seed.
inline std::vector<std::pair<std::string, std::vector<std::byte>>> model_seeds() {
  using namespace seeds_detail;
  std::vector<std::pair<std::string, std::vector<std::byte>>> out;
  for (const char* arch : {"llama", "qwen2", "qwen3"}) {
    const llama::LlamaConfig c = tiny(arch);
    const std::string a = arch;
    for (sf::DType t : {sf::DType::F32, sf::DType::F16, sf::DType::Q8_0})
      out.emplace_back(a + "_" + std::string(sf::dtype_name(t)) + ".gguf", model(c, t));
    for (const auto& [key, value] :
         {std::pair{a + ".block_count", 1u << 30}, std::pair{a + ".block_count", 3u},
          std::pair{a + ".embedding_length", 64u}, std::pair{a + ".attention.head_count", 3u},
          std::pair{a + ".context_length", 1u << 30}})
      out.emplace_back(a + "_" + key.substr(a.size() + 1) + "_" + std::to_string(value) + ".gguf",
                       model(c, sf::DType::F32, key, value));
  }
  return out;
}

}  // namespace stagefence::fuzzing
