// What a Device handle, its encoders, buffers and queues share.
#pragma once
#include <atomic>
#include <cstdint>
#include <memory>
#include <mutex>
#include <string>
#include <vector>

#include "core/allocation.hpp"
#include "core/backend.hpp"
#include "core/fence_state.hpp"
#include "core/residency_state.hpp"
#include "core/watchdog.hpp"

namespace stagefence {

struct CommandBuffer;

struct QueueState {
  QueueState(std::shared_ptr<Backend> backend, std::shared_ptr<Watchdog> watchdog,
             std::string name);
  // Drains committed work first, within the device's deadline; past it the backend queue is
  // kept alive (not joined, nothing freed) and the device marked unusable, so it cannot hang.
  ~QueueState();
  const uint64_t id;
  const std::string name;
  std::shared_ptr<Backend> backend;
  std::shared_ptr<Watchdog> watchdog;  // the device's
  std::unique_ptr<QueueImpl> impl;

  // The last buffer committed here: the queue is drained once it has finished (queues complete
  // their buffers in commit order). Expired when the backend let go of it, i.e. it finished.
  void note_submitted(const std::shared_ptr<CommandBuffer>& cb);
  // Blocks until everything committed so far has finished, or throws the watchdog's Timeout.
  void drain_within(std::chrono::nanoseconds timeout);

 private:
  std::shared_ptr<CommandBuffer> last_submitted();  // null once it finished
  std::mutex last_mu_;
  std::weak_ptr<CommandBuffer> last_;
};

struct DeviceCore {
  ~DeviceCore();  // keeps the pool alive when a queue had to be abandoned
  std::shared_ptr<Backend> backend;
  std::shared_ptr<BufferPool> pool;
  std::shared_ptr<ResidencyState> residency;
  std::shared_ptr<Watchdog> watchdog;
  std::shared_ptr<QueueState> default_queue;
  std::mutex queues_mu;
  std::vector<std::weak_ptr<QueueState>> queues;
  bool unretained = false;

  BackendKind kind() const { return backend->kind(); }
  // Lost (the backend says so) or unusable (a watchdog timeout left a kernel running).
  bool lost() const { return backend->lost() || watchdog->unusable(); }
  std::string lost_reason() const {
    return backend->lost() ? backend->lost_reason() : watchdog->reason();
  }
  std::shared_ptr<QueueState> make_queue(const std::string& name);
  std::shared_ptr<FenceState> make_fence(const std::string& name);
};

}  // namespace stagefence
