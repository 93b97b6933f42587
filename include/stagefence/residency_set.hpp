// The device's one residency set: staged add/remove applied at the next commit boundary, with
// allocation and byte counts, an optional byte budget and a "hot" hint for the backend.
#pragma once
#include <cstdint>
#include <memory>

#include "stagefence/buffer.hpp"

namespace stagefence {

struct ResidencyState;  // src/core

class ResidencySet {
 public:
  explicit ResidencySet(std::shared_ptr<ResidencyState> state);

  bool enabled() const;
  // Stage the buffer's allocation for addition / removal. False (and nothing done) when the set
  // is disabled. Views of one allocation share one registration.
  bool add(const Buffer& buffer) const;
  bool remove(const Buffer& buffer) const;
  // Hint that the allocation is read on every token (CUDA: L2 persisting window).
  bool mark_hot(const Buffer& buffer) const;

  // Applied state (pending operations are not counted until the next commit).
  uint64_t allocation_count() const;
  uint64_t bytes() const;
  uint64_t pending_count() const;

  // 0 means no budget. A commit whose flush would exceed it throws BudgetExceeded and submits
  // nothing; the pending operations stay pending.
  void set_budget(uint64_t bytes) const;
  uint64_t budget() const;

  const std::shared_ptr<ResidencyState>& state() const { return state_; }

 private:
  std::shared_ptr<ResidencyState> state_;
};

}  // namespace stagefence
