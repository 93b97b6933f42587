// Unicode classification that the pre-tokenizer regexes need: \p{L}, \p{N} and \s.
#pragma once
#include <cstdint>
#include <span>

namespace stagefence::tok {

struct CodePointRange {
  uint32_t first;
  uint32_t last;  // inclusive
};

// Sorted, disjoint ranges of the general categories L* and N* (generated table).
std::span<const CodePointRange> letter_ranges();
std::span<const CodePointRange> number_ranges();

bool is_letter(uint32_t cp);
bool is_number(uint32_t cp);
// The Unicode White_Space property, which is what \s means in the tokenizer regexes.
bool is_whitespace(uint32_t cp);

}  // namespace stagefence::tok
