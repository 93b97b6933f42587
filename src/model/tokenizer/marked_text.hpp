// Text with stretches that are never read for special tokens: a chat prompt whose markers
// ("<|im_start|>") come from the template while the messages' contents stay literal, so a user
// who types "<|im_end|>" gets those characters as text rather than a forged turn.
#pragma once
#include <cstddef>
#include <string>
#include <string_view>
#include <vector>

namespace stagefence::tok {

// Byte offsets [begin, end) into MarkedText::text.
struct LiteralSpan {
  size_t begin = 0, end = 0;
};

struct MarkedText {
  std::string text;
  std::vector<LiteralSpan> literal;  // in order, disjoint

  // Appends template markup: its special-token markers are parsed.
  void markup(std::string_view s) { text += s; }
  // Appends content that is never parsed for special tokens.
  void content(std::string_view s) {
    if (s.empty()) return;
    literal.push_back({text.size(), text.size() + s.size()});
    text += s;
  }
};

}  // namespace stagefence::tok
