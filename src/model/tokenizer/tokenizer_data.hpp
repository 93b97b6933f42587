// The tokenizer description a model file carries (GGUF tokenizer.* keys), as plain data.
#pragma once
#include <cstdint>
#include <string>
#include <vector>

namespace stagefence::tok {

// Values of tokenizer.ggml.token_type.
enum class TokenType : int32_t {
  Undefined = 0,
  Normal = 1,
  Unknown = 2,
  Control = 3,  // BOS, EOS, chat markers: matched in text only when asked, not decoded by default
  UserDefined = 4,  // always matched whole in text and decoded as written
  Unused = 5,
  Byte = 6,  // SentencePiece byte fallback, spelled <0xNN>
};

struct TokenizerData {
  std::string model;  // tokenizer.ggml.model: "gpt2" (byte-level BPE) or "llama" (SentencePiece)
  std::string pre;    // tokenizer.ggml.pre: names the pre-tokenizer split ("smollm", "llama3", ...)
  std::vector<std::string> tokens;
  std::vector<float> scores;         // SentencePiece merge priorities; may be empty for gpt2
  std::vector<int32_t> token_types;  // TokenType values; empty means all Normal
  std::vector<std::string> merges;   // "left right", best first; gpt2 only
  int32_t bos = -1, eos = -1, unk = -1, pad = -1;
  bool add_bos = false, add_eos = false;
  bool add_space_prefix = false;  // SentencePiece: prepend a space to the text before encoding
  std::string chat_template;
};

}  // namespace stagefence::tok
