#include "cpu/worker_pool.hpp"

#include <chrono>
#include <cstdint>
#include <string>
#include <system_error>

#include "core/host_spin.hpp"
#include "stagefence/error.hpp"

namespace stagefence::cpu {
namespace {

using Clock = std::chrono::steady_clock;

// How long an idle helper spins before it sleeps, and a waiting caller before it yields.
constexpr auto kSpin = std::chrono::microseconds(200);
constexpr uint32_t kMaxParts = 0xffff;

uint32_t part_of(uint64_t t) {
  return uint32_t(t & 0xffff);
}
uint32_t count_of(uint64_t t) {
  return uint32_t((t >> 16) & 0xffff);
}

}  // namespace

WorkerPool::WorkerPool(int workers, const ThreadStarter& start) : workers_(std::max(1, workers)) {
  for (int i = 1; i < workers_; ++i) {
    try {
      if (start)
        helpers_.push_back(start([this] { helper_loop(); }));
      else
        helpers_.emplace_back([this] { helper_loop(); });
    } catch (const std::system_error& e) {
      stop_ = true;
      { std::lock_guard<std::mutex> lock(sleep_mu_); }
      wake_.notify_all();
      for (auto& t : helpers_) t.join();
      raise(ErrorCode::Io, "the system refused to start CPU worker thread " +
                               std::to_string(i + 1) + " of " + std::to_string(workers_) + " (" +
                               e.what() +
                               "); check the thread limit (ulimit -u) and the address-space "
                               "limit (ulimit -v), or set STAGEFENCE_CPU_WORKERS lower");
    }
  }
}

WorkerPool::~WorkerPool() {
  stop_ = true;
  { std::lock_guard<std::mutex> lock(sleep_mu_); }
  wake_.notify_all();
  for (auto& t : helpers_) t.join();
}

bool WorkerPool::claimable() const {
  const uint64_t t = ticket_.load(std::memory_order_acquire);
  return part_of(t) < count_of(t);
}

void WorkerPool::help() {
  uint64_t t = ticket_.load(std::memory_order_acquire);
  while (part_of(t) < count_of(t)) {
    if (!ticket_.compare_exchange_weak(t, t + 1, std::memory_order_acq_rel)) continue;
    // The claimed part keeps this job (and body_) alive until done_ counts it.
    (*body_)(part_of(t));
    done_.fetch_add(1, std::memory_order_release);
    t = ticket_.load(std::memory_order_acquire);
  }
}

void WorkerPool::helper_loop() {
  while (!stop_.load(std::memory_order_relaxed)) {
    const auto spin_end = Clock::now() + kSpin;
    bool worked = false;
    while (Clock::now() < spin_end && !stop_.load(std::memory_order_relaxed)) {
      if (claimable()) {
        help();
        worked = true;
        break;
      }
      for (int i = 0; i < 64; ++i) cpu_relax();
    }
    if (worked) continue;
    std::unique_lock<std::mutex> lock(sleep_mu_);
    sleepers_.fetch_add(1);
    wake_.wait(lock, [&] { return stop_.load() || claimable(); });
    sleepers_.fetch_sub(1);
  }
}

void WorkerPool::parallel_for(uint32_t count, const std::function<void(uint32_t)>& body) {
  if (count == 0) return;
  std::unique_lock<std::mutex> owner(job_owner_, std::try_to_lock);
  if (count == 1 || helpers_.empty() || !owner.owns_lock()) {
    for (uint32_t i = 0; i < count; ++i) body(i);
    return;
  }
  for (uint32_t first = 0; first < count; first += kMaxParts) {
    const uint32_t n = std::min(kMaxParts, count - first);
    const auto part = [&](uint32_t i) { body(first + i); };
    const std::function<void(uint32_t)> job = part;
    body_ = &job;
    done_.store(0, std::memory_order_relaxed);
    const uint64_t generation = (ticket_.load(std::memory_order_relaxed) >> 32) + 1;
    ticket_.store(generation << 32 | uint64_t(n) << 16, std::memory_order_seq_cst);
    if (sleepers_.load(std::memory_order_seq_cst) > 0) {
      std::lock_guard<std::mutex> lock(sleep_mu_);
      wake_.notify_all();
    }
    help();
    const auto spin_end = Clock::now() + kSpin;
    while (done_.load(std::memory_order_acquire) < n) {
      if (Clock::now() < spin_end)
        cpu_relax();
      else
        std::this_thread::yield();
    }
  }
}

}  // namespace stagefence::cpu
