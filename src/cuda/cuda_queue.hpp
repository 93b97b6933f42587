// A CUDA queue: one non-blocking stream, a submit thread and a completion thread.
//
// The submit thread takes committed buffers in FIFO order, encodes their fence waits, launches
// their work (a cached CUDA graph, or eager launches), appends their fence signals and a
// completion marker, and records an event. The completion thread waits on those events in the
// same order and calls complete_command_buffer(), so retained memory is released without the
// compute stream ever stalling. A buffer that fails before reaching the GPU still writes its
// signals in stream order, so no GPU waiter is left hanging.
#pragma once
#include <cuda_runtime_api.h>

#include <atomic>
#include <condition_variable>
#include <cstdint>
#include <deque>
#include <memory>
#include <mutex>
#include <optional>
#include <string>
#include <thread>
#include <vector>

#include "core/backend.hpp"
#include "cuda/cuda_backend.hpp"
#include "cuda/graph_cache.hpp"
#include "stagefence/error.hpp"

namespace stagefence {
struct CommandBuffer;
struct FenceOp;
}  // namespace stagefence

namespace stagefence::cuda {

class CudaQueue final : public QueueImpl {
 public:
  CudaQueue(std::shared_ptr<CudaBackend> backend, std::string name);
  // Runs what was committed; buffers still held for a fence are cancelled (they fail).
  ~CudaQueue() override;
  void submit(std::shared_ptr<CommandBuffer> cb) override;
  void drain() override;
  void cancel_waits() override;

 private:
  struct Inflight {
    std::shared_ptr<CommandBuffer> cb;
    uint64_t seq = 0;
    std::optional<Error> error;                      // failed before or while reaching the GPU
    cudaEvent_t done = nullptr;                      // after the buffer's work, signals and marker
    cudaEvent_t t_start = nullptr, t_end = nullptr;  // timestamps
    std::vector<cudaEvent_t> dispatch_events;        // profiling: before and after each dispatch
    std::vector<size_t> confirm;  // waits to confirm on the host before reporting success
  };

  void submit_loop();
  void completion_loop();
  Inflight process(std::shared_ptr<CommandBuffer> cb, uint64_t seq);
  // Encodes the waits; returns the error that keeps the buffer from running, if any.
  std::optional<Error> encode_waits(CommandBuffer& cb, Inflight& f);
  void launch_work(CommandBuffer& cb, Inflight& f);
  void launch_eager(CommandBuffer& cb, Inflight& f, bool profile);
  void launch_loop(CommandBuffer& cb);  // set_loop buffers: one WHILE-node graph launch
  void append_signals_and_marker(CommandBuffer& cb, Inflight& f);
  void apply_l2_window();
  void finish(Inflight& f);
  std::optional<Error> confirm_waits(const Inflight& f, std::chrono::nanoseconds timeout);
  // After a device failure: FencePoisoned when one of the buffer's fences turns out poisoned.
  std::optional<Error> poisoned_wait(const CommandBuffer& cb);
  void recycle(Inflight& f) noexcept;

  std::shared_ptr<CudaBackend> backend_;
  const std::string name_;
  const uint64_t id_;
  cudaStream_t stream_ = nullptr;
  cudaStream_t capture_stream_ = nullptr;  // child-graph capture of cuda_enqueue kernels
  HostWord progress_;  // highest sequence number whose work completed (with memops)
  std::unique_ptr<GraphCache> graphs_;
  uint64_t applied_l2_epoch_ = 0;
  L2Window l2_;
  bool fault_blamed_ = false;  // completion thread: a buffer of this queue took the fault

  std::mutex mu_;
  std::condition_variable cv_;
  std::deque<std::pair<std::shared_ptr<CommandBuffer>, uint64_t>> pending_;
  std::deque<Inflight> inflight_;
  uint64_t next_seq_ = 0;
  // Mirrors of next_seq_ and of the last sequence number moved to inflight_, read without the
  // lock by the two threads' bounded spins before they sleep (core/host_spin.hpp).
  std::atomic<uint64_t> submitted_seq_{0}, processed_seq_{0};
  uint64_t outstanding_ = 0;  // submitted and not yet completed
  bool stop_ = false;
  bool submit_done_ = false;
  std::atomic<bool> cancel_{false};
  std::thread submit_thread_, completion_thread_;
};

}  // namespace stagefence::cuda
