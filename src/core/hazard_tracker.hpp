// Byte-exact hazard tracking within one command buffer: a new dispatch depends on the earlier
// dispatches whose ranges conflict with its own (RAW, WAR, WAW; two reads never conflict).
#pragma once
#include <cstdint>
#include <unordered_map>
#include <vector>

#include "stagefence/buffer.hpp"

namespace stagefence {

struct RangeAccess {
  uint64_t alloc_id;
  uint64_t begin, end;  // byte range in the allocation, end exclusive
  Access access;
};

class HazardTracker {
 public:
  void reset();
  // Computes the dependencies of dispatch `index` (sorted, unique) into `deps` and records its
  // accesses. Dispatches must be added in increasing index order.
  void add(uint32_t index, const RangeAccess* accesses, size_t count, std::vector<uint32_t>& deps);
  // Orders everything after the barrier after everything before it.
  // Returns false when there was nothing to order (no dispatch since the last barrier).
  bool barrier();
  // How many dependencies every dispatch since the last barrier inherits from it.
  size_t barrier_dep_count() const { return barrier_deps_.size(); }

 private:
  struct Entry {
    uint64_t begin, end;
    uint32_t index;
    bool writes;
  };
  std::unordered_map<uint64_t, std::vector<Entry>> by_alloc_;
  std::vector<uint32_t> since_barrier_;  // dispatches after the last barrier
  std::vector<uint32_t> barrier_deps_;   // what every dispatch after the last barrier waits for
};

}  // namespace stagefence
