#include "model/tokenizer/pre_tokenizer.hpp"

#include <cstdint>
#include <string>

#include "model/tokenizer/unicode_ranges.hpp"
#include "model/tokenizer/utf8.hpp"
#include "stagefence/error.hpp"

namespace stagefence::tok {
namespace {

// Scans code points [begin, end) of one text and returns the end of the piece starting at `i`.
class Scanner {
 public:
  Scanner(const std::vector<CodePoint>& cps, size_t end) : cps_(cps), end_(end) {}

  uint32_t at(size_t i) const { return i < end_ ? cps_[i].value : 0xFFFFFFFFu; }
  bool letter(size_t i) const { return i < end_ && is_letter(cps_[i].value); }
  bool number(size_t i) const { return i < end_ && is_number(cps_[i].value); }
  bool space(size_t i) const { return i < end_ && is_whitespace(cps_[i].value); }
  bool newline(size_t i) const { return i < end_ && (at(i) == '\r' || at(i) == '\n'); }
  // [^\s\p{L}\p{N}]
  bool other(size_t i) const { return i < end_ && !space(i) && !letter(i) && !number(i); }

  size_t run_of_letters(size_t i) const {
    while (letter(i)) ++i;
    return i;
  }
  size_t run_of_others(size_t i) const {
    while (other(i)) ++i;
    return i;
  }

  // 's|'t|'re|'ve|'m|'ll|'d, optionally ignoring case; returns i when there is no match.
  size_t contraction(size_t i, bool ignore_case) const {
    if (at(i) != '\'') return i;
    auto lower = [&](size_t k) {
      uint32_t c = at(k);
      return ignore_case && c >= 'A' && c <= 'Z' ? c + 32 : c;
    };
    const uint32_t a = lower(i + 1), b = lower(i + 2);
    if (a == 's' || a == 't' || a == 'm' || a == 'd') return i + 2;
    if ((a == 'r' && b == 'e') || (a == 'v' && b == 'e') || (a == 'l' && b == 'l')) return i + 3;
    return i;
  }

  // \s+(?!\S)|\s+ at a whitespace code point: a run followed by non-space gives up its last
  // code point to the next piece, unless that would leave the match empty.
  size_t whitespace_run(size_t i) const {
    size_t j = i;
    while (space(j)) ++j;
    if (j == end_ || j - i == 1) return j;
    return j - 1;
  }

  size_t gpt2_piece(size_t i) const {
    if (size_t j = contraction(i, false); j != i) return j;
    const size_t k = at(i) == ' ' ? i + 1 : i;
    if (letter(k)) return run_of_letters(k);
    if (number(k)) {
      size_t j = k;
      while (number(j)) ++j;
      return j;
    }
    if (other(k)) return run_of_others(k);
    return whitespace_run(i);
  }

  size_t llama3_piece(size_t i) const {
    if (size_t j = contraction(i, true); j != i) return j;
    if (letter(i)) return run_of_letters(i);
    if (!newline(i) && !number(i) && letter(i + 1)) return run_of_letters(i + 1);
    if (number(i)) {
      size_t j = i;
      while (j < i + 3 && number(j)) ++j;
      return j;
    }
    const size_t k = at(i) == ' ' ? i + 1 : i;
    if (other(k)) {
      size_t j = run_of_others(k);
      while (newline(j)) ++j;
      return j;
    }
    // \s*[\r\n]+ : the longest whitespace prefix that ends in a line break.
    size_t j = i, last_break = i;
    while (space(j)) {
      ++j;
      if (newline(j - 1)) last_break = j;
    }
    if (last_break != i) return last_break;
    return whitespace_run(i);
  }

 private:
  const std::vector<CodePoint>& cps_;
  size_t end_;
};

void split_range(PreTokenizerKind kind, const std::vector<CodePoint>& cps, size_t begin, size_t end,
                 std::string_view text, std::vector<std::string_view>& out) {
  const Scanner scan(cps, end);
  size_t i = begin;
  while (i < end) {
    const size_t j = kind == PreTokenizerKind::Llama3 ? scan.llama3_piece(i) : scan.gpt2_piece(i);
    const size_t from = cps[i].offset;
    const size_t to = cps[j - 1].offset + cps[j - 1].length;
    out.push_back(text.substr(from, to - from));
    i = j;
  }
}

}  // namespace

PreTokenizerKind pre_tokenizer_from_name(std::string_view pre) {
  if (pre == "gpt2" || pre == "gpt-2") return PreTokenizerKind::Gpt2;
  if (pre == "smollm" || pre == "starcoder" || pre == "refact" || pre == "codeshell") {
    return PreTokenizerKind::IsolatedDigitsGpt2;
  }
  if (pre == "llama3" || pre == "llama-v3" || pre == "llama-bpe") return PreTokenizerKind::Llama3;
  raise(ErrorCode::Unsupported,
        "byte-level BPE pre-tokenizer '" + std::string(pre) +
            "' is not implemented (known: gpt2, smollm, starcoder, refact, codeshell, llama3)");
}

std::vector<std::string_view> pre_tokenize(PreTokenizerKind kind, std::string_view text) {
  const std::vector<CodePoint> cps = decode_utf8(text);
  std::vector<std::string_view> out;
  if (kind != PreTokenizerKind::IsolatedDigitsGpt2) {
    split_range(kind, cps, 0, cps.size(), text, out);
    return out;
  }
  size_t run_start = 0;
  for (size_t i = 0; i < cps.size(); ++i) {
    if (!is_number(cps[i].value)) continue;
    split_range(PreTokenizerKind::Gpt2, cps, run_start, i, text, out);
    out.push_back(text.substr(cps[i].offset, cps[i].length));
    run_start = i + 1;
  }
  split_range(PreTokenizerKind::Gpt2, cps, run_start, cps.size(), text, out);
  return out;
}

}  // namespace stagefence::tok
