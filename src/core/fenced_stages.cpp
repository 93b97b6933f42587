#include "stagefence/fenced_stages.hpp"

#include "core/command_buffer.hpp"

namespace stagefence {

void FencedStages::fence_and_commit(CommandEncoder& enc, Fence& fence) {
  enc.signal(fence, value_ + 1);
  try {
    enc.commit();
  } catch (...) {
    enc.current()->signals.pop_back();  // the buffer stays uncommitted and unchanged
    throw;
  }
  ++value_;
  drained_ = true;
  fence_pending_ = true;
}

void FencedStages::commit(CommandEncoder& enc) {
  enc.commit();
  drained_ = true;
  fence_pending_ = false;
}

bool FencedStages::next(CommandEncoder& enc, const Fence& fence) {
  if (!drained_) return false;
  enc.reset();
  const bool waits = fence_pending_;
  if (waits) enc.wait_for(fence, value_);
  drained_ = false;
  fence_pending_ = false;
  return waits;
}

}  // namespace stagefence
