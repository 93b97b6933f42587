// Byte-exact hazard tracking within one command buffer: a new dispatch depends on the earlier
// dispatches whose ranges conflict with its own (RAW, WAR, WAW; two reads never conflict).
#pragma once
#include <cstdint>
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
  // The dependencies of dispatch `index` under the recording flags: force-serial chains it after
  // the previous dispatch (tracking nothing); otherwise add() with its accesses, or with none
  // when hazard tracking is off (barriers still order it). Returns how many of the
  // dependencies the serial chain or the last barrier imposed.
  size_t order(uint32_t index, const RangeAccess* accesses, size_t count, bool force_serial,
               bool hazard_tracking, std::vector<uint32_t>& deps);
  // Orders everything after the barrier after everything before it.
  // Returns false when there was nothing to order (no dispatch since the last barrier).
  bool barrier();
  // How many dependencies every dispatch since the last barrier inherits from it.
  size_t barrier_dep_count() const { return barrier_deps_.size(); }
  // True when nothing was added since the last reset.
  bool empty() const { return since_barrier_.empty() && barrier_deps_.empty(); }

 private:
  struct Entry {
    uint64_t begin, end;
    uint32_t index;
  };
  // The live ranges of one allocation. Reads are kept apart from writes so a read scans only
  // the writes it could conflict with (buffers read by every dispatch stay cheap).
  struct Slot {
    uint64_t alloc_id = 0;
    std::vector<Entry> reads, writes;
  };
  static constexpr size_t kMaxAccesses = 16;  // accesses of one add() whose slot is remembered
  uint32_t slot_of(uint64_t alloc_id);        // finds or adds the slot; index into slots_
  void clear_slots();
  void grow_table();

  // Slots [0, live_) are in use; later ones keep their capacity for the next buffer.
  std::vector<Slot> slots_;
  uint32_t live_ = 0;
  std::vector<uint32_t> table_;  // open addressing over live slots: slot index + 1, 0 = empty
  std::vector<uint32_t> since_barrier_;  // dispatches after the last barrier
  std::vector<uint32_t> barrier_deps_;   // what every dispatch after the last barrier waits for
};

}  // namespace stagefence
