// Byte-level BPE (GPT-2 family): pre-tokenizer split, bytes respelled in the GPT-2 alphabet, then
// merges applied by rank.
#pragma once
#include <cstdint>
#include <string>
#include <string_view>
#include <unordered_map>
#include <vector>

#include "model/tokenizer/pre_tokenizer.hpp"
#include "model/tokenizer/tokenizer_data.hpp"
#include "model/tokenizer/vocabulary.hpp"

namespace stagefence::tok {

class ByteLevelBpe {
 public:
  // Throws Error(Format) for a merge that is not two space-separated parts and Error(Unsupported)
  // for an unknown pre-tokenizer name.
  ByteLevelBpe(const TokenizerData& data, const Vocabulary& vocab);

  // Appends the ids of plain text (no special-token matching) to `out`.
  void encode(std::string_view text, std::vector<int32_t>& out) const;
  // The bytes a non-special token stands for.
  std::string token_bytes(int32_t id) const;

 private:
  struct Hash {
    using is_transparent = void;
    size_t operator()(std::string_view s) const { return std::hash<std::string_view>{}(s); }
  };
  void encode_piece(std::string_view piece, std::vector<int32_t>& out) const;

  const Vocabulary* vocab_;
  PreTokenizerKind pre_;
  int32_t unk_;
  std::unordered_map<std::string, int32_t, Hash, std::equal_to<>> merge_ranks_;  // "left right"
};

}  // namespace stagefence::tok
