// Byte-level BPE on a small hand-built vocabulary, against a naive merge loop written here, and
// exact round trips of random byte strings.
#include <gtest/gtest.h>

#include <cstdint>
#include <random>
#include <string>
#include <vector>

#include "model/tokenizer/byte_unicode_map.hpp"
#include "model/tokenizer/pre_tokenizer.hpp"
#include "model/tokenizer/tokenizer.hpp"
#include "model/tokenizer/utf8.hpp"
#include "stagefence/error.hpp"

namespace stagefence::tok {
namespace {

// The 256 single-byte tokens (in the GPT-2 alphabet) followed by one token per merge.
TokenizerData small_byte_level_vocab() {
  TokenizerData d;
  d.model = "gpt2";
  d.pre = "gpt2";
  d.tokens.push_back("<|endoftext|>");
  for (int b = 0; b < 256; ++b) {
    d.tokens.push_back(ByteUnicodeMap::instance().encode(std::string(1, static_cast<char>(b))));
  }
  const std::string G = "\xC4\xA0";  // the alphabet's spelling of a space
  d.merges = {
      "l o",  "lo w",  G + " l", G + "l ow",         "e r", "low er", "a b",
      "ab a", "aba b", "b a",    "\xC3\x83 \xC2\xA9"};  // the last one joins the two bytes of é
  for (const std::string& m : d.merges) {
    const size_t sp = m.find(' ');
    d.tokens.push_back(m.substr(0, sp) + m.substr(sp + 1));
  }
  d.token_types.assign(d.tokens.size(), static_cast<int32_t>(TokenType::Normal));
  d.token_types[0] = static_cast<int32_t>(TokenType::Control);
  d.bos = d.eos = 0;
  return d;
}

// Reference: respell, then repeatedly apply the lowest-rank merge at its leftmost occurrence.
std::vector<int32_t> naive_encode(const TokenizerData& d, const std::string& text) {
  std::vector<int32_t> ids;
  for (std::string_view piece : pre_tokenize(PreTokenizerKind::Gpt2, text)) {
    std::vector<std::string> sym;
    const std::string spelled = ByteUnicodeMap::instance().encode(piece);
    for (const CodePoint& cp : decode_utf8(spelled))
      sym.push_back(spelled.substr(cp.offset, cp.length));
    while (true) {
      size_t best_rank = d.merges.size(), best_at = 0;
      for (size_t i = 0; i + 1 < sym.size(); ++i) {
        for (size_t r = 0; r < best_rank; ++r) {
          if (d.merges[r] == sym[i] + " " + sym[i + 1]) {
            best_rank = r;
            best_at = i;
            break;
          }
        }
      }
      if (best_rank == d.merges.size()) break;
      sym[best_at] += sym[best_at + 1];
      sym.erase(sym.begin() + best_at + 1);
    }
    for (const std::string& s : sym) {
      for (size_t id = 0; id < d.tokens.size(); ++id) {
        if (d.tokens[id] == s) ids.push_back(static_cast<int32_t>(id));
      }
    }
  }
  return ids;
}

TEST(ByteLevelBpe, MergesByRankOnHandWorkedExample) {
  const TokenizerData d = small_byte_level_vocab();
  const Tokenizer t(d);
  auto id = [&](const std::string& s) { return *t.vocabulary().find(s); };
  // "lower" -> lo w e r -> low er -> lower? "low er" is rank 5, so yes.
  EXPECT_EQ(t.encode("lower", false), (std::vector<int32_t>{id("lower")}));
  // " lower" -> Ġl o w e r: "l o" (rank 0) beats "Ġ l" (rank 2), then "lo w", then "e r"...
  EXPECT_EQ(t.encode(" lower", false), (std::vector<int32_t>{id("\xC4\xA0"), id("lower")}));
  // "ababa": "a b" (rank 6) merges leftmost first, then again, then "ab a" (rank 7).
  EXPECT_EQ(t.encode("ababa", false), (std::vector<int32_t>{id("ab"), id("aba")}));
  EXPECT_EQ(t.encode("\xC3\xA9", false), (std::vector<int32_t>{id("\xC3\x83\xC2\xA9")}));
}

TEST(ByteLevelBpe, MatchesNaiveMergeLoopOnRandomText) {
  const TokenizerData d = small_byte_level_vocab();
  const Tokenizer t(d);
  const char* parts[] = {"l", "o", "w", "e", "r", "a", "b", " ", "  ", "\xC3\xA9", "\n", "1", "'s"};
  std::mt19937 rng(3);
  for (int trial = 0; trial < 500; ++trial) {
    std::string text;
    const int n = 1 + static_cast<int>(rng() % 30);
    for (int i = 0; i < n; ++i) text += parts[rng() % std::size(parts)];
    const std::vector<int32_t> got = t.encode(text, false);
    EXPECT_EQ(got, naive_encode(d, text)) << text;
    EXPECT_EQ(t.decode(got), text);
  }
}

TEST(ByteLevelBpe, RandomBytesRoundTripExactly) {
  const Tokenizer t(small_byte_level_vocab());
  std::mt19937 rng(5);
  for (int trial = 0; trial < 200; ++trial) {
    std::string bytes(1 + rng() % 64, '\0');
    for (char& c : bytes) c = static_cast<char>(rng() & 0xFF);
    EXPECT_EQ(t.decode(t.encode(bytes, false)), bytes);
  }
}

TEST(ByteLevelBpe, MalformedMergeIsAFormatError) {
  TokenizerData d = small_byte_level_vocab();
  d.merges.push_back("nospace");
  for (const char* bad : {"nospace", "a b c", " a"}) {
    d.merges.back() = bad;
    try {
      Tokenizer t(d);
      FAIL() << "expected a Format error for merge '" << bad << "'";
    } catch (const Error& e) {
      EXPECT_EQ(e.code(), ErrorCode::Format);
    }
  }
}

}  // namespace
}  // namespace stagefence::tok
