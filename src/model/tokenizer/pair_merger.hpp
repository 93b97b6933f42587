// The merge loop shared by both BPE flavours: start from single code points and repeatedly join
// the adjacent pair of highest priority (leftmost on ties) until no pair may be joined.
#pragma once
#include <cstddef>
#include <functional>
#include <optional>
#include <string_view>
#include <vector>

namespace stagefence::tok {

// Priority of joining `left` and `right` (higher first), or nullopt when they may not be joined.
using MergePriority =
    std::function<std::optional<double>(std::string_view left, std::string_view right)>;

// Splits `text` into its code points, merges them, and returns the final segments in order.
std::vector<std::string_view> merge_pairs(std::string_view text, const MergePriority& priority);

}  // namespace stagefence::tok
