// A capture graph compiled for one device and one set of recording flags: the dispatch records,
// dependency edges, counter deltas and final hazard state that re-recording every node into an
// empty command buffer produces, so CommandEncoder::replay can append them in bulk.
#pragma once
#include <array>
#include <cstdint>
#include <memory>
#include <vector>

#include "core/allocation.hpp"
#include "core/command_buffer.hpp"
#include "core/device_core.hpp"
#include "core/hazard_tracker.hpp"
#include "stagefence/capture.hpp"

namespace stagefence::detail {

// What a recording depends on besides the nodes.
struct ReplayConfig {
  const BufferPool* pool = nullptr;  // the device the bindings must belong to
  BackendKind kind = BackendKind::Cpu;
  bool force_serial = false;
  bool hazard_tracking = true;
  bool operator==(const ReplayConfig&) const = default;
};

struct CompiledReplay {
  uint64_t id = 0;  // unique per compiled form (the CUDA graph cache keys on it)
  ReplayConfig config;
  std::shared_ptr<BufferPool> pool;  // keeps config.pool's identity for this form's life
  std::vector<DispatchRecord> records;
  std::vector<uint32_t> deps;  // dep_begin/dep_count of the records index here
  // Every bound allocation once: a command buffer that retains this form retains them all.
  std::vector<std::shared_ptr<Allocation>> allocations;
  HazardTracker tracker;  // after the last node, as live recording leaves it
  // Counter deltas of one replay.
  uint64_t dependencies = 0, concurrent_dispatches = 0, barriers_auto = 0, barriers_explicit = 0;

  // The kernel definitions as compiled; a kernel re-registered since makes the form stale.
  struct KernelSnapshot {
    const KernelDef* def;
    std::array<KernelImpl, kMaxBackends> impl;
  };
  std::vector<KernelSnapshot> kernels;
  bool kernels_unchanged() const;
};

// The compiled form of `graph` for `device` under `config`, from the graph's cache or compiled
// now. nullptr when some node would raise: the caller re-records so the error comes from the
// same dispatch, with the same partial recording, as without compilation.
std::shared_ptr<const CompiledReplay> compiled_replay(const CaptureGraph& graph,
                                                      const DeviceCore& device,
                                                      const ReplayConfig& config);

}  // namespace stagefence::detail
