// Text <-> token ids for the two tokenizer models GGUF files use: "gpt2" (byte-level BPE) and
// "llama" (SentencePiece-style BPE), built from TokenizerData.
#pragma once
#include <cstdint>
#include <memory>
#include <span>
#include <string>
#include <string_view>
#include <variant>
#include <vector>

#include "model/tokenizer/byte_level_bpe.hpp"
#include "model/tokenizer/marked_text.hpp"
#include "model/tokenizer/sentencepiece_bpe.hpp"
#include "model/tokenizer/special_token_splitter.hpp"
#include "model/tokenizer/tokenizer_data.hpp"
#include "model/tokenizer/vocabulary.hpp"

namespace stagefence::tok {

class Tokenizer {
 public:
  // Throws Error(Unsupported) for another tokenizer model or pre-tokenizer, Error(Format) for
  // inconsistent data (array lengths, ids out of range, malformed merges).
  explicit Tokenizer(TokenizerData data);
  Tokenizer(Tokenizer&&) noexcept = default;  // parts live on the heap, so moving is safe
  Tokenizer& operator=(Tokenizer&&) noexcept = default;

  // `add_special` adds BOS/EOS as the model's add_bos/add_eos flags say; `parse_special` also
  // turns control-token text such as "<|im_start|>" into that token (user-defined tokens are
  // always matched).
  std::vector<int32_t> encode(std::string_view text, bool add_special = true,
                              bool parse_special = false) const;
  // A chat prompt: control-token text in the markup becomes that token, while the literal
  // spans (the messages' contents) are encoded as plain text whatever they contain.
  std::vector<int32_t> encode(const MarkedText& text, bool add_special = true) const;
  // The bytes the ids stand for (not necessarily valid UTF-8 for a partial sequence). Control
  // tokens are left out unless `render_special`.
  std::string decode(std::span<const int32_t> ids, bool render_special = false) const;
  // The bytes of one token, as decode renders it without a space-prefix strip.
  std::string token_bytes(int32_t id, bool render_special = false) const;

  const TokenizerData& data() const { return data_; }
  const Vocabulary& vocabulary() const { return *vocab_; }
  size_t vocab_size() const { return vocab_->size(); }
  int32_t bos() const { return data_.bos; }
  int32_t eos() const { return data_.eos; }
  // Whether a generated token ends the turn: EOS, or a control token that closes a chat turn
  // (<|im_end|>, <end_of_turn>, <|eot_id|>, <|endoftext|>).
  bool is_end_of_generation(int32_t id) const;
  // Every id is_end_of_generation accepts (for a device-side stop, e.g. loop mode's stop ids).
  const std::vector<int32_t>& end_of_generation_ids() const { return end_of_generation_; }
  // Strips the one space that encoding prepended (SentencePiece add_space_prefix).
  bool strips_leading_space() const;

 private:
  TokenizerData data_;
  std::unique_ptr<Vocabulary> vocab_;
  std::vector<int32_t> encode_fragments(const std::vector<TextFragment>& fragments,
                                        bool add_special) const;

  std::unique_ptr<SpecialTokenSplitter> splitter_;
  std::variant<std::monostate, ByteLevelBpe, SentencePieceBpe> model_;
  std::vector<int32_t> end_of_generation_;
};

}  // namespace stagefence::tok
