#include "stagefence/residency_set.hpp"

#include <cstdint>

#include "core/allocation.hpp"
#include "core/residency_state.hpp"

namespace stagefence {

ResidencySet::ResidencySet(std::shared_ptr<ResidencyState> state) : state_(std::move(state)) {}

bool ResidencySet::enabled() const {
  return state_->enabled;
}

bool ResidencySet::add(const Buffer& b) const {
  if (!b.valid()) return false;
  return state_->stage_add(b.allocation_id(), b.allocation()->capacity, b.allocation()->ptr);
}

bool ResidencySet::remove(const Buffer& b) const {
  if (!b.valid()) return false;
  return state_->stage_remove(b.allocation_id());
}

bool ResidencySet::mark_hot(const Buffer& b) const {
  if (!b.valid()) return false;
  return state_->mark_hot(b.allocation_id(), b.device_ptr(), b.size());
}

uint64_t ResidencySet::allocation_count() const {
  std::lock_guard<std::mutex> lock(state_->mu);
  return state_->applied.size();
}

uint64_t ResidencySet::bytes() const {
  std::lock_guard<std::mutex> lock(state_->mu);
  return state_->applied_bytes;
}

uint64_t ResidencySet::pending_count() const {
  std::lock_guard<std::mutex> lock(state_->mu);
  return state_->pending_add.size() + state_->pending_remove.size();
}

void ResidencySet::set_budget(uint64_t bytes) const {
  std::lock_guard<std::mutex> lock(state_->mu);
  state_->budget = bytes;
}

uint64_t ResidencySet::budget() const {
  std::lock_guard<std::mutex> lock(state_->mu);
  return state_->budget;
}

}  // namespace stagefence
