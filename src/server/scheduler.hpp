// The slots of a server and the queue in front of them. Each slot owns a Generator (its own KV
// cache) over the one loaded model and runs one job at a time on its own thread; the slots take
// turns on the device one pass at a time (DeviceTurn), so device work is serialised while
// tokenising, detokenising and streaming run concurrently. Jobs wait in arrival order; a free
// slot takes the oldest, and of several free slots the one whose cache shares the longest
// prefix with the job's prompt (then the least recently used), which is the prompt cache.
#pragma once
#include <atomic>
#include <chrono>
#include <condition_variable>
#include <cstdint>
#include <deque>
#include <functional>
#include <memory>
#include <mutex>
#include <thread>
#include <vector>

#include "model/llama/generator.hpp"
#include "model/tokenizer/tokenizer.hpp"
#include "server/device_turn.hpp"
#include "server/job.hpp"

namespace stagefence::server {

struct SchedulerOptions {
  int parallel = 1;      // slots
  int queue_limit = 64;  // jobs that may wait for a slot; more get 503
  llama::SubmissionMode mode = llama::SubmissionMode::Session;
  int layers_per_stage = 1;
  std::chrono::microseconds stream_interval{50000};  // loop mode (GenerateOptions)
  std::chrono::milliseconds turn_deadline{std::chrono::minutes(10)};
};

struct SchedulerStats {
  int slots = 0, busy = 0, queued = 0;
  uint64_t completed = 0, cancelled = 0, failed = 0;
  uint64_t prompt_tokens = 0, cached_prompt_tokens = 0, generated_tokens = 0;
};

class Scheduler {
 public:
  using GeneratorFactory = std::function<llama::Generator()>;

  // Makes `parallel` generators with `make`; the tokenizer must outlive the scheduler.
  Scheduler(const GeneratorFactory& make, const tok::Tokenizer& tokenizer,
            SchedulerOptions options);
  ~Scheduler();
  Scheduler(const Scheduler&) = delete;
  Scheduler& operator=(const Scheduler&) = delete;

  // KV capacity of every slot: prompt + max_tokens - 1 must fit.
  int context() const { return context_; }
  // Queues a job; throws ApiError 503 when queue_limit jobs already wait, or after stop().
  std::shared_ptr<Job> submit(JobSpec spec);
  // Drops a job that has not started (its client went away); a running one stops at its next
  // token once cancelled.
  void withdraw(const std::shared_ptr<Job>& job);
  // Cancels every job, queued or running, and joins the slots.
  void stop();
  SchedulerStats stats() const;

 private:
  struct Slot {
    int index;
    llama::Generator generator;
    std::shared_ptr<Job> job;  // assigned, not yet finished
    uint64_t last_used = 0;
    std::thread thread;
  };

  void slot_loop(Slot& slot);
  // Runs the job and returns its last event (Finished or Failed), which slot_loop delivers
  // only once the slot is free again, so a client's next request can land on it.
  JobEvent run_job(Slot& slot, Job& job);
  void assign_locked();

  const tok::Tokenizer& tokenizer_;
  SchedulerOptions options_;
  int context_ = 0;
  DeviceTurn turn_;
  std::vector<std::unique_ptr<Slot>> slots_;
  mutable std::mutex mu_;
  std::condition_variable cv_;
  std::deque<std::shared_ptr<Job>> queue_;
  std::atomic<bool> stopping_{false};
  uint64_t uses_ = 0;
  SchedulerStats totals_;
};

}  // namespace stagefence::server
