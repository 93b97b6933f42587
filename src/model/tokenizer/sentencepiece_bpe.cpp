#include "model/tokenizer/sentencepiece_bpe.hpp"

#include <cstdint>
#include <cstdio>

#include "model/tokenizer/pair_merger.hpp"
#include "stagefence/error.hpp"

namespace stagefence::tok {
namespace {

constexpr std::string_view kSpaceMark = "\xE2\x96\x81";  // U+2581 LOWER ONE EIGHTH BLOCK

std::string byte_token_text(int b) {
  char buf[8];
  std::snprintf(buf, sizeof buf, "<0x%02X>", b);
  return buf;
}

}  // namespace

SentencePieceBpe::SentencePieceBpe(const TokenizerData& data, const Vocabulary& vocab)
    : vocab_(&vocab), unk_(data.unk) {
  for (int b = 0; b < 256; ++b) byte_tokens_[b] = vocab.find(byte_token_text(b)).value_or(-1);
}

void SentencePieceBpe::encode(std::string_view text, bool space_prefix,
                              std::vector<int32_t>& out) const {
  std::string escaped;
  escaped.reserve(text.size() + 8);
  if (space_prefix) escaped += kSpaceMark;
  for (char c : text) {
    if (c == ' ') {
      escaped += kSpaceMark;
    } else {
      escaped.push_back(c);
    }
  }
  // Symbols are contiguous in `escaped`, so a pair's joined text is one view of it.
  const MergePriority by_score = [&](std::string_view left,
                                     std::string_view right) -> std::optional<double> {
    const std::string_view joined(left.data(), left.size() + right.size());
    auto id = vocab_->find(joined);
    if (!id) return std::nullopt;
    return vocab_->score(*id);
  };
  for (std::string_view segment : merge_pairs(escaped, by_score)) {
    if (auto id = vocab_->find(segment)) {
      out.push_back(*id);
      continue;
    }
    for (char c : segment) {
      const int32_t byte_id = byte_tokens_[static_cast<uint8_t>(c)];
      if (byte_id >= 0) {
        out.push_back(byte_id);
      } else if (unk_ >= 0) {
        out.push_back(unk_);
        break;  // one unknown token stands for the whole code point
      } else {
        raise(ErrorCode::Format,
              "SentencePiece vocabulary has no token, byte token or unknown "
              "token for '" +
                  std::string(segment) + "'");
      }
    }
  }
}

std::string SentencePieceBpe::token_bytes(int32_t id) const {
  const std::string& text = vocab_->text(id);
  if (vocab_->type(id) == TokenType::Byte) {
    unsigned value = 0;
    if (text.size() == 6 && std::sscanf(text.c_str(), "<0x%02X>", &value) == 1) {
      return std::string(1, static_cast<char>(value));
    }
    raise(ErrorCode::Format,
          "byte token " + std::to_string(id) + " is spelled '" + text + "', not <0xNN>");
  }
  std::string out;
  out.reserve(text.size());
  for (size_t i = 0; i < text.size();) {
    if (text.compare(i, kSpaceMark.size(), kSpaceMark) == 0) {
      out.push_back(' ');
      i += kSpaceMark.size();
    } else {
      out.push_back(text[i++]);
    }
  }
  return out;
}

}  // namespace stagefence::tok
