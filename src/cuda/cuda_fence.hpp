// GPU side of a fence. Memop kind: a 64-bit timeline word in pinned host-mapped memory that
// streams write (cuStreamWriteValue64) and wait on (cuStreamWaitValue64 >=) and the host stores
// to directly. Event kind: one recorded event per signalled value; waiters wait on the event
// of the smallest recorded value at or above theirs.
//
// A GPU wait is encoded only once a producer of a high-enough value has been enqueued on its
// stream (memop) or recorded (event); until then the waiting queue's submit thread holds the
// buffer on the host. So no stream ever waits on a value nothing will write, streams never wait
// on each other in a cycle (buffers committed in an order FIFO queues cannot run time out on the
// host instead of deadlocking the GPU), host signals release held buffers at once, and a queue
// can always shut down.
#pragma once
#include <cuda_runtime_api.h>

#include <atomic>
#include <condition_variable>
#include <cstdint>
#include <map>
#include <memory>
#include <mutex>
#include <vector>

#include "core/backend.hpp"
#include "cuda/cuda_backend.hpp"

namespace stagefence {
struct FenceState;
}

namespace stagefence::cuda {

class CudaFence final : public BackendFence {
 public:
  CudaFence(std::shared_ptr<CudaBackend> backend, FenceState& state);
  ~CudaFence() override;

  void host_signal(uint64_t value) override;
  void poisoned(uint64_t value) override;

  // Called at commit, in commit order: buffer `seq` of queue `queue_id` will signal `value`.
  void promise(uint64_t value, uint64_t queue_id, uint64_t seq);
  // Called once the producer of `value` has been enqueued on its stream (memop kind). Waits on
  // other queues are encoded on the GPU only after this, so every GPU wait points at work that
  // is already enqueued and the streams can never wait on each other in a cycle.
  void mark_enqueued(uint64_t value);

  enum class WaitOutcome {
    Satisfied,  // the host already saw the value: nothing to encode
    Ordered,    // an earlier buffer of the same queue signals it: stream order suffices
    Encoded,    // a GPU wait was added to the stream
    Poisoned,   // the producer failed
    Cancelled,  // `cancel` turned true first
  };
  // Makes buffer `seq` of queue `queue_id` (on `stream`) wait for `value`, holding the caller
  // until a producer exists (see above). A producer later on the same queue does not count:
  // waiting for it on the stream would never end.
  WaitOutcome encode_wait(cudaStream_t stream, uint64_t queue_id, uint64_t seq, uint64_t value,
                          const std::atomic<bool>& cancel);

  // A queue has promised a value at or above `value` that the host has not seen yet.
  bool producer_pending(uint64_t value);

  // Memop kind: the write of `value`, for the queue's end-of-buffer batch.
  CUstreamBatchMemOpParams signal_op(uint64_t value) const;
  // Event kind: records the signal of `value` at the current end of `stream`.
  void record_signal(cudaStream_t stream, uint64_t value);

  FenceKind kind() const { return kind_; }

 private:
  void release_up_to(uint64_t value);  // mu_ held: drops bookkeeping the host has passed

  std::shared_ptr<CudaBackend> backend_;
  FenceState& state_;
  const FenceKind kind_;
  HostWord word_;  // memop kind only

  std::mutex mu_;
  std::condition_variable cv_;
  struct Producer {
    uint64_t queue_id, seq;
    bool enqueued = false;
  };
  std::map<uint64_t, Producer> promised_;     // value -> the buffer that signals it
  std::map<uint64_t, cudaEvent_t> recorded_;  // event kind: value -> its event
};

}  // namespace stagefence::cuda
