// A monotonic 64-bit timeline. Command buffers signal values at their end and wait for values
// before their first dispatch, on any queue; the host can wait too, with a timeout.
#pragma once
#include <chrono>
#include <cstdint>
#include <memory>
#include <optional>
#include <string>

namespace stagefence {

// A host wait's limit; unset: the device's deadline (DeviceOptions::wait_timeout, else
// STAGEFENCE_WAIT_TIMEOUT_MS, else 60 s).
using WaitTimeout = std::optional<std::chrono::nanoseconds>;

struct FenceState;  // src/core

class Fence {
 public:
  Fence() = default;
  explicit Fence(std::shared_ptr<FenceState> state);

  bool valid() const { return state_ != nullptr; }
  uint64_t id() const;
  const std::string& name() const;

  // Highest value known signalled on the host side.
  uint64_t completed_value() const;
  // Blocks until the fence reaches `value`, for at most `timeout` (unset: the deadline of the
  // device that made the fence). Throws FencePoisoned (with the producer's error) if the
  // producer of a value <= `value` failed, and Timeout naming the fence and value.
  void wait(uint64_t value, WaitTimeout timeout = {}) const;
  // Signals from the host. Values never go down: a lower value is ignored.
  void signal(uint64_t value) const;

  bool poisoned() const;
  std::string poison_message() const;  // empty when not poisoned

  const std::shared_ptr<FenceState>& state() const { return state_; }

 private:
  std::shared_ptr<FenceState> state_;
};

}  // namespace stagefence
