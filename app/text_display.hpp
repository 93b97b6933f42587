// Text made safe for a terminal, and token id lists for status lines.
#pragma once
#include <cstdint>
#include <string>
#include <vector>

namespace stagefence::cli {

// Control characters other than newline and tab shown as \xNN escapes, so generated text
// cannot move the terminal's cursor.
std::string printable(const std::string& s);
std::string join_ids(const std::vector<int32_t>& ids, const char* sep);

}  // namespace stagefence::cli
