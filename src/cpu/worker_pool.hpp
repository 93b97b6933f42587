// A fixed set of worker threads running submitted tasks in FIFO order.
#pragma once
#include <condition_variable>
#include <deque>
#include <functional>
#include <mutex>
#include <thread>
#include <vector>

namespace stagefence::cpu {

class WorkerPool {
 public:
  explicit WorkerPool(int workers);
  ~WorkerPool();  // finishes queued tasks, then joins
  void submit(std::function<void()> task);
  int size() const { return static_cast<int>(threads_.size()); }

 private:
  void run();
  std::mutex mu_;
  std::condition_variable cv_;
  std::deque<std::function<void()>> tasks_;
  bool stop_ = false;
  std::vector<std::thread> threads_;
};

}  // namespace stagefence::cpu
