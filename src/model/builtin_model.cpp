#include "model/builtin_model.hpp"

#include <cstdint>
#include <cstdio>

#include "model/gguf/gguf_file.hpp"
#include "model/gguf/gguf_writer.hpp"
#include "model/llama/model_writer.hpp"
#include "model/llama/shapes.hpp"

namespace stagefence::llama {

LlamaConfig builtin_config() {
  return shape_config("builtin");
}

WeightTypes builtin_weight_types() {
  WeightTypes t;
  t.embedding = DType::Q8_0;
  t.attention = DType::Q8_0;
  t.ffn_gate_up = DType::Q4_0;
  t.ffn_down = DType::Q4_K;
  t.output = DType::Q6_K;
  return t;
}

std::vector<std::string> builtin_vocabulary() {
  const int vocab = builtin_config().vocab;
  std::vector<std::string> tokens = {"<unk>", "<s>", "</s>"};
  char hex[8];
  for (int b = 0; b < 256; ++b) {
    std::snprintf(hex, sizeof hex, "<0x%02X>", b);
    tokens.emplace_back(hex);
  }
  static const char* kOnsets[] = {"b", "d", "f", "g", "k",  "l",  "m",  "n", "p", "r",
                                  "s", "t", "v", "z", "sh", "th", "ch", "w", "y", "h"};
  static const char* kVowels[] = {"a", "e", "i", "o", "u"};
  std::vector<std::string> syllables;
  for (const char* o : kOnsets)
    for (const char* v : kVowels) syllables.push_back(std::string(o) + v);
  const std::string space = "\xE2\x96\x81";  // '▁' marks a word start
  for (const std::string& s : syllables) tokens.push_back(space + s);
  for (const std::string& s : syllables) tokens.push_back(s);
  for (size_t i = 0; tokens.size() < size_t(vocab); ++i) {
    const std::string& a = syllables[i / syllables.size() % syllables.size()];
    const std::string& b = syllables[i % syllables.size()];
    tokens.push_back((i % 2 ? "" : space) + a + b);
  }
  tokens.resize(size_t(vocab));
  return tokens;
}

std::vector<std::byte> builtin_model_gguf(uint64_t seed) {
  gguf::GgufWriter writer;
  writer.add_string("general.name", "stagefence built-in (random weights)");
  add_vocabulary(writer, "llama", builtin_vocabulary());
  add_random_model(writer, builtin_config(), builtin_weight_types(), seed);
  return writer.to_bytes();
}

LlamaModel load_builtin_model(Device& device, uint64_t seed) {
  const gguf::GgufFile file = gguf::GgufFile::from_bytes(builtin_model_gguf(seed));
  return load_model(device, file);
}

std::vector<int32_t> builtin_prompt() {
  return {1, 300, 1290, 2048, 733, 3001, 354, 1777};
}

}  // namespace stagefence::llama
