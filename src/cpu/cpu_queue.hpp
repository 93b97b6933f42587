// A CPU queue: one thread takes committed buffers in FIFO order, waits for their fences, and
// runs their dispatch graph on the worker pool (a dispatch starts once its dependencies end).
#pragma once
#include <atomic>
#include <chrono>
#include <condition_variable>
#include <deque>
#include <memory>
#include <mutex>
#include <string>
#include <thread>
#include <vector>

#include "core/backend.hpp"
#include "cpu/worker_pool.hpp"
#include "stagefence/command_encoder.hpp"

namespace stagefence::cpu {

class CpuQueue final : public QueueImpl {
 public:
  CpuQueue(std::shared_ptr<WorkerPool> workers, std::string name);
  ~CpuQueue() override;  // runs what was committed; fence waits still pending are cancelled
  void submit(std::shared_ptr<CommandBuffer> cb) override;
  void drain() override;
  void cancel_waits() override;

 private:
  void run();
  void execute(CommandBuffer& cb);
  // Runs the dispatch graph once (one loop iteration); false with `error` set when a dispatch
  // failed. Per-dispatch times accumulate into `times` (sized when profiling).
  bool run_dispatches(CommandBuffer& cb, std::chrono::steady_clock::time_point start,
                      std::vector<DispatchTime>& times, std::string& error);

  std::shared_ptr<WorkerPool> workers_;
  std::string name_;
  std::mutex mu_;
  std::condition_variable cv_;
  std::deque<std::shared_ptr<CommandBuffer>> fifo_;
  bool busy_ = false;
  bool stop_ = false;
  std::atomic<bool> cancel_waits_{false};
  std::thread thread_;
};

}  // namespace stagefence::cpu
