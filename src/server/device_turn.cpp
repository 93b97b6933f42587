#include "server/device_turn.hpp"

#include <cstdint>
#include <string>

#include "stagefence/error.hpp"

namespace stagefence::server {

void DeviceTurn::acquire() {
  std::unique_lock<std::mutex> lock(mu_);
  wait_locked(lock, next_ticket_++);
}

void DeviceTurn::release() {
  {
    std::lock_guard<std::mutex> lock(mu_);
    pass_on_locked();
  }
  cv_.notify_all();
}

void DeviceTurn::yield() {
  std::unique_lock<std::mutex> lock(mu_);
  pass_on_locked();
  const uint64_t ticket = next_ticket_++;
  cv_.notify_all();
  wait_locked(lock, ticket);
}

void DeviceTurn::pass_on_locked() {
  ++serving_;
  while (abandoned_.erase(serving_) > 0) ++serving_;
}

void DeviceTurn::wait_locked(std::unique_lock<std::mutex>& lock, uint64_t ticket) {
  if (!cv_.wait_for(lock, deadline_, [&] { return serving_ == ticket; })) {
    // Give the ticket up without blocking those behind it: pass_on_locked() skips it.
    abandoned_.insert(ticket);
    raise(ErrorCode::Timeout, "waited " + std::to_string(deadline_.count()) +
                                  " ms for a turn on the device; a pass of another request "
                                  "never finished");
  }
}

}  // namespace stagefence::server
