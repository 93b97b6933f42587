// Pre-tokenizer splits for byte-level BPE: the regexes that tokenizer.ggml.pre names, matched by
// hand-written scanners over Unicode classes (no regex engine).
#pragma once
#include <string_view>
#include <vector>

namespace stagefence::tok {

enum class PreTokenizerKind {
  // 's|'t|'re|'ve|'m|'ll|'d| ?\p{L}+| ?\p{N}+| ?[^\s\p{L}\p{N}]+|\s+(?!\S)|\s+
  Gpt2,
  // Every \p{N} code point on its own, then Gpt2 on the text between (SmolLM, StarCoder).
  IsolatedDigitsGpt2,
  // (?i:'s|'t|'re|'ve|'m|'ll|'d)|[^\r\n\p{L}\p{N}]?\p{L}+|\p{N}{1,3}| ?[^\s\p{L}\p{N}]+[\r\n]*
  // |\s*[\r\n]+|\s+(?!\S)|\s+
  Llama3,
};

// Maps a tokenizer.ggml.pre value to its split; throws Error(Unsupported) naming unknown values.
PreTokenizerKind pre_tokenizer_from_name(std::string_view pre);

// Splits `text` into consecutive pieces that tile it exactly.
std::vector<std::string_view> pre_tokenize(PreTokenizerKind kind, std::string_view text);

}  // namespace stagefence::tok
