#include "model/tokenizer/byte_level_bpe.hpp"

#include <cstdint>

#include "model/tokenizer/byte_unicode_map.hpp"
#include "model/tokenizer/pair_merger.hpp"
#include "model/tokenizer/utf8.hpp"
#include "stagefence/error.hpp"

namespace stagefence::tok {

ByteLevelBpe::ByteLevelBpe(const TokenizerData& data, const Vocabulary& vocab)
    : vocab_(&vocab), pre_(pre_tokenizer_from_name(data.pre)), unk_(data.unk) {
  merge_ranks_.reserve(data.merges.size());
  for (size_t rank = 0; rank < data.merges.size(); ++rank) {
    const std::string& merge = data.merges[rank];
    const size_t space = merge.find(' ');
    if (space == std::string::npos || space == 0 || space + 1 == merge.size() ||
        merge.find(' ', space + 1) != std::string::npos) {
      raise(ErrorCode::Format,
            "tokenizer merge " + std::to_string(rank) + " '" + merge + "' is not 'left right'");
    }
    merge_ranks_.emplace(merge, static_cast<int32_t>(rank));  // the best rank of a duplicate wins
  }
}

void ByteLevelBpe::encode(std::string_view text, std::vector<int32_t>& out) const {
  for (std::string_view piece : pre_tokenize(pre_, text)) encode_piece(piece, out);
}

void ByteLevelBpe::encode_piece(std::string_view piece, std::vector<int32_t>& out) const {
  const std::string spelled = ByteUnicodeMap::instance().encode(piece);
  std::string key;
  const MergePriority by_rank = [&](std::string_view left,
                                    std::string_view right) -> std::optional<double> {
    key.assign(left);
    key.push_back(' ');
    key.append(right);
    auto it = merge_ranks_.find(key);
    if (it == merge_ranks_.end()) return std::nullopt;
    return -static_cast<double>(it->second);
  };
  for (std::string_view segment : merge_pairs(spelled, by_rank)) {
    if (auto id = vocab_->find(segment)) {
      out.push_back(*id);
      continue;
    }
    // A segment outside the vocabulary falls back to its single alphabet characters.
    for (const CodePoint& cp : decode_utf8(segment)) {
      if (auto id = vocab_->find(segment.substr(cp.offset, cp.length))) {
        out.push_back(*id);
      } else if (unk_ >= 0) {
        out.push_back(unk_);
      } else {
        raise(ErrorCode::Format, "byte-level vocabulary has no token for '" +
                                     std::string(segment.substr(cp.offset, cp.length)) +
                                     "' and no unknown token");
      }
    }
  }
}

std::string ByteLevelBpe::token_bytes(int32_t id) const {
  const std::string& text = vocab_->text(id);
  std::string bytes;
  // Tokens written outside the byte alphabet (added tokens) stand for their own text.
  if (!ByteUnicodeMap::instance().decode(text, bytes)) return text;
  return bytes;
}

}  // namespace stagefence::tok
