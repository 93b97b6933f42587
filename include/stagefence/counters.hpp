// Process-wide counters: cheap atomics that tests and benchmarks read to prove sync and
// command-buffer budgets ("one sync per token").
#pragma once
#include <cstdint>
#include <string>

namespace stagefence {

struct CounterSnapshot {
  // Events since the last reset.
  uint64_t dispatches = 0;             // dispatches recorded into command buffers
  uint64_t command_buffers = 0;        // command buffers created (encoder open or reset)
  uint64_t commits = 0;                // command buffers submitted
  uint64_t syncs = 0;                  // blocking host waits (commit_and_wait, wait)
  uint64_t barriers_explicit = 0;      // barrier() calls that ordered something
  uint64_t barriers_auto = 0;          // dispatches the hazard tracker had to order
  uint64_t concurrent_dispatches = 0;  // dispatches free to overlap earlier work in their buffer
  uint64_t dependencies = 0;           // dependency edges recorded
  uint64_t fences_signalled = 0;       // fence signals encoded
  uint64_t waits_encoded = 0;          // fence waits encoded
  uint64_t residency_flushes = 0;      // residency-set commits applied
  uint64_t graph_launches = 0;         // CUDA: graph execs launched
  uint64_t graph_instantiations = 0;   // CUDA: graphs instantiated
  uint64_t graph_updates = 0;          // CUDA: execs updated in place
  // Gauges: current values, not reset.
  int64_t live_command_buffers = 0;
  int64_t live_fences = 0;
  int64_t live_allocations = 0;
  int64_t pool_bytes_in_use = 0;
  int64_t pool_bytes_cached = 0;
  int64_t live_graph_execs = 0;

  CounterSnapshot operator-(const CounterSnapshot& earlier) const;  // events subtract; gauges kept
  std::string to_string() const;
  std::string to_json() const;
};

namespace counters {
CounterSnapshot snapshot();
void reset();  // zeroes the event counters; gauges keep their values
}  // namespace counters

}  // namespace stagefence
