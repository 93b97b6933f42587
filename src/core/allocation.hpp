// Device memory blocks, the pool that recycles them, and the reference-counted allocation that
// buffers and in-flight command buffers share.
#pragma once
#include <atomic>
#include <cstdint>
#include <memory>
#include <mutex>
#include <unordered_map>
#include <vector>

namespace stagefence {

class Backend;
struct ResidencyState;

// Recycles blocks by size class. Memory returns here only when the last Allocation reference
// (buffer handles and retaining command buffers) is gone.
class BufferPool {
 public:
  explicit BufferPool(std::shared_ptr<Backend> backend);
  ~BufferPool();
  // A zero-filled block of at least `bytes`; `capacity` receives its real size.
  void* acquire(uint64_t bytes, uint64_t* capacity);
  void release(void* ptr, uint64_t capacity) noexcept;
  void trim() noexcept;
  Backend& backend() { return *backend_; }
  const std::shared_ptr<Backend>& backend_ptr() const { return backend_; }
  static uint64_t size_class(uint64_t bytes);

 private:
  std::shared_ptr<Backend> backend_;
  std::mutex mu_;
  std::unordered_map<uint64_t, std::vector<void*>> free_;
};

// In-flight bookkeeping for the unretained-refs debug check: outlives its allocation. Memory
// freed while still in flight waits here (quarantined) until the last user completes.
class InflightTracker {
 public:
  void begin_use();
  void end_use();  // returns a quarantined block to its pool once nothing uses it
  // Returns the block to the pool now, or quarantines it (true) while a buffer still uses it.
  bool retire(std::shared_ptr<BufferPool> pool, void* ptr, uint64_t capacity);

 private:
  std::mutex mu_;
  int64_t inflight_ = 0;
  std::shared_ptr<BufferPool> pool_;
  void* ptr_ = nullptr;
  uint64_t capacity_ = 0;
};

struct Allocation {
  Allocation(std::shared_ptr<BufferPool> pool, std::shared_ptr<ResidencyState> residency,
             uint64_t bytes);
  ~Allocation();
  Allocation(const Allocation&) = delete;
  Allocation& operator=(const Allocation&) = delete;

  std::shared_ptr<BufferPool> pool;
  std::shared_ptr<ResidencyState> residency;
  void* ptr = nullptr;
  uint64_t size = 0;      // bytes requested
  uint64_t capacity = 0;  // bytes of the pooled block
  uint64_t id = 0;
  std::atomic<uint64_t> last_cb{0};          // id of the last command buffer that retained it
  std::shared_ptr<InflightTracker> tracker;  // debug builds with unretained refs only
};

}  // namespace stagefence
