#include "core/fence_state.hpp"

#include <algorithm>
#include <cstdint>

#include "core/counters_internal.hpp"

namespace stagefence {

namespace {
std::atomic<uint64_t> g_next_fence_id{1};
}

FenceState::FenceState(std::string n)
    : id(g_next_fence_id.fetch_add(1, std::memory_order_relaxed)), name(std::move(n)) {
  detail::gauge(detail::counters().live_fences, 1);
}

FenceState::~FenceState() {
  detail::gauge(detail::counters().live_fences, -1);
}

void FenceState::signal(uint64_t v) {
  {
    std::lock_guard<std::mutex> lock(mu_);
    value_ = std::max(value_, v);
  }
  if (backend) backend->host_signal(v);
  cv_.notify_all();
}

void FenceState::poison(uint64_t v, const std::string& producer_error) {
  {
    std::lock_guard<std::mutex> lock(mu_);
    if (!poisoned_ || v < poison_value_) {
      poisoned_ = true;
      poison_value_ = v;
      poison_msg_ = producer_error;
    }
  }
  if (backend) backend->poisoned(v);
  cv_.notify_all();
}

FenceState::WaitResult FenceState::wait(uint64_t v, std::chrono::nanoseconds timeout,
                                        const std::atomic<bool>* cancel) {
  const auto deadline = std::chrono::steady_clock::now() + timeout;
  std::unique_lock<std::mutex> lock(mu_);
  for (;;) {
    if (value_ >= v) return WaitResult::Reached;
    if (poisoned_ && poison_value_ <= v) return WaitResult::Poisoned;
    if (cancel && cancel->load()) return WaitResult::Cancelled;
    const auto now = std::chrono::steady_clock::now();
    if (now >= deadline) return WaitResult::TimedOut;
    auto slice = deadline - now;
    if (cancel)
      slice = std::min<std::chrono::steady_clock::duration>(slice, std::chrono::milliseconds(20));
    cv_.wait_for(lock, slice);
  }
}

void FenceState::wait_or_throw(uint64_t v, std::chrono::nanoseconds timeout) {
  switch (wait(v, timeout)) {
    case WaitResult::Reached:
      return;
    case WaitResult::Poisoned:
      raise(ErrorCode::FencePoisoned, poison_error_for(v));
    case WaitResult::TimedOut:
    case WaitResult::Cancelled:
      raise(ErrorCode::Timeout,
            "fence '" + name + "' did not reach value " + std::to_string(v) + " within " +
                std::to_string(
                    std::chrono::duration_cast<std::chrono::milliseconds>(timeout).count()) +
                " ms (it is at " + std::to_string(value()) + ")");
  }
}

uint64_t FenceState::value() const {
  std::lock_guard<std::mutex> lock(mu_);
  return value_;
}

bool FenceState::poisoned() const {
  std::lock_guard<std::mutex> lock(mu_);
  return poisoned_;
}

std::string FenceState::poison_message() const {
  std::lock_guard<std::mutex> lock(mu_);
  return poisoned_ ? poison_msg_ : std::string();
}

std::string FenceState::poison_error_for(uint64_t v) const {
  std::lock_guard<std::mutex> lock(mu_);
  return "fence '" + name + "' value " + std::to_string(v) +
         " will never be reached: the producer of value " + std::to_string(poison_value_) +
         " failed: " + poison_msg_;
}

}  // namespace stagefence
