// GPT-2 byte-level alphabet: every byte value is spelled as one printable code point, so a
// byte-level BPE vocabulary is a set of ordinary strings.
#pragma once
#include <array>
#include <cstdint>
#include <string>
#include <string_view>
#include <unordered_map>

namespace stagefence::tok {

class ByteUnicodeMap {
 public:
  static const ByteUnicodeMap& instance();

  uint32_t code_point_of(uint8_t byte) const { return to_cp_[byte]; }
  // The byte a code point spells, or -1 when it is not in the alphabet.
  int byte_of(uint32_t cp) const;
  // Every byte of `bytes` respelled in the alphabet, as UTF-8.
  std::string encode(std::string_view bytes) const;
  // The bytes a respelled string stands for; false when a code point is outside the alphabet.
  bool decode(std::string_view spelled, std::string& out) const;

 private:
  ByteUnicodeMap();
  std::array<uint32_t, 256> to_cp_{};
  std::array<std::string, 256> spelled_{};
  std::unordered_map<uint32_t, uint8_t> to_byte_;
};

}  // namespace stagefence::tok
