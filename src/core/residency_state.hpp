// The residency set's state: applied registrations, operations staged for the next commit,
// budget and hot hints.
#pragma once
#include <cstdint>
#include <mutex>
#include <unordered_map>
#include <unordered_set>

namespace stagefence {

class Backend;

struct ResidencyState {
  explicit ResidencyState(bool enabled, Backend* backend) : enabled(enabled), backend(backend) {}

  bool stage_add(uint64_t alloc_id, uint64_t bytes, void* ptr);
  bool stage_remove(uint64_t alloc_id);
  bool mark_hot(uint64_t alloc_id, void* ptr, uint64_t bytes);
  // Applies staged operations; at most one flush (counted) per call. Throws BudgetExceeded and
  // applies nothing when the result would exceed the budget.
  void flush();

  struct Entry {
    uint64_t bytes;
    void* ptr;
  };
  const bool enabled;
  Backend* backend;  // the device's backend, for the hint; outlives this state
  mutable std::mutex mu;
  std::unordered_map<uint64_t, Entry> applied;
  std::unordered_map<uint64_t, Entry> pending_add;
  std::unordered_set<uint64_t> pending_remove;
  std::unordered_map<uint64_t, Entry> hot;  // applied hot allocations
  uint64_t applied_bytes = 0;
  uint64_t budget = 0;
  bool hot_dirty = false;
};

}  // namespace stagefence
