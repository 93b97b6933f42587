#include "core/residency_state.hpp"

#include <cstdint>
#include <string>

#include "core/backend.hpp"
#include "core/counters_internal.hpp"
#include "stagefence/error.hpp"

namespace stagefence {

bool ResidencyState::stage_add(uint64_t alloc_id, uint64_t bytes, void* ptr) {
  if (!enabled) return false;
  std::lock_guard<std::mutex> lock(mu);
  pending_remove.erase(alloc_id);
  if (!applied.count(alloc_id)) pending_add[alloc_id] = {bytes, ptr};
  return true;
}

bool ResidencyState::stage_remove(uint64_t alloc_id) {
  if (!enabled) return false;
  std::lock_guard<std::mutex> lock(mu);
  if (pending_add.erase(alloc_id)) return true;  // never applied: nothing to undo
  if (applied.count(alloc_id)) pending_remove.insert(alloc_id);
  return true;
}

bool ResidencyState::mark_hot(uint64_t alloc_id, void* ptr, uint64_t bytes) {
  if (!enabled) return false;
  std::lock_guard<std::mutex> lock(mu);
  hot[alloc_id] = {bytes, ptr};
  hot_dirty = true;
  return true;
}

void ResidencyState::flush() {
  if (!enabled) return;
  std::lock_guard<std::mutex> lock(mu);
  if (pending_add.empty() && pending_remove.empty() && !hot_dirty) return;
  uint64_t bytes = applied_bytes;
  for (const auto& [id, e] : pending_add) bytes += e.bytes;
  for (uint64_t id : pending_remove) bytes -= applied.at(id).bytes;
  if (budget != 0 && bytes > budget)
    raise(ErrorCode::BudgetExceeded,
          "residency set would hold " + std::to_string(bytes) + " bytes, over its budget of " +
              std::to_string(budget) +
              " bytes; nothing was submitted (remove buffers or raise the budget)");
  for (const auto& [id, e] : pending_add) applied.emplace(id, e);
  for (uint64_t id : pending_remove) {
    applied.erase(id);
    if (hot.erase(id)) hot_dirty = true;
  }
  pending_add.clear();
  pending_remove.clear();
  applied_bytes = bytes;
  detail::bump(detail::counters().residency_flushes);
  if (backend) backend->apply_residency(*this);
  hot_dirty = false;
}

}  // namespace stagefence
