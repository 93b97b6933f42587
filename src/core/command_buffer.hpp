// A recorded command buffer: dispatches with resolved launches and arguments, dependency edges
// from the hazard tracker, fence waits and signals, retained allocations, and its completion.
#pragma once
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
  QueueState* queue = nullptr;  // the queue outlives every buffer submitted to it
  std::vector<DispatchRecord> dispatches;
  std::vector<uint32_t> deps;
  std::vector<FenceOp> waits;
  std::vector<FenceOp> signals;
  std::vector<std::shared_ptr<Allocation>> retained;
  std::vector<std::shared_ptr<InflightTracker>> tracked;  // unretained debug check
  bool timestamps = false;
  bool profile_dispatches = false;
  std::chrono::steady_clock::time_point created_at, committed_at;

  // Completion; guarded by mu.
  mutable std::mutex mu;
  std::condition_variable cv;
  Status status = Status::Recording;
  ErrorCode error_code = ErrorCode::Internal;
  std::string error;
  CommandBufferTimes times;

  // Backend scratch (e.g. the CUDA graph exec this buffer ran on).
  std::shared_ptr<void> backend_state;

  bool finished() const;  // Completed or Failed (takes mu)
  // Blocks until finished; throws the buffer's error or Timeout.
  void wait_or_throw(std::chrono::nanoseconds timeout);
  std::string display_name() const;  // "'label'" or "#id" when unlabelled
};

// Called by a backend exactly once per submitted buffer: releases retained memory, signals or
// poisons the buffer's fences, records the status and wakes waiters.
void complete_command_buffer(CommandBuffer& cb, std::optional<Error> error,
                             const CommandBufferTimes* times = nullptr);

}  // namespace stagefence
