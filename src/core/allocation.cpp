#include "core/allocation.hpp"

#include <unistd.h>

#include <cstdint>
#include <cstdio>
#include <new>
#include <string>

#include "core/backend.hpp"
#include "core/counters_internal.hpp"
#include "core/residency_state.hpp"
#include "stagefence/error.hpp"

namespace stagefence {

namespace {
std::atomic<uint64_t> g_next_alloc_id{1};

// The most one allocation may take: the GPU's memory, or the host's physical memory (0: unknown).
uint64_t memory_limit(Backend& backend) {
  if (backend.info().memory_bytes > 0) return backend.info().memory_bytes;
  const long pages = sysconf(_SC_PHYS_PAGES), page = sysconf(_SC_PAGESIZE);
  return pages > 0 && page > 0 ? uint64_t(pages) * uint64_t(page) : 0;
}

std::string gib(uint64_t bytes) {
  char s[32];
  std::snprintf(s, sizeof s, "%.2f GiB", double(bytes) / double(1ull << 30));
  return s;
}
}  // namespace

BufferPool::BufferPool(std::shared_ptr<Backend> backend) : backend_(std::move(backend)) {}

BufferPool::~BufferPool() {
  trim();
}

uint64_t BufferPool::size_class(uint64_t bytes) {
  constexpr uint64_t kMiB = 1ull << 20;
  if (bytes <= 256) return 256;
  if (bytes <= kMiB) {  // powers of two up to 1 MiB
    uint64_t c = 512;
    while (c < bytes) c <<= 1;
    return c;
  }
  return (bytes + kMiB - 1) / kMiB * kMiB;  // whole MiB above
}

void* BufferPool::acquire(uint64_t bytes, uint64_t* capacity) {
  // Refused before the size is rounded (which could wrap) and before the system is asked (which
  // may overcommit and kill the process when the memory is first touched).
  const uint64_t limit = memory_limit(*backend_);
  if (limit > 0 && bytes > limit)
    raise(ErrorCode::OutOfRange, "allocation of " + std::to_string(bytes) + " bytes (" +
                                     gib(bytes) + ") exceeds the " + gib(limit) + " of memory " +
                                     backend_->info().name + " has");
  const uint64_t cls = size_class(bytes);
  void* p = nullptr;
  {
    std::lock_guard<std::mutex> lock(mu_);
    auto it = free_.find(cls);
    if (it != free_.end() && !it->second.empty()) {
      p = it->second.back();
      it->second.pop_back();
      detail::gauge(detail::counters().pool_bytes_cached, -static_cast<int64_t>(cls));
    }
  }
  if (!p) {
    try {
      p = backend_->allocate(cls);
    } catch (const std::bad_alloc&) {
      raise(ErrorCode::OutOfRange, "allocation of " + std::to_string(bytes) + " bytes (" +
                                       gib(bytes) + ") on " + backend_->info().name +
                                       " failed: not enough memory");
    }
  }
  try {
    backend_->zero(p, cls);
  } catch (...) {
    release(p, cls);
    throw;
  }
  detail::gauge(detail::counters().pool_bytes_in_use, static_cast<int64_t>(cls));
  *capacity = cls;
  return p;
}

void BufferPool::release(void* ptr, uint64_t capacity) noexcept {
  {
    std::lock_guard<std::mutex> lock(mu_);
    free_[capacity].push_back(ptr);
  }
  detail::gauge(detail::counters().pool_bytes_in_use, -static_cast<int64_t>(capacity));
  detail::gauge(detail::counters().pool_bytes_cached, static_cast<int64_t>(capacity));
}

void BufferPool::trim() noexcept {
  std::unordered_map<uint64_t, std::vector<void*>> blocks;
  {
    std::lock_guard<std::mutex> lock(mu_);
    blocks.swap(free_);
  }
  for (auto& [cls, list] : blocks) {
    for (void* p : list) backend_->release(p);
    detail::gauge(detail::counters().pool_bytes_cached, -static_cast<int64_t>(cls * list.size()));
  }
}

void InflightTracker::begin_use() {
  std::lock_guard<std::mutex> lock(mu_);
  ++inflight_;
}

void InflightTracker::end_use() {
  std::shared_ptr<BufferPool> pool;
  {
    std::lock_guard<std::mutex> lock(mu_);
    if (--inflight_ > 0 || !pool_) return;
    pool = std::move(pool_);
  }
  pool->release(ptr_, capacity_);
}

bool InflightTracker::retire(std::shared_ptr<BufferPool> pool, void* ptr, uint64_t capacity) {
  {
    std::lock_guard<std::mutex> lock(mu_);
    if (inflight_ > 0) {
      pool_ = std::move(pool);
      ptr_ = ptr;
      capacity_ = capacity;
      return true;
    }
  }
  pool->release(ptr, capacity);
  return false;
}

Allocation::Allocation(std::shared_ptr<BufferPool> pool_in, std::shared_ptr<ResidencyState> res,
                       uint64_t bytes)
    : pool(std::move(pool_in)), residency(std::move(res)), size(bytes) {
  ptr = pool->acquire(bytes, &capacity);
  id = g_next_alloc_id.fetch_add(1, std::memory_order_relaxed);
  detail::gauge(detail::counters().live_allocations, 1);
}

Allocation::~Allocation() {
  if (residency) residency->stage_remove(id);
  if (tracker && tracker->retire(pool, ptr, capacity)) {
    // Unretained refs and the caller freed memory a command buffer still uses: the block is
    // quarantined until that buffer completes instead of going to new data it would corrupt.
    detail::bump(detail::counters().unretained_violations);
    std::fprintf(stderr,
                 "stagefence: allocation %llu (%llu bytes) freed while a command buffer still "
                 "uses it (STAGEFENCE_UNRETAINED_REFS=1); its memory is quarantined until then\n",
                 static_cast<unsigned long long>(id), static_cast<unsigned long long>(size));
  } else if (!tracker) {
    pool->release(ptr, capacity);
  }
  detail::gauge(detail::counters().live_allocations, -1);
}

}  // namespace stagefence
