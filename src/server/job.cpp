#include "server/job.hpp"

namespace stagefence::server {

std::optional<JobEvent> Job::next(std::chrono::milliseconds wait) {
  std::unique_lock<std::mutex> lock(mu_);
  if (!cv_.wait_for(lock, wait, [&] { return !events_.empty(); })) return std::nullopt;
  JobEvent e = std::move(events_.front());
  events_.pop_front();
  return e;
}

void Job::push(JobEvent event) {
  {
    std::lock_guard<std::mutex> lock(mu_);
    if (event.kind != JobEvent::Kind::Text) done_ = true;
    events_.push_back(std::move(event));
  }
  cv_.notify_all();
}

bool Job::done() const {
  std::lock_guard<std::mutex> lock(mu_);
  return done_;
}

}  // namespace stagefence::server
