#include "cpu/cpu_queue.hpp"

#include <algorithm>
#include <atomic>
#include <chrono>
#include <cstdint>
#include <functional>
#include <string>
#include <system_error>
#include <vector>

#include "core/command_buffer.hpp"
#include "stagefence/error.hpp"

namespace stagefence::cpu {

using Clock = std::chrono::steady_clock;

CpuQueue::CpuQueue(std::shared_ptr<WorkerPool> workers, std::string name)
    : workers_(std::move(workers)), name_(std::move(name)) {
  try {
    thread_ = std::thread([this] { run(); });
  } catch (const std::system_error& e) {
    raise(ErrorCode::Io, "the system refused to start the thread of CPU queue '" + name_ + "' (" +
                             e.what() +
                             "); check the thread limit (ulimit -u) and the address-space limit "
                             "(ulimit -v)");
  }
}

CpuQueue::~CpuQueue() {
  {
    std::lock_guard<std::mutex> lock(mu_);
    stop_ = true;
  }
  cancel_waits_ = true;
  cv_.notify_all();
  thread_.join();
}

void CpuQueue::submit(std::shared_ptr<CommandBuffer> cb) {
  {
    std::lock_guard<std::mutex> lock(mu_);
    fifo_.push_back(std::move(cb));
  }
  cv_.notify_all();
}

void CpuQueue::cancel_waits() {
  cancel_waits_ = true;
}

void CpuQueue::drain() {
  std::unique_lock<std::mutex> lock(mu_);
  cv_.wait(lock, [&] { return fifo_.empty() && !busy_; });
}

void CpuQueue::run() {
  for (;;) {
    std::shared_ptr<CommandBuffer> cb;
    {
      std::unique_lock<std::mutex> lock(mu_);
      cv_.wait(lock, [&] { return stop_ || !fifo_.empty(); });
      if (fifo_.empty()) return;
      cb = std::move(fifo_.front());
      fifo_.pop_front();
      busy_ = true;
    }
    execute(*cb);
    cb.reset();
    {
      std::lock_guard<std::mutex> lock(mu_);
      busy_ = false;
    }
    cv_.notify_all();
  }
}

namespace {

double micros(Clock::time_point a, Clock::time_point b) {
  return std::chrono::duration<double, std::micro>(b - a).count();
}

// One buffer's dispatch graph while it runs: the queue thread owns the graph state; the
// chunks, on any thread, touch only the failure and the profile, under the mutex.
struct GraphRun {
  std::mutex mu;
  std::vector<uint32_t> indegree;
  std::vector<std::vector<uint32_t>> dependents;
  std::vector<uint32_t> ready;
  std::vector<DispatchTime> times;
  size_t done = 0;
  bool failed = false;
  std::string error;
};

struct Chunk {
  uint32_t dispatch;
  uint64_t begin, end;
};

}  // namespace

bool CpuQueue::run_dispatches(CommandBuffer& cb, Clock::time_point start,
                              std::vector<DispatchTime>& times, std::string& error) {
  const size_t n = cb.dispatches.size();
  GraphRun run;
  run.indegree.resize(n);
  run.dependents.resize(n);
  if (cb.profile_dispatches) run.times = std::move(times);
  for (uint32_t i = 0; i < n; ++i) {
    const DispatchRecord& d = cb.dispatches[i];
    run.indegree[i] = d.dep_count;
    for (uint32_t k = 0; k < d.dep_count; ++k)
      run.dependents[cb.deps[d.dep_begin + k]].push_back(i);
    if (d.dep_count == 0) run.ready.push_back(i);
  }

  // Runs one chunk on whichever thread claimed it; a failure is recorded, never thrown.
  std::vector<Chunk> wave;
  const auto run_chunk = [&cb, &run, &wave, start](uint32_t index) {
    const Chunk& c = wave[index];
    const DispatchRecord& d = cb.dispatches[c.dispatch];
    const double t_start = cb.profile_dispatches ? micros(start, Clock::now()) : 0;
    std::string what;
    try {
      d.impl->entry_as<CpuKernelFn>()(d.args, d.launch, c.begin, c.end);
    } catch (const std::exception& e) {
      what = e.what();
    } catch (...) {
      what = "unknown exception";
    }
    if (what.empty() && !cb.profile_dispatches) return;
    const double t_end = cb.profile_dispatches ? micros(start, Clock::now()) : 0;
    std::lock_guard<std::mutex> lock(run.mu);
    if (!what.empty() && !run.failed) {
      run.failed = true;
      run.error = "command buffer " + cb.display_name() + cb.stage_suffix(c.dispatch) +
                  ": kernel '" + d.def->name + "' (dispatch " + std::to_string(c.dispatch) +
                  ") failed: " + what;
    }
    if (cb.profile_dispatches) {
      auto& dt = run.times[c.dispatch];
      if (dt.start_us == 0 || t_start < dt.start_us) dt.start_us = t_start;
      dt.kernel = d.kernel;
      dt.end_us = std::max(dt.end_us, t_end);
    }
  };
  const std::function<void(uint32_t)> chunk_body = run_chunk;

  // Waves: every ready dispatch is cut into one chunk per compute thread (fewer when its grid
  // is smaller) and the wave runs on the pool; a wave of one chunk runs right here, so a chain
  // of small dependent dispatches costs no hand-off at all.
  const uint64_t workers = static_cast<uint64_t>(workers_->size());
  std::vector<uint32_t> current;
  while (!run.ready.empty() && !run.failed) {
    current.swap(run.ready);
    run.ready.clear();
    wave.clear();
    for (uint32_t i : current) {
      const uint64_t blocks = cb.dispatches[i].launch.grid.count();
      const uint64_t parts = std::max<uint64_t>(1, std::min(blocks, workers));
      for (uint64_t p = 0; p < parts; ++p)
        wave.push_back({i, blocks * p / parts, blocks * (p + 1) / parts});
    }
    workers_->parallel_for(static_cast<uint32_t>(wave.size()), chunk_body);
    for (uint32_t i : current) {
      ++run.done;
      for (uint32_t next : run.dependents[i])
        if (--run.indegree[next] == 0) run.ready.push_back(next);
    }
  }
  times = std::move(run.times);
  if (run.failed) error = run.error;
  return !run.failed;
}

void CpuQueue::execute(CommandBuffer& cb) {
  for (const FenceOp& w : cb.waits) {
    const auto r = w.fence->wait(w.value, std::chrono::hours(24 * 365), &cancel_waits_);
    if (r == FenceState::WaitResult::Reached) continue;
    if (r == FenceState::WaitResult::Poisoned) {
      complete_command_buffer(cb, Error(ErrorCode::FencePoisoned,
                                        "command buffer " + cb.display_name() +
                                            " did not run: " + w.fence->poison_error_for(w.value)));
    } else {
      complete_command_buffer(
          cb, Error(ErrorCode::State, "queue '" + name_ + "' shut down while command buffer " +
                                          cb.display_name() + " waited for fence '" +
                                          w.fence->name + "' value " + std::to_string(w.value)));
    }
    return;
  }
  cb.started.store(true, std::memory_order_release);  // from here on it runs to its end

  const auto start = Clock::now();
  std::string error;
  std::vector<DispatchTime> times;
  if (cb.profile_dispatches) times.resize(cb.dispatches.size());
  bool failed = false;
  if (!cb.loop) {
    failed = !run_dispatches(cb, start, times, error);
  } else {
    // The device-side loop on the queue thread: the same words and bound as a CUDA WHILE node.
    auto* words = static_cast<uint32_t*>(cb.loop->words);
    std::atomic_ref<uint32_t> condition(words[0]), iterations(words[1]);
    iterations.store(0, std::memory_order_release);
    for (uint32_t i = 0;
         i < cb.loop->max_iterations && condition.load(std::memory_order_acquire) != 0; ++i) {
      failed = !run_dispatches(cb, start, times, error);
      iterations.store(i + 1, std::memory_order_release);
      if (failed) {
        error += " (loop iteration " + std::to_string(i) + ")";
        break;
      }
    }
  }

  const auto end = Clock::now();
  cb.exec_begin = start;
  cb.exec_end = end;
  if (failed) {
    complete_command_buffer(cb, Error(ErrorCode::KernelFault, error));
    return;
  }
  CommandBufferTimes t;
  if (cb.timestamps || cb.profile_dispatches) {
    t.valid = true;
    t.gpu_us = micros(start, end);
    t.submit_to_done_us = micros(cb.committed_at, end);
    t.dispatches = std::move(times);
  }
  complete_command_buffer(cb, std::nullopt, &t);
}

}  // namespace stagefence::cpu
