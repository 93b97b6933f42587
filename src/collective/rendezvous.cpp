#include "collective/rendezvous.hpp"

#include <cstdint>

#include "stagefence/error.hpp"

namespace stagefence::collective {

Rendezvous::Rendezvous(int size, std::chrono::milliseconds timeout)
    : size_(size), timeout_(timeout), arrivals_(size_t(size), 0), posted_(size_t(size), nullptr) {}

void Rendezvous::post(int rank, const void* ptr) {
  std::lock_guard<std::mutex> lock(mu_);
  posted_[size_t(rank)] = ptr;
}

const void* Rendezvous::posted(int rank) const {
  std::lock_guard<std::mutex> lock(mu_);
  return posted_[size_t(rank)];
}

void Rendezvous::barrier(int rank, const char* collective) {
  std::unique_lock<std::mutex> lock(mu_);
  if (!failure_.empty()) raise(ErrorCode::Timeout, failure_);
  const uint64_t generation = generation_;
  const uint64_t mine = ++arrivals_[size_t(rank)];
  if (++waiting_ == size_) {
    waiting_ = 0;
    ++generation_;
    cv_.notify_all();
    return;
  }
  const bool met =
      cv_.wait_for(lock, timeout_, [&] { return generation_ != generation || !failure_.empty(); });
  if (met && generation_ != generation) return;
  if (failure_.empty()) {
    std::string missing;
    for (int r = 0; r < size_; ++r)
      if (arrivals_[size_t(r)] < mine) missing += (missing.empty() ? "" : ", ") + std::to_string(r);
    failure_ = std::string(collective) + " on rank " + std::to_string(rank) + ": " +
               (missing.empty() ? "the ranks did not meet at the same collective"
                                : "rank(s) " + missing + " did not arrive") +
               " within " + std::to_string(timeout_.count()) +
               " ms; the communicator group has failed";
    cv_.notify_all();
  }
  raise(ErrorCode::Timeout, failure_);
}

}  // namespace stagefence::collective
