// The CPU backend's compute threads: the calling thread plus workers-1 helper threads that run
// the parts of one parallel job at a time. Helpers spin briefly between jobs (a decode step's
// dispatches follow each other within microseconds) and then sleep, so a job costs an atomic
// store and no wake-up system call while work keeps coming.
#pragma once
#include <atomic>
#include <condition_variable>
#include <cstdint>
#include <functional>
#include <mutex>
#include <thread>
#include <vector>

namespace stagefence::cpu {

class WorkerPool {
 public:
  // Starts a thread running `body`; the default is std::thread. Tests pass one that fails.
  using ThreadStarter = std::function<std::thread(std::function<void()> body)>;

  // `workers` compute threads in all (the caller counts as one). Throws stagefence::Error (Io)
  // naming the thread and the limits to check when the system refuses to start one; the
  // helpers started before it are stopped and joined first.
  explicit WorkerPool(int workers, const ThreadStarter& start = {});
  ~WorkerPool();
  int size() const { return workers_; }

  // Runs body(i) for every i in [0, count) on the calling thread and the helpers, and returns
  // once all have run. body must not throw. A second caller while a job runs (another queue)
  // runs its parts on its own thread.
  void parallel_for(uint32_t count, const std::function<void(uint32_t)>& body);

 private:
  void helper_loop();
  // Claims and runs parts of the current job until none is left.
  void help();
  bool claimable() const;

  int workers_;
  std::vector<std::thread> helpers_;
  std::mutex job_owner_;  // one job at a time
  const std::function<void(uint32_t)>* body_ = nullptr;
  // The job's ticket: generation << 32 | count << 16 | next part. A part is claimed by a
  // compare-exchange, which fails once the job has changed.
  std::atomic<uint64_t> ticket_{0};
  std::atomic<uint32_t> done_{0};
  std::atomic<int> sleepers_{0};
  std::atomic<bool> stop_{false};
  std::mutex sleep_mu_;
  std::condition_variable wake_;
};

}  // namespace stagefence::cpu
