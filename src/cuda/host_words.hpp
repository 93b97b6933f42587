// 64-bit words in pinned, host-mapped memory: the host reads and stores them directly and the
// GPU reaches them through stream memory operations (fence timelines, completion markers).
#pragma once
#include <cuda.h>

#include <atomic>
#include <cstdint>
#include <mutex>
#include <vector>

namespace stagefence::cuda {

struct HostWord {
  uint64_t* host = nullptr;  // host view
  CUdeviceptr device = 0;    // the same word as the GPU addresses it
  explicit operator bool() const { return host != nullptr; }
  uint64_t load() const { return std::atomic_ref<uint64_t>(*host).load(std::memory_order_acquire); }
  void store(uint64_t v) const {
    std::atomic_ref<uint64_t>(*host).store(v, std::memory_order_release);
  }
  // Raises the word to `v` unless it is already at least `v`.
  void store_max(uint64_t v) const {
    std::atomic_ref<uint64_t> ref(*host);
    uint64_t cur = ref.load(std::memory_order_acquire);
    while (cur < v && !ref.compare_exchange_weak(cur, v, std::memory_order_acq_rel)) {
    }
  }
};

class HostWordPool {
 public:
  HostWordPool() = default;
  ~HostWordPool();
  HostWordPool(const HostWordPool&) = delete;
  HostWordPool& operator=(const HostWordPool&) = delete;

  HostWord acquire();  // zeroed; throws Error when pinned memory cannot be had
  void release(HostWord w) noexcept;

 private:
  // Words sit 64 bytes apart so host and GPU updates of neighbours share no cache line.
  static constexpr size_t kStride = 64;
  static constexpr size_t kPageBytes = 4096;
  std::mutex mu_;
  std::vector<void*> pages_;
  std::vector<HostWord> free_;
};

}  // namespace stagefence::cuda
