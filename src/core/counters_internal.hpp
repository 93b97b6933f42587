// The atomics behind stagefence::counters. Relaxed ordering: they are statistics, not sync.
#pragma once
#include <atomic>
#include <cstdint>

namespace stagefence::detail {

struct Counters {
  std::atomic<uint64_t> dispatches{0}, command_buffers{0}, commits{0}, syncs{0};
  std::atomic<uint64_t> barriers_explicit{0}, barriers_auto{0}, concurrent_dispatches{0};
  std::atomic<uint64_t> dependencies{0}, fences_signalled{0}, waits_encoded{0};
  std::atomic<uint64_t> residency_flushes{0}, graph_launches{0}, graph_instantiations{0};
  std::atomic<uint64_t> graph_updates{0};
  std::atomic<int64_t> live_command_buffers{0}, live_fences{0}, live_allocations{0};
  std::atomic<int64_t> pool_bytes_in_use{0}, pool_bytes_cached{0}, live_graph_execs{0};
  std::atomic<uint64_t> unretained_violations{0};
};

Counters& counters();

inline void bump(std::atomic<uint64_t>& c, uint64_t n = 1) {
  c.fetch_add(n, std::memory_order_relaxed);
}
inline void gauge(std::atomic<int64_t>& g, int64_t n) {
  g.fetch_add(n, std::memory_order_relaxed);
}

}  // namespace stagefence::detail
