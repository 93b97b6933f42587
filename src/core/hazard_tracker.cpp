#include "core/hazard_tracker.hpp"

#include <algorithm>
#include <cstdint>

namespace stagefence {

namespace {

bool is_write(Access a) {
  return (static_cast<uint8_t>(a) & static_cast<uint8_t>(Access::Write)) != 0;
}

size_t bucket(uint64_t alloc_id, size_t mask) {
  return static_cast<size_t>((alloc_id * 0x9e3779b97f4a7c15ull) >> 32) & mask;
}

bool overlaps(uint64_t b0, uint64_t e0, uint64_t b1, uint64_t e1) {
  return b0 < e1 && b1 < e0;
}

}  // namespace

void HazardTracker::clear_slots() {
  for (uint32_t i = 0; i < live_; ++i) {
    slots_[i].reads.clear();
    slots_[i].writes.clear();
  }
  live_ = 0;
  std::fill(table_.begin(), table_.end(), 0u);
}

void HazardTracker::reset() {
  clear_slots();
  since_barrier_.clear();
  barrier_deps_.clear();
}

void HazardTracker::grow_table() {
  table_.assign(table_.empty() ? 64 : table_.size() * 2, 0u);
  const size_t mask = table_.size() - 1;
  for (uint32_t i = 0; i < live_; ++i) {
    size_t b = bucket(slots_[i].alloc_id, mask);
    while (table_[b]) b = (b + 1) & mask;
    table_[b] = i + 1;
  }
}

uint32_t HazardTracker::slot_of(uint64_t alloc_id) {
  if ((live_ + 1) * 2 > table_.size()) grow_table();  // at most half full
  const size_t mask = table_.size() - 1;
  size_t b = bucket(alloc_id, mask);
  for (; table_[b]; b = (b + 1) & mask)
    if (slots_[table_[b] - 1].alloc_id == alloc_id) return table_[b] - 1;
  if (live_ == slots_.size()) slots_.emplace_back();
  slots_[live_].alloc_id = alloc_id;
  table_[b] = ++live_;
  return live_ - 1;
}

void HazardTracker::add(uint32_t index, const RangeAccess* accesses, size_t count,
                        std::vector<uint32_t>& deps) {
  deps.assign(barrier_deps_.begin(), barrier_deps_.end());
  uint32_t slot[kMaxAccesses];
  const size_t looked_up = std::min(count, kMaxAccesses);
  for (size_t i = 0; i < count; ++i) {
    const RangeAccess& a = accesses[i];
    const uint32_t si = slot_of(a.alloc_id);  // a new slot is empty: no dependencies
    if (i < looked_up) slot[i] = si;
    const Slot& s = slots_[si];
    for (const Entry& e : s.writes)
      if (overlaps(e.begin, e.end, a.begin, a.end)) deps.push_back(e.index);
    if (is_write(a.access))
      for (const Entry& e : s.reads)
        if (overlaps(e.begin, e.end, a.begin, a.end)) deps.push_back(e.index);
  }
  if (deps.size() > 1) {
    std::sort(deps.begin(), deps.end());
    deps.erase(std::unique(deps.begin(), deps.end()), deps.end());
  }

  for (size_t i = 0; i < count; ++i) {
    const RangeAccess& a = accesses[i];
    Slot& s = slots_[i < looked_up ? slot[i] : slot_of(a.alloc_id)];
    if (is_write(a.access)) {
      // Every overlapping entry is now a dependency, so entries this write covers are implied.
      const auto covered = [&](const Entry& e) {
        return e.index != index && e.begin >= a.begin && e.end <= a.end;
      };
      std::erase_if(s.reads, covered);
      std::erase_if(s.writes, covered);
      s.writes.push_back({a.begin, a.end, index});
    } else {
      s.reads.push_back({a.begin, a.end, index});
    }
  }
  since_barrier_.push_back(index);
}

bool HazardTracker::barrier() {
  if (since_barrier_.empty()) return false;
  barrier_deps_.swap(since_barrier_);
  since_barrier_.clear();
  clear_slots();
  return true;
}

size_t HazardTracker::order(uint32_t index, const RangeAccess* accesses, size_t count,
                            bool force_serial, bool hazard_tracking, std::vector<uint32_t>& deps) {
  if (force_serial) {
    deps.clear();
    if (index > 0) deps.push_back(index - 1);
    return deps.size();
  }
  add(index, accesses, hazard_tracking ? count : 0, deps);
  return barrier_dep_count();
}

}  // namespace stagefence
