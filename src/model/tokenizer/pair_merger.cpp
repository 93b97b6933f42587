#include "model/tokenizer/pair_merger.hpp"

#include <queue>

#include "model/tokenizer/utf8.hpp"

namespace stagefence::tok {
namespace {

struct Symbol {
  int prev;
  int next;
  size_t offset;
  size_t length;  // 0 once merged into its left neighbour
};

struct Candidate {
  double priority;
  int left;
  int right;
  size_t length;  // combined length when queued; a mismatch later means the pair went stale
};

struct LowerPriority {
  bool operator()(const Candidate& a, const Candidate& b) const {
    if (a.priority != b.priority) return a.priority < b.priority;
    return a.left > b.left;
  }
};

}  // namespace

std::vector<std::string_view> merge_pairs(std::string_view text, const MergePriority& priority) {
  std::vector<Symbol> symbols;
  for (const CodePoint& cp : decode_utf8(text)) {
    const int index = static_cast<int>(symbols.size());
    symbols.push_back({index - 1, index + 1, cp.offset, cp.length});
  }
  if (!symbols.empty()) symbols.back().next = -1;

  auto view = [&](int i) { return text.substr(symbols[i].offset, symbols[i].length); };
  std::priority_queue<Candidate, std::vector<Candidate>, LowerPriority> queue;
  auto consider = [&](int left, int right) {
    if (left < 0 || right < 0) return;
    if (auto p = priority(view(left), view(right))) {
      queue.push({*p, left, right, symbols[left].length + symbols[right].length});
    }
  };
  for (int i = 0; i + 1 < static_cast<int>(symbols.size()); ++i) consider(i, i + 1);

  while (!queue.empty()) {
    const Candidate c = queue.top();
    queue.pop();
    Symbol& left = symbols[c.left];
    Symbol& right = symbols[c.right];
    if (left.length == 0 || right.length == 0 || left.next != c.right ||
        left.length + right.length != c.length) {
      continue;
    }
    left.length += right.length;
    right.length = 0;
    left.next = right.next;
    if (right.next >= 0) symbols[right.next].prev = c.left;
    consider(left.prev, c.left);
    consider(c.left, left.next);
  }

  std::vector<std::string_view> out;
  for (int i = symbols.empty() ? -1 : 0; i >= 0; i = symbols[i].next) out.push_back(view(i));
  return out;
}

}  // namespace stagefence::tok
