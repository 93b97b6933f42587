// SentencePiece-style BPE (llama tokenizer model): spaces become U+2581, code points merge by
// token score, and code points outside the vocabulary fall back to <0xNN> byte tokens.
#pragma once
#include <array>
#include <cstdint>
#include <string>
#include <string_view>
#include <vector>

#include "model/tokenizer/tokenizer_data.hpp"
#include "model/tokenizer/vocabulary.hpp"

namespace stagefence::tok {

class SentencePieceBpe {
 public:
  SentencePieceBpe(const TokenizerData& data, const Vocabulary& vocab);

  // Appends the ids of plain text to `out`; `space_prefix` prepends one space first.
  void encode(std::string_view text, bool space_prefix, std::vector<int32_t>& out) const;
  // The bytes a non-special token stands for (U+2581 as a space, <0xNN> as that byte).
  std::string token_bytes(int32_t id) const;

 private:
  const Vocabulary* vocab_;
  int32_t unk_;
  std::array<int32_t, 256> byte_tokens_;  // -1 where the vocabulary has no <0xNN> token
};

}  // namespace stagefence::tok
