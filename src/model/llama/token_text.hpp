// Token ids to text for display: maps ids to the GGUF vocabulary's strings and undoes the two
// common spellings (GPT-2 byte-level characters, SentencePiece '▁' spaces and <0xNN> bytes).
#pragma once
#include <cstdint>
#include <span>
#include <string>
#include <vector>

namespace stagefence::gguf {
class GgufFile;
}

namespace stagefence::llama {

class TokenText {
 public:
  enum class Style { SentencePiece, ByteLevel };

  TokenText() = default;
  TokenText(std::vector<std::string> tokens, Style style);
  // Empty when the file has no tokenizer.ggml.tokens; the style follows tokenizer.ggml.model
  // ("gpt2" is byte-level, anything else SentencePiece).
  static TokenText from_gguf(const gguf::GgufFile& file);

  bool empty() const { return tokens_.empty(); }
  size_t size() const { return tokens_.size(); }
  Style style() const { return style_; }
  // The raw vocabulary string of a token; "<id?>" outside the vocabulary.
  const std::string& raw(int32_t id) const;
  // The bytes the ids stand for, concatenated (may be partial UTF-8 mid-sequence).
  std::string decode(std::span<const int32_t> ids) const;

 private:
  std::string piece_bytes(int32_t id) const;

  std::vector<std::string> tokens_;
  Style style_ = Style::SentencePiece;
};

}  // namespace stagefence::llama
