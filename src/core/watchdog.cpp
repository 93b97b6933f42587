#include "core/watchdog.hpp"

#include "stagefence/env.hpp"
#include "stagefence/error.hpp"

namespace stagefence {

namespace {
constexpr long long kMaxDeadlineMs = 24LL * 3600 * 1000;  // a day: longer is a hang by any measure
}

void Watchdog::mark_unusable(const std::string& reason) {
  std::lock_guard<std::mutex> lock(mu_);
  if (unusable_.load(std::memory_order_relaxed)) return;
  reason_ = reason;
  unusable_.store(true, std::memory_order_release);
}

std::string Watchdog::reason() const {
  std::lock_guard<std::mutex> lock(mu_);
  return reason_;
}

std::chrono::nanoseconds resolve_wait_deadline(const std::chrono::milliseconds* requested) {
  const std::string allowed =
      "expected a whole number of milliseconds from 1 to " + std::to_string(kMaxDeadlineMs);
  if (requested) {
    if (requested->count() < 1 || requested->count() > kMaxDeadlineMs)
      raise(ErrorCode::InvalidArgument, "DeviceOptions::wait_timeout of " +
                                            std::to_string(requested->count()) + " ms: " + allowed);
    return *requested;
  }
  // 0 only when unset or empty: a given 0 is below the minimum and refused.
  const int ms =
      env::read_int("STAGEFENCE_WAIT_TIMEOUT_MS", 0, 1, int(kMaxDeadlineMs), "milliseconds");
  if (ms == 0) return Watchdog::kDefaultDeadline;
  return std::chrono::milliseconds(ms);
}

}  // namespace stagefence
