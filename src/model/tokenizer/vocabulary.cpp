#include "model/tokenizer/vocabulary.hpp"

#include <cstdint>

#include "stagefence/error.hpp"

namespace stagefence::tok {

Vocabulary::Vocabulary(const TokenizerData& data)
    : tokens_(data.tokens), types_(data.token_types), scores_(data.scores) {
  if (tokens_.empty()) raise(ErrorCode::Format, "tokenizer has an empty token list");
  if (!types_.empty() && types_.size() != tokens_.size()) {
    raise(ErrorCode::Format, "tokenizer token_type has " + std::to_string(types_.size()) +
                                 " entries for " + std::to_string(tokens_.size()) + " tokens");
  }
  if (!scores_.empty() && scores_.size() != tokens_.size()) {
    raise(ErrorCode::Format, "tokenizer scores has " + std::to_string(scores_.size()) +
                                 " entries for " + std::to_string(tokens_.size()) + " tokens");
  }
  const std::pair<const char*, int32_t> specials[] = {
      {"bos", data.bos}, {"eos", data.eos}, {"unk", data.unk}, {"pad", data.pad}};
  for (const auto& [name, id] : specials) {
    if (id < -1 || id >= static_cast<int64_t>(tokens_.size())) {
      raise(ErrorCode::Format, std::string("tokenizer ") + name + " id " + std::to_string(id) +
                                   " is outside the vocabulary of " +
                                   std::to_string(tokens_.size()));
    }
  }
  ids_.reserve(tokens_.size());
  // The last id wins when a text appears twice, as in the reference tokenizers.
  for (size_t i = 0; i < tokens_.size(); ++i)
    ids_.insert_or_assign(tokens_[i], static_cast<int32_t>(i));
}

const std::string& Vocabulary::text(int32_t id) const {
  if (id < 0 || static_cast<size_t>(id) >= tokens_.size()) {
    raise(ErrorCode::OutOfRange, "token id " + std::to_string(id) +
                                     " is outside the vocabulary of " +
                                     std::to_string(tokens_.size()));
  }
  return tokens_[id];
}

TokenType Vocabulary::type(int32_t id) const {
  text(id);  // range check
  return types_.empty() ? TokenType::Normal : static_cast<TokenType>(types_[id]);
}

std::optional<int32_t> Vocabulary::find(std::string_view text) const {
  auto it = ids_.find(text);
  if (it == ids_.end()) return std::nullopt;
  return it->second;
}

}  // namespace stagefence::tok
