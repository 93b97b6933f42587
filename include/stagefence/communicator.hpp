// Collectives across devices: a group of communicators, one per device (rank), whose all-reduce
// and all-gather are recorded into command buffers like any dispatch, so hazard tracking,
// fences, capture and replay order them. CPU devices meet in shared memory; CUDA devices use
// NCCL, loaded at run time (no link-time dependency).
#pragma once
#include <chrono>
#include <cstdint>
#include <memory>
#include <string>
#include <vector>

#include "stagefence/buffer.hpp"
#include "stagefence/command_encoder.hpp"
#include "stagefence/kernel.hpp"

namespace stagefence {

class Device;

namespace detail {
struct CommGroup;
}

struct CommunicatorOptions {
  // CPU: how long a rank waits at a collective for the others before the whole group fails
  // (naming the ranks that never arrived). A failed group fails every later collective at once.
  std::chrono::milliseconds timeout{60000};
};

class Communicator {
 public:
  // One communicator per device, rank i on devices[i]. Every device must use the same backend;
  // CUDA devices must be distinct GPUs. Throws InvalidArgument for an empty list, a null or
  // repeated device or mixed backends, and Unsupported when CUDA devices have no usable NCCL
  // (STAGEFENCE_NCCL_LIBRARY names the library; default libnccl.so.2).
  static std::vector<Communicator> create_group(const std::vector<Device*>& devices,
                                                CommunicatorOptions options = {});

  int rank() const { return rank_; }
  int size() const;
  BackendKind backend() const;
  // "cpu shared memory" or "NCCL 2.x.y", with the group's size.
  std::string describe() const;

  // Records an in-place sum over all ranks of the first `count` f32 values of `buffer`. Every
  // rank must record the same collectives in the same order; within a command buffer a rank's
  // collectives run one at a time in recording order (command buffers on one queue keep their
  // order; collectives of one rank on several queues must be ordered with fences).
  void all_reduce_sum(CommandEncoder& enc, const Buffer& buffer, uint64_t count) const;
  // Records recv[r * count, (r + 1) * count) = rank r's send[0, count), f32, on every rank.
  void all_gather(CommandEncoder& enc, const Buffer& send, const Buffer& recv,
                  uint64_t count) const;

  Communicator(std::shared_ptr<detail::CommGroup> group, int rank);

 private:
  std::shared_ptr<detail::CommGroup> group_;
  int rank_ = 0;
};

}  // namespace stagefence
