#include "model/tokenizer/gguf_tokenizer_data.hpp"

#include <cstdint>

namespace stagefence::tok {
namespace {

// Special token ids are u32 in llama.cpp's files; some writers use i32.
int32_t optional_id(const gguf::GgufFile& file, std::string_view key) {
  const gguf::Value* v = file.find(key);
  if (v == nullptr) return -1;
  if (const auto* u = v->get_if<uint32_t>()) return static_cast<int32_t>(*u);
  return file.get_i32(key);
}

// token_type is i32 in llama.cpp's files; accept u32 too.
std::vector<int32_t> token_types(const gguf::GgufFile& file) {
  constexpr std::string_view key = "tokenizer.ggml.token_type";
  const gguf::Value* v = file.find(key);
  if (v == nullptr) return {};
  if (const auto* u = v->get_if<std::vector<uint32_t>>()) return {u->begin(), u->end()};
  return file.get_i32_array(key);
}

}  // namespace

TokenizerData tokenizer_data_from_gguf(const gguf::GgufFile& file) {
  TokenizerData d;
  d.model = file.get_string("tokenizer.ggml.model");
  d.pre = file.try_get_string("tokenizer.ggml.pre").value_or("default");
  d.tokens = file.get_string_array("tokenizer.ggml.tokens");
  if (const auto* scores = file.find_array<float>("tokenizer.ggml.scores")) d.scores = *scores;
  d.token_types = token_types(file);
  if (const auto* merges = file.find_array<std::string>("tokenizer.ggml.merges"))
    d.merges = *merges;
  d.bos = optional_id(file, "tokenizer.ggml.bos_token_id");
  d.eos = optional_id(file, "tokenizer.ggml.eos_token_id");
  d.unk = optional_id(file, "tokenizer.ggml.unknown_token_id");
  d.pad = optional_id(file, "tokenizer.ggml.padding_token_id");
  // llama.cpp's defaults when a flag is absent: SentencePiece adds BOS and a space prefix.
  const bool sentencepiece = d.model == "llama";
  d.add_bos = file.try_get_bool("tokenizer.ggml.add_bos_token").value_or(sentencepiece);
  d.add_eos = file.try_get_bool("tokenizer.ggml.add_eos_token").value_or(false);
  d.add_space_prefix = file.try_get_bool("tokenizer.ggml.add_space_prefix").value_or(sentencepiece);
  d.chat_template = file.try_get_string("tokenizer.chat_template").value_or("");
  return d;
}

}  // namespace stagefence::tok
