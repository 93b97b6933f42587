// Device: opens one backend and owns its default queue, residency set, buffer pool and fences.
#pragma once
#include <chrono>
#include <cstdint>
#include <memory>
#include <optional>
#include <string>
#include <vector>

#include "stagefence/buffer.hpp"
#include "stagefence/command_encoder.hpp"
#include "stagefence/encoder_session.hpp"
#include "stagefence/fence.hpp"
#include "stagefence/kernel.hpp"
#include "stagefence/residency_set.hpp"

namespace stagefence {

struct DeviceInfo {
  BackendKind backend = BackendKind::Cpu;
  std::string name;            // "CPU (8 workers)" or the GPU's name
  std::string backend_reason;  // why this backend was chosen
  int cuda_ordinal = -1;       // the GPU's CUDA device number; -1 on the CPU backend
  int compute_major = 0, compute_minor = 0;
  uint64_t memory_bytes = 0;
  int multiprocessors = 0;
  uint64_t l2_bytes = 0;
  int driver_version = 0, runtime_version = 0;
  bool stream_memops = false;  // 64-bit stream memory operations usable
  std::string fence_kind;      // "host-timeline", "memop", "event"
  bool graphs = false;         // command buffers become CUDA graphs
  int cpu_workers = 0;
};

struct DeviceOptions {
  std::optional<BackendKind> backend;  // unset: STAGEFENCE_BACKEND, then auto
  int cuda_ordinal = 0;
  // The deadline of every host wait that names none (1 ms to a day); unset:
  // STAGEFENCE_WAIT_TIMEOUT_MS, then 60 s. See CommandEncoder::commit_and_wait.
  std::optional<std::chrono::milliseconds> wait_timeout;
};

class Queue {
 public:
  explicit Queue(std::shared_ptr<QueueState> state) : state_(std::move(state)) {}
  const std::string& name() const;
  uint64_t id() const;
  // Blocks until every buffer committed to this queue has completed (errors are not thrown
  // here: each buffer reports its own at wait()), or throws the watchdog's Timeout (see
  // CommandEncoder::commit_and_wait) once `timeout` (unset: the device's deadline) passes.
  void drain(WaitTimeout timeout = std::nullopt) const;
  const std::shared_ptr<QueueState>& state() const { return state_; }

 private:
  std::shared_ptr<QueueState> state_;
};

class Device {
 public:
  // Opens CUDA when asked or when a GPU is present (auto), else the CPU backend. A request for
  // CUDA on a machine without one throws Unsupported; auto falls back and says why in info().
  static Device open(DeviceOptions options = {});

  BackendKind backend() const;
  const DeviceInfo& info() const;

  // Zero-initialised memory, always (recycled memory never leaks old values).
  // Zero bytes throws InvalidArgument. The allocation joins the residency set (staged).
  Buffer alloc(uint64_t bytes);
  Buffer alloc(DType dtype, std::vector<int64_t> shape);

  CommandEncoder command_encoder();
  CommandEncoder command_encoder(const Queue& queue);
  // Empty when STAGEFENCE_ENCODER_SESSION=0 (read once per process).
  std::optional<EncoderSession> encoder_session();
  std::optional<EncoderSession> encoder_session(const Queue& queue);

  const Queue& default_queue() const;
  Queue new_queue(const std::string& name);
  Fence new_fence(const std::string& name);
  ResidencySet residency() const;
  KernelRegistry& kernels() const { return KernelRegistry::global(); }

  // Blocks until every queue of this device is idle; the same deadline as Queue::drain, for
  // all queues together.
  void synchronize(WaitTimeout timeout = std::nullopt) const;
  // Returns cached pool memory to the backend.
  void trim_pool() const;
  // True after an unrecoverable device error, or after a host wait's deadline passed while work
  // that cannot be stopped ran on the device; every later submission throws DeviceLost.
  bool lost() const;
  std::string lost_reason() const;

  const std::shared_ptr<DeviceCore>& core() const { return core_; }

 private:
  explicit Device(std::shared_ptr<DeviceCore> core);
  std::shared_ptr<DeviceCore> core_;
  std::shared_ptr<Queue> default_queue_;
};

}  // namespace stagefence
