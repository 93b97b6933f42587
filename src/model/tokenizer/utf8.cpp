#include "model/tokenizer/utf8.hpp"

#include <cstdint>

namespace stagefence::tok {
namespace {

// Expected sequence length from a lead byte; 0 for a continuation or invalid lead byte.
size_t lead_length(unsigned char b) {
  if (b < 0x80) return 1;
  if (b >= 0xC2 && b <= 0xDF) return 2;
  if (b >= 0xE0 && b <= 0xEF) return 3;
  if (b >= 0xF0 && b <= 0xF4) return 4;
  return 0;
}

// Whether `second` may follow `lead` (excludes overlongs, surrogates and values past U+10FFFF).
bool valid_second(unsigned char lead, unsigned char second) {
  if ((second & 0xC0) != 0x80) return false;
  if (lead == 0xE0) return second >= 0xA0;
  if (lead == 0xED) return second <= 0x9F;
  if (lead == 0xF0) return second >= 0x90;
  if (lead == 0xF4) return second <= 0x8F;
  return true;
}

}  // namespace

size_t utf8_sequence_length(std::string_view text) {
  if (text.empty()) return 0;
  const auto lead = static_cast<unsigned char>(text[0]);
  const size_t n = lead_length(lead);
  if (n == 0 || text.size() < n) return 0;
  if (n >= 2 && !valid_second(lead, static_cast<unsigned char>(text[1]))) return 0;
  for (size_t i = 2; i < n; ++i) {
    if ((static_cast<unsigned char>(text[i]) & 0xC0) != 0x80) return 0;
  }
  return n;
}

std::vector<CodePoint> decode_utf8(std::string_view text) {
  std::vector<CodePoint> out;
  out.reserve(text.size());
  size_t i = 0;
  while (i < text.size()) {
    const size_t n = utf8_sequence_length(text.substr(i));
    if (n == 0) {
      out.push_back({0xFFFD, i, 1});
      ++i;
      continue;
    }
    const auto b = [&](size_t k) {
      return static_cast<uint32_t>(static_cast<unsigned char>(text[i + k]));
    };
    uint32_t cp = 0;
    switch (n) {
      case 1:
        cp = b(0);
        break;
      case 2:
        cp = ((b(0) & 0x1F) << 6) | (b(1) & 0x3F);
        break;
      case 3:
        cp = ((b(0) & 0x0F) << 12) | ((b(1) & 0x3F) << 6) | (b(2) & 0x3F);
        break;
      default:
        cp = ((b(0) & 0x07) << 18) | ((b(1) & 0x3F) << 12) | ((b(2) & 0x3F) << 6) | (b(3) & 0x3F);
    }
    out.push_back({cp, i, n});
    i += n;
  }
  return out;
}

void append_utf8(std::string& out, uint32_t cp) {
  if (cp < 0x80) {
    out.push_back(static_cast<char>(cp));
  } else if (cp < 0x800) {
    out.push_back(static_cast<char>(0xC0 | (cp >> 6)));
    out.push_back(static_cast<char>(0x80 | (cp & 0x3F)));
  } else if (cp < 0x10000) {
    out.push_back(static_cast<char>(0xE0 | (cp >> 12)));
    out.push_back(static_cast<char>(0x80 | ((cp >> 6) & 0x3F)));
    out.push_back(static_cast<char>(0x80 | (cp & 0x3F)));
  } else {
    out.push_back(static_cast<char>(0xF0 | (cp >> 18)));
    out.push_back(static_cast<char>(0x80 | ((cp >> 12) & 0x3F)));
    out.push_back(static_cast<char>(0x80 | ((cp >> 6) & 0x3F)));
    out.push_back(static_cast<char>(0x80 | (cp & 0x3F)));
  }
}

size_t complete_utf8_prefix(std::string_view bytes) {
  // Only the last three bytes can belong to an unfinished sequence.
  const size_t n = bytes.size();
  for (size_t back = 1; back <= 3 && back <= n; ++back) {
    const auto b = static_cast<unsigned char>(bytes[n - back]);
    if ((b & 0xC0) == 0x80) continue;  // continuation byte: look further back for the lead
    const size_t need = lead_length(b);
    if (need > back) {
      // A lead byte whose sequence is not finished yet; hold it back if what follows is valid.
      const std::string_view tail = bytes.substr(n - back);
      bool could_complete = back < 2 || valid_second(b, static_cast<unsigned char>(tail[1]));
      for (size_t k = 2; k < back; ++k) {
        could_complete = could_complete && (static_cast<unsigned char>(tail[k]) & 0xC0) == 0x80;
      }
      return could_complete ? n - back : n;
    }
    return n;
  }
  return n;
}

}  // namespace stagefence::tok
