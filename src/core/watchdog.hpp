// The host-wait watchdog of one device: the deadline every host wait gets unless its caller
// names one, and the unusable state a wait leaves behind when work on the device overran it and
// cannot be stopped (later submissions then fail fast with that reason).
#pragma once
#include <atomic>
#include <chrono>
#include <mutex>
#include <string>

namespace stagefence {

class Watchdog {
 public:
  static constexpr std::chrono::milliseconds kDefaultDeadline{60000};

  explicit Watchdog(std::chrono::nanoseconds deadline) : deadline_(deadline) {}

  std::chrono::nanoseconds deadline() const { return deadline_; }

  // Marks the device unusable; the first reason is kept.
  void mark_unusable(const std::string& reason);
  bool unusable() const { return unusable_.load(std::memory_order_acquire); }
  std::string reason() const;

  // A queue was destroyed with work still running past the deadline and was kept alive instead
  // (core/abandoned.hpp); the device's memory must then outlive it too.
  void note_abandoned(const std::string& reason) {
    abandoned_.store(true, std::memory_order_release);
    mark_unusable(reason);
  }
  bool abandoned() const { return abandoned_.load(std::memory_order_acquire); }

 private:
  std::atomic<bool> abandoned_{false};
  const std::chrono::nanoseconds deadline_;
  std::atomic<bool> unusable_{false};
  mutable std::mutex mu_;
  std::string reason_;
};

// The deadline a device opens with: `requested` (DeviceOptions::wait_timeout) when set, else
// STAGEFENCE_WAIT_TIMEOUT_MS, else Watchdog::kDefaultDeadline. Throws InvalidArgument naming
// the option or variable, its value and what is allowed.
std::chrono::nanoseconds resolve_wait_deadline(const std::chrono::milliseconds* requested);

}  // namespace stagefence
