#include "core/hazard_tracker.hpp"

#include <algorithm>

namespace stagefence {

void HazardTracker::reset() {
  by_alloc_.clear();
  since_barrier_.clear();
  barrier_deps_.clear();
}

void HazardTracker::add(uint32_t index, const RangeAccess* accesses, size_t count,
                        std::vector<uint32_t>& deps) {
  deps.assign(barrier_deps_.begin(), barrier_deps_.end());
  for (size_t i = 0; i < count; ++i) {
    const RangeAccess& a = accesses[i];
    const bool writes = (static_cast<uint8_t>(a.access) & static_cast<uint8_t>(Access::Write)) != 0;
    auto it = by_alloc_.find(a.alloc_id);
    if (it == by_alloc_.end()) continue;
    for (const Entry& e : it->second)
      if (e.begin < a.end && a.begin < e.end && (writes || e.writes)) deps.push_back(e.index);
  }
  std::sort(deps.begin(), deps.end());
  deps.erase(std::unique(deps.begin(), deps.end()), deps.end());

  for (size_t i = 0; i < count; ++i) {
    const RangeAccess& a = accesses[i];
    const bool writes = (static_cast<uint8_t>(a.access) & static_cast<uint8_t>(Access::Write)) != 0;
    auto& list = by_alloc_[a.alloc_id];
    if (writes) {
      // Every overlapping entry is now a dependency, so entries this write covers are implied.
      std::erase_if(list, [&](const Entry& e) {
        return e.index != index && e.begin >= a.begin && e.end <= a.end;
      });
    }
    list.push_back({a.begin, a.end, index, writes});
  }
  since_barrier_.push_back(index);
}

bool HazardTracker::barrier() {
  if (since_barrier_.empty()) return false;
  barrier_deps_ = since_barrier_;
  since_barrier_.clear();
  by_alloc_.clear();
  return true;
}

}  // namespace stagefence
