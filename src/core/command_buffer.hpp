// A recorded command buffer: dispatches with resolved launches and arguments, dependency edges
// from the hazard tracker, fence waits and signals, retained allocations, and its completion.
#pragma once
#include <atomic>
#include <chrono>
#include <condition_variable>
#include <cstdint>
#include <memory>
#include <mutex>
#include <optional>
#include <string>
#include <vector>

#include "core/allocation.hpp"
#include "core/fence_state.hpp"
#include "stagefence/command_encoder.hpp"
#include "stagefence/error.hpp"
#include "stagefence/kernel.hpp"

namespace stagefence {

struct QueueState;

struct DispatchRecord {
  KernelId kernel = 0;
  const KernelDef* def = nullptr;
  const KernelImpl* impl = nullptr;  // the device's backend's implementation of def
  Launch launch;
  KernelArgs args;
  uint32_t dep_begin = 0;  // into CommandBuffer::deps
  uint32_t dep_count = 0;
};

struct FenceOp {
  std::shared_ptr<FenceState> fence;
  uint64_t value = 0;
};

struct CommandBuffer {
  enum class Status { Recording, Committed, Completed, Failed };

  CommandBuffer();
  ~CommandBuffer();
  CommandBuffer(const CommandBuffer&) = delete;
  CommandBuffer& operator=(const CommandBuffer&) = delete;

  const uint64_t id;
  std::string label;
  StageMarks stages;            // optional: named dispatch ranges (CommandEncoder::set_stage_marks)
  QueueState* queue = nullptr;  // the queue outlives every buffer submitted to it
  std::vector<DispatchRecord> dispatches;
  std::vector<uint32_t> deps;
  std::vector<FenceOp> waits;
  std::vector<FenceOp> signals;
  std::vector<std::shared_ptr<Allocation>> retained;
  // Compiled replays whose allocations this buffer retains (each holds its allocations).
  std::vector<std::shared_ptr<const void>> retained_replays;
  std::vector<std::shared_ptr<InflightTracker>> tracked;  // unretained debug check
  // Set by set_loop (stagefence/loop.hpp): the dispatches are one iteration of a device-side
  // loop that runs while the LoopWords at `words` (device address) hold a non-zero condition.
  struct Loop {
    void* words = nullptr;
    uint32_t max_iterations = 0;
  };
  std::optional<Loop> loop;
  bool timestamps = false;
  bool profile_dispatches = false;
  // Nonzero: `dispatches` and `deps` are exactly one replay of the compiled capture with this id
  // (see core/capture_replay.hpp), so a backend may reuse what it built for that replay.
  uint64_t replay_id = 0;
  std::chrono::steady_clock::time_point created_at, committed_at;
  // Execution on the device, on the host's steady clock (CPU: the queue thread's run of this
  // buffer). Backends fill them before complete_command_buffer; left unset, the trace derives
  // them from the completion time and CommandBufferTimes::gpu_us.
  std::chrono::steady_clock::time_point exec_begin, exec_end;

  // Completion; guarded by mu.
  mutable std::mutex mu;
  std::condition_variable cv;
  std::atomic<Status> status{Status::Recording};  // written under mu, read anywhere
  // Set by the backend once the buffer's fence waits are satisfied (or encoded on the device)
  // and its work is handed to the device: from then on it cannot be taken back.
  std::atomic<bool> started{false};
  ErrorCode error_code = ErrorCode::Internal;
  std::string error;
  CommandBufferTimes times;

  // Backend scratch (e.g. the CUDA graph exec this buffer ran on).
  std::shared_ptr<void> backend_state;

  bool finished() const;  // Completed or Failed (takes mu)
  // Spins briefly (host_spin_window; not when `spin` is false, for a waiter that expects to
  // sleep), then blocks until finished or `timeout` passes; false when it passed.
  bool wait_finished(std::chrono::nanoseconds timeout, bool spin = true);
  // Blocks until finished; throws the buffer's error, or the watchdog's Timeout once `timeout`
  // (unset: the device's deadline) passes.
  void wait_or_throw(std::optional<std::chrono::nanoseconds> timeout);
  // The watchdog's verdict on a wait that ran out of `timeout`: a Timeout naming the buffer,
  // its queue and its fences with their values. A buffer already started on the device cannot
  // be stopped, so the device is marked unusable first.
  [[noreturn]] void fail_overdue(std::chrono::nanoseconds timeout);
  std::string display_name() const;  // "'label'" or "#id" when unlabelled
  // " in stage 'x'" for a dispatch inside a stage mark's range, else empty.
  std::string stage_suffix(size_t dispatch) const;
  // " (stages 'a' to 'z')" for a buffer with stage marks, else empty.
  std::string stages_suffix() const;
};

// Called by a backend exactly once per submitted buffer: releases retained memory, signals or
// poisons the buffer's fences, records the status and wakes waiters.
void complete_command_buffer(CommandBuffer& cb, std::optional<Error> error,
                             const CommandBufferTimes* times = nullptr);

namespace detail {
// Trace recorder hooks (src/core/trace.cpp). Callers test trace_on() first: with tracing off a
// buffer costs one relaxed atomic load per hook.
extern std::atomic<bool> g_trace_on;
inline bool trace_on() {
  return g_trace_on.load(std::memory_order_relaxed);
}
// At commit, on the encoding thread: the span from created_at to committed_at.
void trace_encoded(const CommandBuffer& cb);
// At completion: the buffer's span on its queue, its fence markers and its dispatch spans.
void trace_executed(const CommandBuffer& cb, std::chrono::steady_clock::time_point completed_at,
                    const CommandBufferTimes* times, const std::string* error);
}  // namespace detail

}  // namespace stagefence
