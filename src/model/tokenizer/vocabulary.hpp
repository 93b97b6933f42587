// Token strings and types with lookup by text; validated once from TokenizerData.
#pragma once
#include <cstdint>
#include <optional>
#include <string>
#include <string_view>
#include <unordered_map>
#include <vector>

#include "model/tokenizer/tokenizer_data.hpp"

namespace stagefence::tok {

class Vocabulary {
 public:
  // Throws Error(Format) when the token list is empty, token_types or scores have another length,
  // or a special id (bos, eos, unk, pad) lies outside the vocabulary.
  explicit Vocabulary(const TokenizerData& data);

  size_t size() const { return tokens_.size(); }
  const std::string& text(int32_t id) const;  // throws Error(OutOfRange) for a bad id
  TokenType type(int32_t id) const;
  float score(int32_t id) const { return scores_.empty() ? 0.0f : scores_[id]; }
  std::optional<int32_t> find(std::string_view text) const;

 private:
  struct Hash {
    using is_transparent = void;
    size_t operator()(std::string_view s) const { return std::hash<std::string_view>{}(s); }
  };
  std::vector<std::string> tokens_;
  std::vector<int32_t> types_;
  std::vector<float> scores_;
  std::unordered_map<std::string, int32_t, Hash, std::equal_to<>> ids_;
};

}  // namespace stagefence::tok
