// Finds special tokens written literally in text. User-defined tokens are always matched;
// control and unknown tokens only when the caller asks to parse special tokens.
#pragma once
#include <cstdint>
#include <string_view>
#include <utility>
#include <vector>

#include "model/tokenizer/marked_text.hpp"
#include "model/tokenizer/vocabulary.hpp"

namespace stagefence::tok {

// A stretch of the input: plain text (id < 0) or one special token.
struct TextFragment {
  std::string_view text;
  int32_t id;
};

class SpecialTokenSplitter {
 public:
  explicit SpecialTokenSplitter(const Vocabulary& vocab);

  // Splits `text` into fragments in order. Longer special tokens are matched first, each at its
  // leftmost occurrences in what is still plain text.
  std::vector<TextFragment> split(std::string_view text, bool parse_special) const;
  // As split(text, true), except that control and unknown tokens overlapping one of `literal`
  // (offsets into `text`, in order) stay plain text there.
  std::vector<TextFragment> split(std::string_view text,
                                  const std::vector<LiteralSpan>& literal) const;

 private:
  struct Special {
    std::string_view text;
    int32_t id;
    bool always;  // user-defined: matched even when special tokens are not parsed
  };
  std::vector<TextFragment> split(std::string_view text, bool parse_special,
                                  const std::vector<LiteralSpan>& literal) const;

  std::vector<Special> specials_;  // longest first
};

}  // namespace stagefence::tok
