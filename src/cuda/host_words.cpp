#include "cuda/host_words.hpp"

#include <cuda_runtime_api.h>

#include <cstdint>

#include "cuda/cuda_error.hpp"

namespace stagefence::cuda {

HostWordPool::~HostWordPool() {
  for (void* p : pages_) cudaFreeHost(p);
}

HostWord HostWordPool::acquire() {
  std::lock_guard<std::mutex> lock(mu_);
  if (free_.empty()) {
    void* page = nullptr;
    check(cudaHostAlloc(&page, kPageBytes, cudaHostAllocMapped | cudaHostAllocPortable),
          "cudaHostAlloc of a fence page");
    void* dev = nullptr;
    const cudaError_t e = cudaHostGetDevicePointer(&dev, page, 0);
    if (e != cudaSuccess) {
      cudaFreeHost(page);
      check(e, "cudaHostGetDevicePointer of a fence page");
    }
    pages_.push_back(page);
    for (size_t off = 0; off + sizeof(uint64_t) <= kPageBytes; off += kStride) {
      HostWord w;
      w.host = reinterpret_cast<uint64_t*>(static_cast<char*>(page) + off);
      w.device = reinterpret_cast<CUdeviceptr>(static_cast<char*>(dev) + off);
      free_.push_back(w);
    }
  }
  HostWord w = free_.back();
  free_.pop_back();
  w.store(0);
  return w;
}

void HostWordPool::release(HostWord w) noexcept {
  if (!w) return;
  std::lock_guard<std::mutex> lock(mu_);
  free_.push_back(w);
}

}  // namespace stagefence::cuda
