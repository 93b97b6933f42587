// What a Device handle, its encoders, buffers and queues share.
#pragma once
#include <atomic>
#include <memory>
#include <mutex>
#include <string>
#include <vector>

#include "core/allocation.hpp"
#include "core/backend.hpp"
#include "core/fence_state.hpp"
#include "core/residency_state.hpp"

namespace stagefence {

struct QueueState {
  QueueState(std::shared_ptr<Backend> backend, std::string name);
  ~QueueState();  // drains committed work first
  const uint64_t id;
  const std::string name;
  std::shared_ptr<Backend> backend;
  std::unique_ptr<QueueImpl> impl;
};

struct DeviceCore {
  std::shared_ptr<Backend> backend;
  std::shared_ptr<BufferPool> pool;
  std::shared_ptr<ResidencyState> residency;
  std::shared_ptr<QueueState> default_queue;
  std::mutex queues_mu;
  std::vector<std::weak_ptr<QueueState>> queues;
  bool unretained = false;

  BackendKind kind() const { return backend->kind(); }
  std::shared_ptr<QueueState> make_queue(const std::string& name);
  std::shared_ptr<FenceState> make_fence(const std::string& name);
};

}  // namespace stagefence
