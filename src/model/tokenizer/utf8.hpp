// UTF-8 helpers: splitting text into code points without ever failing on invalid bytes.
#pragma once
#include <cstddef>
#include <cstdint>
#include <string>
#include <string_view>
#include <vector>

namespace stagefence::tok {

// One code point of a string: its value and the bytes it occupies. An invalid byte becomes a
// one-byte code point with value 0xFFFD, so offsets always tile the input.
struct CodePoint {
  uint32_t value;
  size_t offset;
  size_t length;
};

std::vector<CodePoint> decode_utf8(std::string_view text);
void append_utf8(std::string& out, uint32_t cp);
// Length of the complete, valid UTF-8 sequence starting at text[0], or 0 when it is invalid or
// cut off by the end of `text`.
size_t utf8_sequence_length(std::string_view text);
// Length of the longest prefix of `bytes` that ends on a code point boundary, leaving out only a
// trailing sequence that could still be completed by more bytes (at most 3 bytes are left).
size_t complete_utf8_prefix(std::string_view bytes);

}  // namespace stagefence::tok
