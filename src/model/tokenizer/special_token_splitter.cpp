#include "model/tokenizer/special_token_splitter.hpp"

#include <algorithm>
#include <cstdint>

namespace stagefence::tok {

SpecialTokenSplitter::SpecialTokenSplitter(const Vocabulary& vocab) {
  for (size_t i = 0; i < vocab.size(); ++i) {
    const auto id = static_cast<int32_t>(i);
    const TokenType type = vocab.type(id);
    if (vocab.text(id).empty()) continue;
    if (type == TokenType::Control || type == TokenType::Unknown ||
        type == TokenType::UserDefined) {
      specials_.push_back({vocab.text(id), id, type == TokenType::UserDefined});
    }
  }
  std::stable_sort(specials_.begin(), specials_.end(), [](const Special& a, const Special& b) {
    return a.text.size() > b.text.size();
  });
}

std::vector<TextFragment> SpecialTokenSplitter::split(std::string_view text,
                                                      bool parse_special) const {
  return split(text, parse_special, {});
}

std::vector<TextFragment> SpecialTokenSplitter::split(
    std::string_view text, const std::vector<LiteralSpan>& literal) const {
  return split(text, true, literal);
}

std::vector<TextFragment> SpecialTokenSplitter::split(
    std::string_view text, bool parse_special, const std::vector<LiteralSpan>& literal) const {
  // Whether [begin, end) of `text` may become a control token: it overlaps no literal span.
  const auto outside_literal = [&](size_t begin, size_t end) {
    for (const LiteralSpan& span : literal)
      if (begin < span.end && span.begin < end) return false;
    return true;
  };
  std::vector<TextFragment> fragments;
  if (!text.empty()) fragments.push_back({text, -1});
  for (const Special& special : specials_) {
    if (!special.always && !parse_special) continue;
    std::vector<TextFragment> next;
    next.reserve(fragments.size());
    for (const TextFragment& f : fragments) {
      if (f.id >= 0) {
        next.push_back(f);
        continue;
      }
      const size_t base = size_t(f.text.data() - text.data());
      size_t plain = 0;  // start of the plain text not yet emitted
      for (size_t at = f.text.find(special.text); at != std::string_view::npos;
           at = f.text.find(special.text, at + 1)) {
        if (at < plain) continue;  // overlaps the previous match
        if (!special.always && !outside_literal(base + at, base + at + special.text.size()))
          continue;
        if (at > plain) next.push_back({f.text.substr(plain, at - plain), -1});
        next.push_back({special.text, special.id});
        plain = at + special.text.size();
      }
      if (plain < f.text.size()) next.push_back({f.text.substr(plain), -1});
    }
    fragments = std::move(next);
  }
  return fragments;
}

}  // namespace stagefence::tok
