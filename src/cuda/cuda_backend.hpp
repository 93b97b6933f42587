// The CUDA backend: device memory, queues (one stream each), fences (stream memory operations
// or events), the L2 residency hint, and the device-lost state every part consults.
#pragma once
#include <cuda_runtime_api.h>

#include <atomic>
#include <cstdint>
#include <memory>
#include <mutex>
#include <string>

#include "core/backend.hpp"
#include "cuda/driver_api.hpp"
#include "cuda/event_pool.hpp"
#include "cuda/host_words.hpp"
#include "stagefence/error.hpp"

namespace stagefence::cuda {

enum class FenceKind { Memop, Event };

// The L2 persisting access-policy window the residency set's hot allocations ask for. `epoch`
// changes whenever the window does, so queues and cached graphs know to re-apply it.
struct L2Window {
  uint64_t epoch = 0;
  void* base = nullptr;
  size_t bytes = 0;  // 0: no window
  float hit_ratio = 0;
};

class CudaBackend final : public Backend, public std::enable_shared_from_this<CudaBackend> {
 public:
  // Returns nullptr and sets `why_not` when no driver, no GPU, or no such ordinal.
  static std::shared_ptr<CudaBackend> open(int ordinal, std::string* why_not);
  ~CudaBackend() override;

  BackendKind kind() const override { return BackendKind::Cuda; }
  DeviceInfo& info() override { return info_; }

  void* allocate(uint64_t bytes) override;
  void release(void* ptr) noexcept override;
  void zero(void* ptr, uint64_t bytes) override;
  // Pinned host memory mapped into the device's address space (cudaHostAllocMapped).
  void* allocate_mapped(uint64_t bytes, uint64_t* device_address) override;
  void release_mapped(void* host) noexcept override;
  bool host_visible() const override { return false; }
  void copy_in(void* dst, const void* src, uint64_t bytes) override;
  void copy_out(void* dst, const void* src, uint64_t bytes) override;

  std::unique_ptr<QueueImpl> create_queue(const std::string& name) override;
  std::unique_ptr<BackendFence> create_fence(FenceState& state) override;
  void apply_residency(const ResidencyState& state) override;

  bool lost() const override { return lost_.load(std::memory_order_acquire); }
  std::string lost_reason() const override;
  // Records an unrecoverable error; later submissions throw DeviceLost with the reason. The
  // first reason stays, except that a `blamed` one (naming the command buffer that faulted)
  // replaces one that only saw the context die.
  void mark_lost(const std::string& reason, bool blamed = false);
  // Throws DeviceLost (naming `what`) when the device is lost.
  void throw_if_lost(const std::string& what) const;

  // Makes this device current on the calling thread.
  void bind() const;
  int ordinal() const { return ordinal_; }
  const DriverApi& driver() const { return driver_; }
  FenceKind fence_kind() const { return fence_kind_; }
  bool memops() const { return info_.stream_memops; }
  bool use_graphs() const { return info_.graphs; }
  EventPool& sync_events() { return sync_events_; }
  EventPool& timing_events() { return timing_events_; }
  HostWordPool& host_words() { return host_words_; }
  uint64_t l2_epoch() const { return l2_epoch_.load(std::memory_order_acquire); }
  L2Window l2_window() const;

 private:
  CudaBackend(int ordinal, DriverApi driver);
  // Throws the error of a failed CUDA call, marking the device lost first when it is sticky.
  void fail(cudaError_t e, const std::string& what, ErrorCode code);

  const int ordinal_;
  const DriverApi driver_;
  DeviceInfo info_;
  FenceKind fence_kind_ = FenceKind::Event;
  int max_window_bytes_ = 0;
  int max_persisting_bytes_ = 0;
  cudaStream_t copy_stream_ = nullptr;  // host copies and zeroing, never ordered with queues
  EventPool sync_events_{cudaEventDisableTiming};
  EventPool timing_events_{cudaEventDefault};
  HostWordPool host_words_;

  std::atomic<bool> lost_{false};
  mutable std::mutex lost_mu_;
  std::string lost_reason_;
  bool lost_blamed_ = false;

  mutable std::mutex l2_mu_;
  L2Window l2_;
  std::atomic<uint64_t> l2_epoch_{0};
};

}  // namespace stagefence::cuda
