#include "model/tokenizer/tokenizer.hpp"

#include <algorithm>
#include <cstdint>

#include "stagefence/error.hpp"

namespace stagefence::tok {

Tokenizer::Tokenizer(TokenizerData data)
    : data_(std::move(data)),
      vocab_(std::make_unique<Vocabulary>(data_)),
      splitter_(std::make_unique<SpecialTokenSplitter>(*vocab_)) {
  if (data_.model == "gpt2") {
    model_.emplace<ByteLevelBpe>(data_, *vocab_);
  } else if (data_.model == "llama") {
    model_.emplace<SentencePieceBpe>(data_, *vocab_);
  } else {
    raise(ErrorCode::Unsupported,
          "tokenizer model '" + data_.model + "' is not implemented (known: gpt2, llama)");
  }
  if (data_.eos >= 0) end_of_generation_.push_back(data_.eos);
  for (std::string_view name : {"<|im_end|>", "<end_of_turn>", "<|eot_id|>", "<|endoftext|>"}) {
    if (auto id = vocab_->find(name); id && vocab_->type(*id) == TokenType::Control) {
      end_of_generation_.push_back(*id);
    }
  }
}

std::vector<int32_t> Tokenizer::encode(std::string_view text, bool add_special,
                                       bool parse_special) const {
  return encode_fragments(splitter_->split(text, parse_special), add_special);
}

std::vector<int32_t> Tokenizer::encode(const MarkedText& text, bool add_special) const {
  return encode_fragments(splitter_->split(text.text, text.literal), add_special);
}

std::vector<int32_t> Tokenizer::encode_fragments(const std::vector<TextFragment>& fragments,
                                                 bool add_special) const {
  std::vector<int32_t> ids;
  if (add_special && data_.add_bos && data_.bos >= 0) ids.push_back(data_.bos);
  // SentencePiece prefixes a space at the start and after every special token.
  bool after_special = true;
  for (const TextFragment& f : fragments) {
    if (f.id >= 0) {
      ids.push_back(f.id);
      after_special = true;
      continue;
    }
    if (auto* bpe = std::get_if<ByteLevelBpe>(&model_)) {
      bpe->encode(f.text, ids);
    } else {
      std::get<SentencePieceBpe>(model_).encode(f.text, data_.add_space_prefix && after_special,
                                                ids);
    }
    after_special = false;
  }
  if (add_special && data_.add_eos && data_.eos >= 0) ids.push_back(data_.eos);
  return ids;
}

std::string Tokenizer::token_bytes(int32_t id, bool render_special) const {
  switch (vocab_->type(id)) {
    case TokenType::Control:
    case TokenType::Unknown:
      return render_special ? vocab_->text(id) : std::string();
    case TokenType::UserDefined:
      return vocab_->text(id);
    default:
      break;
  }
  if (auto* bpe = std::get_if<ByteLevelBpe>(&model_)) return bpe->token_bytes(id);
  return std::get<SentencePieceBpe>(model_).token_bytes(id);
}

bool Tokenizer::strips_leading_space() const {
  return data_.model == "llama" && data_.add_space_prefix;
}

std::string Tokenizer::decode(std::span<const int32_t> ids, bool render_special) const {
  std::string out;
  for (int32_t id : ids) out += token_bytes(id, render_special);
  if (strips_leading_space() && !out.empty() && out[0] == ' ') out.erase(0, 1);
  return out;
}

bool Tokenizer::is_end_of_generation(int32_t id) const {
  return std::find(end_of_generation_.begin(), end_of_generation_.end(), id) !=
         end_of_generation_.end();
}

}  // namespace stagefence::tok
