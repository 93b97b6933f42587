// SentencePiece-style BPE on a small hand-built vocabulary: score-ordered merges against a naive
// loop written here, byte fallback, the space prefix, and decoding.
#include <gtest/gtest.h>

#include <cstdint>
#include <cstdio>
#include <random>
#include <string>
#include <vector>

#include "model/tokenizer/tokenizer.hpp"
#include "model/tokenizer/utf8.hpp"

namespace stagefence::tok {
namespace {

const std::string kMark = "\xE2\x96\x81";

TokenizerData small_sentencepiece_vocab(bool with_bytes) {
  TokenizerData d;
  d.model = "llama";
  d.pre = "default";
  auto add = [&](const std::string& text, float score, TokenType type) {
    d.tokens.push_back(text);
    d.scores.push_back(score);
    d.token_types.push_back(static_cast<int32_t>(type));
  };
  add("<unk>", 0, TokenType::Unknown);
  add("<s>", 0, TokenType::Control);
  add("</s>", 0, TokenType::Control);
  if (with_bytes) {
    for (int b = 0; b < 256; ++b) {
      char buf[8];
      std::snprintf(buf, sizeof buf, "<0x%02X>", b);
      add(buf, 0, TokenType::Byte);
    }
  }
  for (const char* c : {"a", "b", "c", "h", "e", "l", "o"}) add(c, -100, TokenType::Normal);
  add(kMark, -50, TokenType::Normal);
  add("he", -1, TokenType::Normal);
  add("ll", -2, TokenType::Normal);
  add("hell", -3, TokenType::Normal);
  add("hello", -4, TokenType::Normal);
  add(kMark + "h", -5, TokenType::Normal);
  add(kMark + "hello", -0.5f, TokenType::Normal);
  add("ab", -6, TokenType::Normal);
  add("bc", -6, TokenType::Normal);  // ties with "ab": the leftmost pair wins
  add("abc", -7, TokenType::Normal);
  add("\xC3\xA9", -8, TokenType::Normal);  // é
  d.unk = 0;
  d.bos = 1;
  d.eos = 2;
  d.add_bos = true;
  return d;
}

// Reference: code points, then repeatedly join the leftmost pair whose text has the best score.
std::vector<int32_t> naive_encode(const TokenizerData& d, const std::string& text, bool prefix) {
  std::string escaped = prefix ? kMark : "";
  for (char c : text) escaped += c == ' ' ? kMark : std::string(1, c);
  auto find = [&](const std::string& s) -> int {
    for (size_t i = 0; i < d.tokens.size(); ++i) {
      if (d.tokens[i] == s) return static_cast<int>(i);
    }
    return -1;
  };
  std::vector<std::string> sym;
  for (const CodePoint& cp : decode_utf8(escaped))
    sym.push_back(escaped.substr(cp.offset, cp.length));
  while (true) {
    int best = -1;
    float best_score = 0;
    for (size_t i = 0; i + 1 < sym.size(); ++i) {
      const int id = find(sym[i] + sym[i + 1]);
      if (id >= 0 && (best < 0 || d.scores[id] > best_score)) {
        best = static_cast<int>(i);
        best_score = d.scores[id];
      }
    }
    if (best < 0) break;
    sym[best] += sym[best + 1];
    sym.erase(sym.begin() + best + 1);
  }
  std::vector<int32_t> ids;
  for (const std::string& s : sym) {
    if (int id = find(s); id >= 0) {
      ids.push_back(id);
      continue;
    }
    for (unsigned char c : s) {
      char buf[8];
      std::snprintf(buf, sizeof buf, "<0x%02X>", c);
      ids.push_back(find(buf) >= 0 ? find(buf) : 0);
    }
  }
  return ids;
}

TEST(SentencePieceBpe, MergesByScoreOnHandWorkedExample) {
  const Tokenizer t(small_sentencepiece_vocab(true));
  auto id = [&](const std::string& s) { return *t.vocabulary().find(s); };
  // he(-1) first, then ll(-2), then hell(-3), hello(-4); ▁h(-5) never gets its turn.
  EXPECT_EQ(t.encode("hello", false), (std::vector<int32_t>{id("hello")}));
  EXPECT_EQ(t.encode(" hello", false), (std::vector<int32_t>{id(kMark + "hello")}));
  EXPECT_EQ(t.encode("abc", false), (std::vector<int32_t>{id("abc")}));
  // BOS comes from add_bos; 'z' falls back to its byte token.
  EXPECT_EQ(t.encode("z", true), (std::vector<int32_t>{1, id("<0x7A>")}));
}

TEST(SentencePieceBpe, MatchesNaiveMergeLoopOnRandomText) {
  const TokenizerData d = small_sentencepiece_vocab(true);
  const Tokenizer t(d);
  const char* parts[] = {"h", "e", "l", "o", "a", "b", "c", " ", "\xC3\xA9", "\xE4\xBD\xA0",
                         "z", "\n"};
  std::mt19937 rng(9);
  for (int trial = 0; trial < 500; ++trial) {
    std::string text;
    const int n = 1 + static_cast<int>(rng() % 30);
    for (int i = 0; i < n; ++i) text += parts[rng() % std::size(parts)];
    const std::vector<int32_t> got = t.encode(text, false);
    EXPECT_EQ(got, naive_encode(d, text, false)) << text;
    EXPECT_EQ(t.decode(got), text);
  }
}

TEST(SentencePieceBpe, SpacePrefixIsAddedAndStrippedAgain) {
  TokenizerData d = small_sentencepiece_vocab(true);
  d.add_space_prefix = true;
  const Tokenizer t(d);
  const std::vector<int32_t> ids = t.encode("hello", false);
  EXPECT_EQ(ids, naive_encode(d, "hello", true));
  EXPECT_EQ(ids, (std::vector<int32_t>{*t.vocabulary().find(kMark + "hello")}));
  EXPECT_EQ(t.decode(ids), "hello");
}

TEST(SentencePieceBpe, WithoutByteTokensUnknownCodePointsBecomeUnk) {
  const Tokenizer t(small_sentencepiece_vocab(false));
  const std::vector<int32_t> ids = t.encode(
      "a\xE4\xBD\xA0"
      "b",
      false);
  EXPECT_EQ(ids, (std::vector<int32_t>{*t.vocabulary().find("a"), 0, *t.vocabulary().find("b")}));
  EXPECT_EQ(t.decode(ids), "ab");
  EXPECT_EQ(t.decode(ids, true), "a<unk>b");
}

}  // namespace
}  // namespace stagefence::tok
