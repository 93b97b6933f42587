// Whose turn it is on the device: the slots of a server take turns one pass (a prefill chunk
// or a decode step) at a time, in the order they asked (a ticket queue), so every active
// request advances at the same pace and none starves. Waits have a deadline.
#pragma once
#include <chrono>
#include <condition_variable>
#include <cstdint>
#include <mutex>
#include <set>

namespace stagefence::server {

class DeviceTurn {
 public:
  explicit DeviceTurn(std::chrono::milliseconds deadline) : deadline_(deadline) {}

  // Blocks until every earlier ticket's holder released; throws Error(Timeout) past the
  // deadline (a pass that never finishes).
  void acquire();
  void release();
  // Lets every slot already waiting have one pass, then takes the turn again (handing over and
  // queueing again are one step, so no slot can get two passes in a round).
  void yield();

 private:
  void pass_on_locked();
  void wait_locked(std::unique_lock<std::mutex>& lock, uint64_t ticket);

  std::chrono::milliseconds deadline_;
  std::mutex mu_;
  std::condition_variable cv_;
  uint64_t next_ticket_ = 0, serving_ = 0;
  std::set<uint64_t> abandoned_;  // tickets whose waiters timed out: skipped when reached
};

}  // namespace stagefence::server
