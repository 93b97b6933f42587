// Pre-tokenizer splits against pieces worked out by hand from each regex, and the tiling
// property on random text.
#include "model/tokenizer/pre_tokenizer.hpp"

#include <gtest/gtest.h>

#include <cstdint>
#include <random>
#include <string>
#include <vector>

#include "model/tokenizer/utf8.hpp"
#include "stagefence/error.hpp"

namespace stagefence::tok {
namespace {

std::vector<std::string> split(PreTokenizerKind kind, const std::string& text) {
  std::vector<std::string> out;
  for (std::string_view piece : pre_tokenize(kind, text)) out.emplace_back(piece);
  return out;
}

using Pieces = std::vector<std::string>;

TEST(PreTokenizer, Gpt2SplitsWordsNumbersPunctuationAndSpaces) {
  EXPECT_EQ(split(PreTokenizerKind::Gpt2, "Hello world, it's 2024!!"),
            (Pieces{"Hello", " world", ",", " it", "'s", " 2024", "!!"}));
  // A space run gives its last space to the following word; a trailing run stays whole.
  EXPECT_EQ(split(PreTokenizerKind::Gpt2, "a   b  "), (Pieces{"a", "  ", " b", "  "}));
  EXPECT_EQ(split(PreTokenizerKind::Gpt2, "x\t\ty\n"), (Pieces{"x", "\t", "\t", "y", "\n"}));
  // Contractions are case-sensitive in GPT-2; an apostrophe without one joins punctuation.
  EXPECT_EQ(split(PreTokenizerKind::Gpt2, "DON'T don't '?"),
            (Pieces{"DON", "'", "T", " don", "'t", " '?"}));
  EXPECT_EQ(split(PreTokenizerKind::Gpt2, "caf\xC3\xA9 \xE4\xBD\xA0\xE5\xA5\xBD"),
            (Pieces{"caf\xC3\xA9", " \xE4\xBD\xA0\xE5\xA5\xBD"}));
}

TEST(PreTokenizer, SmolLmIsolatesEveryDigit) {
  EXPECT_EQ(split(PreTokenizerKind::IsolatedDigitsGpt2, "v12 ab3"),
            (Pieces{"v", "1", "2", " ab", "3"}));
  EXPECT_EQ(split(PreTokenizerKind::IsolatedDigitsGpt2, "x 42"), (Pieces{"x", " ", "4", "2"}));
  // Superscript two is \p{N} too.
  EXPECT_EQ(split(PreTokenizerKind::IsolatedDigitsGpt2, "m\xC2\xB2"), (Pieces{"m", "\xC2\xB2"}));
}

TEST(PreTokenizer, Llama3GroupsDigitsByThreeAndKeepsLineBreaks) {
  EXPECT_EQ(split(PreTokenizerKind::Llama3, "1234567 DON'T"),
            (Pieces{"123", "456", "7", " DON", "'T"}));
  EXPECT_EQ(split(PreTokenizerKind::Llama3, "a,\n\n  b"), (Pieces{"a", ",\n\n", " ", " b"}));
  EXPECT_EQ(split(PreTokenizerKind::Llama3, "x  \n y"), (Pieces{"x", "  \n", " y"}));
  EXPECT_EQ(split(PreTokenizerKind::Llama3, "(hello"), (Pieces{"(hello"}));
}

TEST(PreTokenizer, PiecesTileRandomText) {
  const uint32_t alphabet[] = {'a', 'Z', '7', ' ',  ' ',    '\t',    '\n', '\r',   '\'',
                               's', '!', '.', 0xE9, 0x4F60, 0x1F600, 0xB2, 0x3000, 0x0663};
  std::mt19937 rng(11);
  for (auto kind :
       {PreTokenizerKind::Gpt2, PreTokenizerKind::IsolatedDigitsGpt2, PreTokenizerKind::Llama3}) {
    for (int trial = 0; trial < 300; ++trial) {
      std::string text;
      const int n = 1 + static_cast<int>(rng() % 40);
      for (int i = 0; i < n; ++i) append_utf8(text, alphabet[rng() % std::size(alphabet)]);
      std::string joined;
      for (std::string_view piece : pre_tokenize(kind, text)) {
        ASSERT_FALSE(piece.empty());
        joined += piece;
      }
      EXPECT_EQ(joined, text);
    }
  }
}

TEST(PreTokenizer, UnknownNameIsUnsupported) {
  EXPECT_EQ(pre_tokenizer_from_name("smollm"), PreTokenizerKind::IsolatedDigitsGpt2);
  EXPECT_EQ(pre_tokenizer_from_name("llama-bpe"), PreTokenizerKind::Llama3);
  try {
    pre_tokenizer_from_name("qwen2");
    FAIL() << "expected Unsupported";
  } catch (const Error& e) {
    EXPECT_EQ(e.code(), ErrorCode::Unsupported);
    EXPECT_NE(std::string(e.what()).find("qwen2"), std::string::npos);
  }
}

}  // namespace
}  // namespace stagefence::tok
