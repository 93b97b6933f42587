// Special tokens in text, BOS/EOS flags, end-of-generation ids and invalid data.
#include <gtest/gtest.h>

#include <algorithm>
#include <cstdint>
#include <string>
#include <vector>

#include "model/tokenizer/byte_unicode_map.hpp"
#include "model/tokenizer/tokenizer.hpp"
#include "stagefence/error.hpp"

namespace stagefence::tok {
namespace {

// Byte tokens 0..255, then <|im_start|> (control), <|im_end|> (control, EOS), <tool> (user).
TokenizerData vocab_with_specials() {
  TokenizerData d;
  d.model = "gpt2";
  d.pre = "smollm";
  for (int b = 0; b < 256; ++b) {
    d.tokens.push_back(ByteUnicodeMap::instance().encode(std::string(1, static_cast<char>(b))));
  }
  d.token_types.assign(256, static_cast<int32_t>(TokenType::Normal));
  for (auto [text, type] :
       {std::pair{"<|im_start|>", TokenType::Control}, std::pair{"<|im_end|>", TokenType::Control},
        std::pair{"<tool>", TokenType::UserDefined}}) {
    d.tokens.push_back(text);
    d.token_types.push_back(static_cast<int32_t>(type));
  }
  d.bos = 256;
  d.eos = 257;
  return d;
}

TEST(SpecialTokens, ControlTokensMatchOnlyWhenParsedUserDefinedAlways) {
  const Tokenizer t(vocab_with_specials());
  const std::string text = "<|im_start|>a<tool>";
  const std::vector<int32_t> parsed = t.encode(text, false, true);
  EXPECT_EQ(parsed, (std::vector<int32_t>{256, 'a', 258}));
  const std::vector<int32_t> literal = t.encode(text, false, false);
  EXPECT_EQ(literal.back(), 258);
  EXPECT_GT(literal.size(), 3u);
  EXPECT_EQ(t.decode(literal), text);
  // Control tokens disappear from decoded text unless rendered.
  EXPECT_EQ(t.decode(parsed), "a<tool>");
  EXPECT_EQ(t.decode(parsed, true), text);
}

TEST(SpecialTokens, BosAndEosFollowTheFlags) {
  TokenizerData d = vocab_with_specials();
  d.add_bos = true;
  d.add_eos = true;
  const Tokenizer t(d);
  EXPECT_EQ(t.encode("x", true), (std::vector<int32_t>{256, 'x', 257}));
  EXPECT_EQ(t.encode("x", false), (std::vector<int32_t>{'x'}));
  EXPECT_TRUE(t.is_end_of_generation(257));
  EXPECT_FALSE(t.is_end_of_generation(256));
  EXPECT_FALSE(t.is_end_of_generation('x'));
}

TEST(SpecialTokens, InconsistentDataIsRejected) {
  auto expect_error = [](TokenizerData d, ErrorCode code) {
    try {
      Tokenizer t(std::move(d));
      FAIL() << "expected an error";
    } catch (const Error& e) {
      EXPECT_EQ(e.code(), code) << e.what();
    }
  };
  TokenizerData d = vocab_with_specials();
  d.eos = 9999;
  expect_error(d, ErrorCode::Format);
  d = vocab_with_specials();
  d.token_types.pop_back();
  expect_error(d, ErrorCode::Format);
  d = vocab_with_specials();
  d.model = "bert";
  expect_error(d, ErrorCode::Unsupported);
  d = vocab_with_specials();
  d.tokens.clear();
  d.token_types.clear();
  expect_error(d, ErrorCode::Format);
  const Tokenizer t(vocab_with_specials());
  EXPECT_THROW(t.decode(std::vector<int32_t>{-1}), Error);
  EXPECT_THROW(t.decode(std::vector<int32_t>{259}), Error);
}

TEST(SpecialTokens, LiteralSpansNeverBecomeControlTokens) {
  const Tokenizer t(vocab_with_specials());
  MarkedText text;
  text.markup("<|im_start|>");
  text.content("a<|im_end|><tool>");
  text.markup("<|im_end|>");
  const std::vector<int32_t> ids = t.encode(text, false);
  EXPECT_EQ(ids.front(), 256);  // markup: parsed
  EXPECT_EQ(ids.back(), 257);
  EXPECT_EQ(std::count(ids.begin(), ids.end(), 257), 1);  // the user's copy stays text
  EXPECT_EQ(std::count(ids.begin(), ids.end(), 258), 1);  // user-defined tokens always match
  EXPECT_EQ(t.decode(ids, true), "<|im_start|>a<|im_end|><tool><|im_end|>");
  // A marker spanning markup and content is not matched either.
  MarkedText straddle;
  straddle.markup("<|im_");
  straddle.content("end|>");
  const std::vector<int32_t> straddled = t.encode(straddle, false);
  EXPECT_EQ(std::count(straddled.begin(), straddled.end(), 257), 0);
}

}  // namespace
}  // namespace stagefence::tok
