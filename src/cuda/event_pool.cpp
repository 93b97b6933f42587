#include "cuda/event_pool.hpp"

#include "cuda/cuda_error.hpp"

namespace stagefence::cuda {

EventPool::~EventPool() {
  for (cudaEvent_t e : free_) cudaEventDestroy(e);
}

cudaEvent_t EventPool::acquire() {
  {
    std::lock_guard<std::mutex> lock(mu_);
    if (!free_.empty()) {
      cudaEvent_t e = free_.back();
      free_.pop_back();
      return e;
    }
  }
  cudaEvent_t e = nullptr;
  check(cudaEventCreateWithFlags(&e, flags_), "cudaEventCreateWithFlags");
  return e;
}

void EventPool::release(cudaEvent_t e) noexcept {
  if (!e) return;
  std::lock_guard<std::mutex> lock(mu_);
  free_.push_back(e);
}

}  // namespace stagefence::cuda
