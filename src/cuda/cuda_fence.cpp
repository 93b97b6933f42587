#include "cuda/cuda_fence.hpp"

#include <chrono>
#include <cstdint>
#include <string>

#include "core/fence_state.hpp"
#include "cuda/cuda_error.hpp"

namespace stagefence::cuda {

CudaFence::CudaFence(std::shared_ptr<CudaBackend> backend, FenceState& state)
    : backend_(std::move(backend)), state_(state), kind_(backend_->fence_kind()) {
  if (kind_ == FenceKind::Memop) word_ = backend_->host_words().acquire();
}

CudaFence::~CudaFence() {
  for (auto& [value, event] : recorded_) backend_->sync_events().release(event);
  backend_->host_words().release(word_);
}

void CudaFence::release_up_to(uint64_t value) {
  promised_.erase(promised_.begin(), promised_.upper_bound(value));
  for (auto it = recorded_.begin(); it != recorded_.end() && it->first <= value;) {
    backend_->sync_events().release(it->second);
    it = recorded_.erase(it);
  }
}

void CudaFence::host_signal(uint64_t value) {
  {
    std::lock_guard<std::mutex> lock(mu_);
    if (word_) word_.store_max(value);
    release_up_to(value);
  }
  cv_.notify_all();
}

void CudaFence::poisoned(uint64_t value) {
  // The producer's stream wrote (or, for a buffer that never reached the GPU, still writes) its
  // signal in stream order; raising the word here releases any GPU waiter even when the device
  // is lost. Held waiters wake, see the poison and fail.
  {
    std::lock_guard<std::mutex> lock(mu_);
    if (word_) word_.store_max(value);
  }
  cv_.notify_all();
}

void CudaFence::promise(uint64_t value, uint64_t queue_id, uint64_t seq) {
  {
    std::lock_guard<std::mutex> lock(mu_);
    promised_[value] = Producer{queue_id, seq};
  }
  cv_.notify_all();
}

void CudaFence::mark_enqueued(uint64_t value) {
  {
    std::lock_guard<std::mutex> lock(mu_);
    auto it = promised_.find(value);
    if (it != promised_.end()) it->second.enqueued = true;
  }
  cv_.notify_all();
}

bool CudaFence::producer_pending(uint64_t value) {
  std::lock_guard<std::mutex> lock(mu_);
  return promised_.lower_bound(value) != promised_.end();
}

CudaFence::WaitOutcome CudaFence::encode_wait(cudaStream_t stream, uint64_t queue_id, uint64_t seq,
                                              uint64_t value, const std::atomic<bool>& cancel) {
  std::unique_lock<std::mutex> lock(mu_);
  for (;;) {
    switch (state_.wait(value, std::chrono::nanoseconds(0))) {
      case FenceState::WaitResult::Reached:
        return WaitOutcome::Satisfied;
      case FenceState::WaitResult::Poisoned:
        return WaitOutcome::Poisoned;
      default:
        break;
    }
    bool other_producer = false;
    for (auto it = promised_.lower_bound(value); it != promised_.end(); ++it) {
      if (it->second.queue_id != queue_id)
        other_producer = other_producer || it->second.enqueued;
      else if (it->second.seq < seq)
        return WaitOutcome::Ordered;
    }
    if (kind_ == FenceKind::Memop && other_producer) {
      const CUresult r = backend_->driver().stream_wait_value64(stream, word_.device, value,
                                                                CU_STREAM_WAIT_VALUE_GEQ);
      if (r != CUDA_SUCCESS)
        raise(ErrorCode::Internal, "cuStreamWaitValue64 on fence '" + state_.name + "' value " +
                                       std::to_string(value) +
                                       " failed: " + backend_->driver().describe(r));
      return WaitOutcome::Encoded;
    }
    if (kind_ == FenceKind::Event) {
      const auto rec = recorded_.lower_bound(value);
      if (rec != recorded_.end()) {
        // Under mu_: the event cannot be recycled before the wait has taken its record.
        check(cudaStreamWaitEvent(stream, rec->second, 0),
              "cudaStreamWaitEvent on fence '" + state_.name + "' value " + std::to_string(value));
        return WaitOutcome::Encoded;
      }
    }
    if (cancel.load(std::memory_order_acquire)) return WaitOutcome::Cancelled;
    cv_.wait_for(lock, std::chrono::milliseconds(20));
  }
}

CUstreamBatchMemOpParams CudaFence::signal_op(uint64_t value) const {
  CUstreamBatchMemOpParams op{};
  op.writeValue.operation = CU_STREAM_MEM_OP_WRITE_VALUE_64;
  op.writeValue.address = word_.device;
  op.writeValue.value64 = value;
  op.writeValue.flags = CU_STREAM_WRITE_VALUE_DEFAULT;  // fenced after the buffer's writes
  return op;
}

void CudaFence::record_signal(cudaStream_t stream, uint64_t value) {
  cudaEvent_t e = backend_->sync_events().acquire();
  const cudaError_t err = cudaEventRecord(e, stream);
  if (err != cudaSuccess) {
    backend_->sync_events().release(e);
    check(err, "cudaEventRecord for fence '" + state_.name + "' value " + std::to_string(value));
  }
  {
    std::lock_guard<std::mutex> lock(mu_);
    auto [it, inserted] = recorded_.emplace(value, e);
    if (!inserted) {
      backend_->sync_events().release(it->second);
      it->second = e;
    }
  }
  cv_.notify_all();
}

}  // namespace stagefence::cuda
