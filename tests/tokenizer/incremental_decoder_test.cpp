// Streaming decode: multi-byte code points split across tokens come out whole, the stream
// concatenates to the one-shot decode, and broken sequences become U+FFFD.
#include "model/tokenizer/incremental_decoder.hpp"

#include <gtest/gtest.h>

#include <cstdint>
#include <random>
#include <string>
#include <vector>

#include "model/tokenizer/byte_unicode_map.hpp"
#include "model/tokenizer/tokenizer.hpp"
#include "model/tokenizer/utf8.hpp"

namespace stagefence::tok {
namespace {

// Only single-byte tokens, so every multi-byte code point spans several tokens.
Tokenizer byte_tokenizer() {
  TokenizerData d;
  d.model = "gpt2";
  d.pre = "gpt2";
  for (int b = 0; b < 256; ++b) {
    d.tokens.push_back(ByteUnicodeMap::instance().encode(std::string(1, static_cast<char>(b))));
  }
  return Tokenizer(std::move(d));
}

TEST(IncrementalDecoder, EmitsOnlyCompleteCodePoints) {
  const Tokenizer t = byte_tokenizer();
  IncrementalDecoder stream(t);
  const std::string smile = "\xF0\x9F\x98\x80";
  std::vector<std::string> outputs;
  for (int32_t id : t.encode("a" + smile + "b", false)) outputs.push_back(stream.push(id));
  EXPECT_EQ(outputs, (std::vector<std::string>{"a", "", "", "", smile, "b"}));
  EXPECT_EQ(stream.finish(), "");
}

TEST(IncrementalDecoder, StreamEqualsOneShotDecodeOnRandomText) {
  const Tokenizer t = byte_tokenizer();
  std::mt19937 rng(17);
  for (int trial = 0; trial < 200; ++trial) {
    std::string text;
    for (int i = 0; i < 20; ++i) {
      uint32_t cp = 1 + rng() % 0x10FFFF;
      if (cp >= 0xD800 && cp <= 0xDFFF) cp = 'x';
      append_utf8(text, cp);
    }
    IncrementalDecoder stream(t);
    std::string streamed;
    for (int32_t id : t.encode(text, false)) {
      const std::string piece = stream.push(id);
      EXPECT_EQ(complete_utf8_prefix(piece), piece.size());
      streamed += piece;
    }
    streamed += stream.finish();
    EXPECT_EQ(streamed, text);
  }
}

TEST(IncrementalDecoder, BrokenSequencesBecomeReplacementCharacters) {
  const Tokenizer t = byte_tokenizer();
  IncrementalDecoder stream(t);
  std::string out;
  for (int32_t id : t.encode("\xFF"
                             "a\xE2\x82",
                             false))
    out += stream.push(id);
  EXPECT_EQ(out,
            "\xEF\xBF\xBD"
            "a");
  EXPECT_EQ(stream.finish(), "\xEF\xBF\xBD\xEF\xBF\xBD");
}

}  // namespace
}  // namespace stagefence::tok
