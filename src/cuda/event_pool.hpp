// Recycles CUDA events: creating one costs microseconds, and every command buffer needs a few.
#pragma once
#include <cuda_runtime_api.h>

#include <mutex>
#include <vector>

namespace stagefence::cuda {

class EventPool {
 public:
  explicit EventPool(unsigned flags) : flags_(flags) {}
  ~EventPool();
  EventPool(const EventPool&) = delete;
  EventPool& operator=(const EventPool&) = delete;

  cudaEvent_t acquire();  // throws Error when the event cannot be created
  // Returns an event; a pending record on it completes on its own and earlier waits keep the
  // record they were given.
  void release(cudaEvent_t e) noexcept;

 private:
  const unsigned flags_;
  std::mutex mu_;
  std::vector<cudaEvent_t> free_;
};

}  // namespace stagefence::cuda
