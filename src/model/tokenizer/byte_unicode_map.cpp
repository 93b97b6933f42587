#include "model/tokenizer/byte_unicode_map.hpp"

#include <cstdint>

#include "model/tokenizer/utf8.hpp"

namespace stagefence::tok {

ByteUnicodeMap::ByteUnicodeMap() {
  // Printable Latin-1 bytes keep their own code point; the rest (controls, space, DEL, NBSP,
  // soft hyphen) are moved, in byte order, to U+0100 and up.
  uint32_t next_moved = 256;
  for (uint32_t b = 0; b < 256; ++b) {
    const bool printable = (b >= 0x21 && b <= 0x7E) || (b >= 0xA1 && b <= 0xAC) || b >= 0xAE;
    to_cp_[b] = printable ? b : next_moved++;
    append_utf8(spelled_[b], to_cp_[b]);
    to_byte_[to_cp_[b]] = static_cast<uint8_t>(b);
  }
}

const ByteUnicodeMap& ByteUnicodeMap::instance() {
  static const ByteUnicodeMap map;
  return map;
}

int ByteUnicodeMap::byte_of(uint32_t cp) const {
  auto it = to_byte_.find(cp);
  return it == to_byte_.end() ? -1 : it->second;
}

std::string ByteUnicodeMap::encode(std::string_view bytes) const {
  std::string out;
  out.reserve(bytes.size() * 2);
  for (char c : bytes) out += spelled_[static_cast<uint8_t>(c)];
  return out;
}

bool ByteUnicodeMap::decode(std::string_view spelled, std::string& out) const {
  for (const CodePoint& cp : decode_utf8(spelled)) {
    const int b = byte_of(cp.value);
    if (b < 0) return false;
    out.push_back(static_cast<char>(b));
  }
  return true;
}

}  // namespace stagefence::tok
