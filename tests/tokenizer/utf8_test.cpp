// UTF-8 helpers: decoding tiles the input even through invalid bytes, and the complete-prefix
// rule holds back exactly an unfinished trailing sequence.
#include "model/tokenizer/utf8.hpp"

#include <gtest/gtest.h>

#include <cstdint>
#include <random>
#include <string>

namespace stagefence::tok {
namespace {

TEST(Utf8, DecodesMixedWidthCodePoints) {
  const std::string text = "a\xC3\xA9\xE4\xBD\xA0\xF0\x9F\x98\x80";  // a é 你 😀
  const auto cps = decode_utf8(text);
  ASSERT_EQ(cps.size(), 4u);
  EXPECT_EQ(cps[0].value, 0x61u);
  EXPECT_EQ(cps[1].value, 0xE9u);
  EXPECT_EQ(cps[2].value, 0x4F60u);
  EXPECT_EQ(cps[3].value, 0x1F600u);
  EXPECT_EQ(cps[3].offset, 6u);
  EXPECT_EQ(cps[3].length, 4u);
}

TEST(Utf8, InvalidBytesBecomeSingleReplacementCodePoints) {
  const std::string text = "\xFF\xC3(\xED\xA0\x80";  // bad lead, cut sequence, surrogate
  const auto cps = decode_utf8(text);
  size_t covered = 0;
  for (const auto& cp : cps) {
    EXPECT_EQ(cp.offset, covered);
    covered += cp.length;
  }
  EXPECT_EQ(covered, text.size());
  EXPECT_EQ(cps[0].value, 0xFFFDu);
  EXPECT_EQ(cps[1].value, 0xFFFDu);
  EXPECT_EQ(cps[2].value, static_cast<uint32_t>('('));
}

TEST(Utf8, EncodeDecodeRoundTripsRandomCodePoints) {
  std::mt19937 rng(7);
  std::uniform_int_distribution<uint32_t> dist(1, 0x10FFFF);
  std::vector<uint32_t> expected;
  std::string text;
  while (expected.size() < 2000) {
    const uint32_t cp = dist(rng);
    if (cp >= 0xD800 && cp <= 0xDFFF) continue;
    expected.push_back(cp);
    append_utf8(text, cp);
  }
  const auto cps = decode_utf8(text);
  ASSERT_EQ(cps.size(), expected.size());
  for (size_t i = 0; i < cps.size(); ++i) EXPECT_EQ(cps[i].value, expected[i]) << i;
}

TEST(Utf8, CompletePrefixHoldsBackOnlyUnfinishedTail) {
  const std::string euro = "\xE2\x82\xAC";
  EXPECT_EQ(complete_utf8_prefix("ab" + euro), 5u);
  EXPECT_EQ(complete_utf8_prefix("ab" + euro.substr(0, 1)), 2u);
  EXPECT_EQ(complete_utf8_prefix("ab" + euro.substr(0, 2)), 2u);
  EXPECT_EQ(complete_utf8_prefix("\xF0\x9F\x98"), 0u);
  EXPECT_EQ(complete_utf8_prefix("x\xF0\x9F\x98\x80"), 5u);
  // A lead byte followed by a byte that cannot continue it will never complete: release it.
  EXPECT_EQ(complete_utf8_prefix("x\xE2("), 3u);
  EXPECT_EQ(complete_utf8_prefix("x\xFF"), 2u);
  EXPECT_EQ(complete_utf8_prefix(""), 0u);
}

}  // namespace
}  // namespace stagefence::tok
