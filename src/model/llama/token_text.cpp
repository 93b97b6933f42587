#include "model/llama/token_text.hpp"

#include <cstdint>
#include <optional>

#include "model/gguf/gguf_file.hpp"

namespace stagefence::llama {
namespace {

// Decodes one UTF-8 code point at s[i], advancing i; invalid bytes come back as themselves.
uint32_t next_code_point(const std::string& s, size_t& i) {
  const auto b0 = uint8_t(s[i]);
  int extra = b0 >= 0xF0 ? 3 : b0 >= 0xE0 ? 2 : b0 >= 0xC0 ? 1 : 0;
  if (extra && i + size_t(extra) >= s.size()) extra = 0;  // truncated: take the byte alone
  uint32_t cp = extra == 0 ? b0 : b0 & (0x3F >> extra);
  for (int k = 1; k <= extra; ++k) cp = (cp << 6) | (uint8_t(s[i + size_t(k)]) & 0x3F);
  i += size_t(extra) + 1;
  return cp;
}

// GPT-2 byte-level BPE spells bytes as code points: printable Latin-1 bytes as themselves, the
// others (0-32, 127-160, 173) as 256, 257, ... in byte order. Returns the byte a code point spells.
std::optional<uint8_t> byte_of_code_point(uint32_t cp) {
  auto printable = [](uint32_t b) {
    return (b >= 33 && b <= 126) || (b >= 161 && b <= 172) || (b >= 174 && b <= 255);
  };
  if (cp < 256) return printable(cp) ? std::optional<uint8_t>(uint8_t(cp)) : std::nullopt;
  uint32_t n = 256;
  for (uint32_t b = 0; b < 256; ++b) {
    if (printable(b)) continue;
    if (n == cp) return uint8_t(b);
    ++n;
  }
  return std::nullopt;
}

std::optional<uint8_t> hex_byte_token(const std::string& t) {
  if (t.size() != 6 || t.compare(0, 3, "<0x") != 0 || t[5] != '>') return std::nullopt;
  auto hex = [](char c) -> int {
    if (c >= '0' && c <= '9') return c - '0';
    if (c >= 'A' && c <= 'F') return c - 'A' + 10;
    if (c >= 'a' && c <= 'f') return c - 'a' + 10;
    return -1;
  };
  const int hi = hex(t[3]), lo = hex(t[4]);
  if (hi < 0 || lo < 0) return std::nullopt;
  return uint8_t(hi * 16 + lo);
}

}  // namespace

TokenText::TokenText(std::vector<std::string> tokens, Style style)
    : tokens_(std::move(tokens)), style_(style) {}

TokenText TokenText::from_gguf(const gguf::GgufFile& file) {
  const auto* tokens = file.find_array<std::string>("tokenizer.ggml.tokens");
  if (!tokens) return {};
  const auto model = file.try_get_string("tokenizer.ggml.model");
  return TokenText(*tokens, model && *model == "gpt2" ? Style::ByteLevel : Style::SentencePiece);
}

const std::string& TokenText::raw(int32_t id) const {
  static const std::string kUnknown = "<id?>";
  if (id < 0 || size_t(id) >= tokens_.size()) return kUnknown;
  return tokens_[size_t(id)];
}

std::string TokenText::piece_bytes(int32_t id) const {
  const std::string& t = raw(id);
  std::string out;
  if (style_ == Style::SentencePiece) {
    if (auto b = hex_byte_token(t)) return std::string(1, char(*b));
    static const std::string kSpace = "\xE2\x96\x81";  // U+2581
    for (size_t i = 0; i < t.size();) {
      if (t.compare(i, kSpace.size(), kSpace) == 0) {
        out += ' ';
        i += kSpace.size();
      } else {
        out += t[i++];
      }
    }
    return out;
  }
  for (size_t i = 0; i < t.size();) {
    const size_t start = i;
    const uint32_t cp = next_code_point(t, i);
    if (auto b = byte_of_code_point(cp))
      out += char(*b);
    else
      out.append(t, start, i - start);  // not a byte spelling (e.g. a special token): verbatim
  }
  return out;
}

std::string TokenText::decode(std::span<const int32_t> ids) const {
  std::string out;
  for (int32_t id : ids) out += piece_bytes(id);
  return out;
}

}  // namespace stagefence::llama
