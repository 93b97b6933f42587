// Host side of a fence: the highest signalled value, and the poison a failed producer leaves.
#pragma once
#include <chrono>
#include <condition_variable>
#include <cstdint>
#include <memory>
#include <mutex>
#include <string>

#include "core/backend.hpp"
#include "stagefence/error.hpp"

namespace stagefence {

struct FenceState {
  explicit FenceState(std::string name);
  ~FenceState();

  // Raises the value (never lowers it) and wakes waiters.
  void signal(uint64_t value);
  // Marks every value >= `value` as failed with the producer's error and wakes waiters.
  void poison(uint64_t value, const std::string& producer_error);

  enum class WaitResult { Reached, Poisoned, TimedOut, Cancelled };
  // Waits until value >= v, the fence is poisoned at or below v, the timeout passes, or
  // `cancel` (optional) turns true (checked at least every 20 ms).
  WaitResult wait(uint64_t v, std::chrono::nanoseconds timeout,
                  const std::atomic<bool>* cancel = nullptr);
  // Throwing form for host callers: FencePoisoned or Timeout, both naming fence and value.
  void wait_or_throw(uint64_t v, std::chrono::nanoseconds timeout);

  uint64_t value() const;
  bool poisoned() const;
  std::string poison_message() const;
  // Error text for a waiter of value v that saw the poison.
  std::string poison_error_for(uint64_t v) const;

  const uint64_t id;
  const std::string name;
  std::unique_ptr<BackendFence> backend;
  // What a host wait that names no limit gets: the deadline of the device that made the fence.
  std::chrono::nanoseconds default_timeout{std::chrono::seconds(60)};

 private:
  mutable std::mutex mu_;
  std::condition_variable cv_;
  uint64_t value_ = 0;
  bool poisoned_ = false;
  uint64_t poison_value_ = 0;
  std::string poison_msg_;
};

}  // namespace stagefence
