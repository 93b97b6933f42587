// The shared state of one communicator group, found by the collective kernels through the id
// they carry as a scalar (a captured graph replays the same id).
#pragma once
#include <chrono>
#include <cstdint>
#include <memory>
#include <vector>

#include "collective/nccl_library.hpp"
#include "collective/rendezvous.hpp"
#include "stagefence/buffer.hpp"
#include "stagefence/kernel.hpp"

namespace stagefence::detail {

struct CommGroup {
  uint64_t id = 0;
  int size = 0;
  BackendKind backend = BackendKind::Cpu;
  std::unique_ptr<collective::Rendezvous> rendezvous;  // CPU
  const collective::NcclLibrary* nccl = nullptr;       // CUDA
  std::vector<collective::NcclLibrary::Comm> comms;    // CUDA, one per rank
  // One small buffer per rank that every collective of the rank binds read-write, so the
  // hazard tracker runs a rank's collectives one at a time in recording order (ranks must
  // meet them in the same order; NCCL forbids concurrent operations on one communicator).
  std::vector<Buffer> order_tokens;

  ~CommGroup();
};

// Registers a new group under a fresh id (kept until the last Communicator goes).
std::shared_ptr<CommGroup> register_group(std::unique_ptr<CommGroup> group);
// The live group `id`; throws State when it was destroyed (e.g. a replay after its
// communicators went away).
std::shared_ptr<CommGroup> find_group(uint64_t id);

// "collective.all_reduce_sum_f32" and "collective.all_gather_f32" (CPU and CUDA); idempotent.
// b0 buffer (read-write) | b0 send (read), b1 recv (write); then the order token (read-write);
// s0 group id, s1 rank, s2 count.
struct CollectiveKernels {
  KernelId all_reduce_sum;
  KernelId all_gather;
};
const CollectiveKernels& collective_kernels();

}  // namespace stagefence::detail
