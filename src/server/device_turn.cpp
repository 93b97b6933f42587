#include "server/device_turn.hpp"

#include <string>

#include "stagefence/error.hpp"

namespace stagefence::server {

void DeviceTurn::acquire() {
  std::unique_lock<std::mutex> lock(mu_);
  const uint64_t ticket = next_ticket_++;
  if (!cv_.wait_for(lock, deadline_, [&] { return serving_ == ticket; })) {
    // Give the ticket up without blocking those behind it: release() skips it.
    abandoned_.insert(ticket);
    raise(ErrorCode::Timeout, "waited " + std::to_string(deadline_.count()) +
                                  " ms for a turn on the device; a pass of another request "
                                  "never finished");
  }
}

void DeviceTurn::release() {
  {
    std::lock_guard<std::mutex> lock(mu_);
    ++serving_;
    while (abandoned_.erase(serving_) > 0) ++serving_;
  }
  cv_.notify_all();
}

}  // namespace stagefence::server
