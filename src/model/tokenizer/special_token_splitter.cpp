#include "model/tokenizer/special_token_splitter.hpp"

#include <algorithm>

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
      std::string_view rest = f.text;
      for (size_t at = rest.find(special.text); at != std::string_view::npos;
           at = rest.find(special.text)) {
        if (at > 0) next.push_back({rest.substr(0, at), -1});
        next.push_back({special.text, special.id});
        rest.remove_prefix(at + special.text.size());
      }
      if (!rest.empty()) next.push_back({rest, -1});
    }
    fragments = std::move(next);
  }
  return fragments;
}

}  // namespace stagefence::tok
