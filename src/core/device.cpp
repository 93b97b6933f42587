#include "stagefence/device.hpp"

#include <atomic>
#include <cstdint>
#include <cstdio>

#include "core/abandoned.hpp"
#include "core/backend_registry.hpp"
#include "core/builtin_kernels.hpp"
#include "core/command_buffer.hpp"
#include "core/device_core.hpp"
#include "core/fence_state.hpp"
#include "core/host_spin.hpp"
#include "core/watchdog.hpp"
#include "stagefence/backend_kind.hpp"
#include "stagefence/env.hpp"
#include "stagefence/error.hpp"

namespace stagefence {

namespace {
std::atomic<uint64_t> g_next_queue_id{1};
}

QueueState::QueueState(std::shared_ptr<Backend> b, std::shared_ptr<Watchdog> w, std::string n)
    : id(g_next_queue_id.fetch_add(1)),
      name(std::move(n)),
      backend(std::move(b)),
      watchdog(std::move(w)) {
  impl = backend->create_queue(name);
}

QueueState::~QueueState() {
  const std::shared_ptr<CommandBuffer> last = last_submitted();
  impl->cancel_waits();  // a buffer held on a fence wait ends now instead of at the deadline
  const auto limit = watchdog->deadline();
  if (last && !last->wait_finished(limit)) {
    const auto ms = std::chrono::duration_cast<std::chrono::milliseconds>(limit).count();
    const std::string reason = "queue '" + name + "' was destroyed while command buffer " +
                               last->display_name() + " had not completed within " +
                               std::to_string(ms) +
                               " ms; its work cannot be stopped, so the queue and the device's "
                               "memory are kept until the process exits";
    watchdog->note_abandoned(reason);
    std::fprintf(stderr, "stagefence: %s\n", reason.c_str());
    keep_forever(std::shared_ptr<QueueImpl>(std::move(impl)));
    return;
  }
  impl.reset();
}

DeviceCore::~DeviceCore() {
  default_queue.reset();  // first, so an abandoned default queue is seen below
  if (watchdog && watchdog->abandoned()) {
    keep_forever(pool);
    keep_forever(backend);
  }
}

void QueueState::note_submitted(const std::shared_ptr<CommandBuffer>& cb) {
  std::lock_guard<std::mutex> lock(last_mu_);
  last_ = cb;
}

std::shared_ptr<CommandBuffer> QueueState::last_submitted() {
  std::lock_guard<std::mutex> lock(last_mu_);
  return last_.lock();
}

void QueueState::drain_within(std::chrono::nanoseconds timeout) {
  const std::shared_ptr<CommandBuffer> last = last_submitted();
  if (last && !last->wait_finished(timeout)) last->fail_overdue(timeout);
  impl->drain();  // the buffer has finished: this returns once the backend is idle
}

std::shared_ptr<QueueState> DeviceCore::make_queue(const std::string& name) {
  auto q = std::make_shared<QueueState>(backend, watchdog, name);
  std::lock_guard<std::mutex> lock(queues_mu);
  std::erase_if(queues, [](const std::weak_ptr<QueueState>& w) { return w.expired(); });
  queues.push_back(q);
  return q;
}

const std::string& Queue::name() const {
  return state_->name;
}
uint64_t Queue::id() const {
  return state_->id;
}
void Queue::drain(WaitTimeout timeout) const {
  state_->drain_within(timeout ? *timeout : state_->watchdog->deadline());
}

Device Device::open(DeviceOptions options) {
  env::check_all();  // a flag with a value that is not allowed fails here, naming it
  register_builtin_kernels();
  std::string reason;
  auto core = std::make_shared<DeviceCore>();
  const auto deadline =
      resolve_wait_deadline(options.wait_timeout ? &*options.wait_timeout : nullptr);
  host_spin_window();  // a bad STAGEFENCE_WAIT_SPIN_US fails here, not at the first wait
  core->backend = open_backend(options, &reason);
  core->watchdog = std::make_shared<Watchdog>(deadline);
  core->backend->info().backend_reason = reason;
  core->pool = std::make_shared<BufferPool>(core->backend);
  core->residency = std::make_shared<ResidencyState>(!env::no_residency(), core->backend.get());
  core->unretained = env::unretained_refs();
  core->default_queue = core->make_queue("default");
  return Device(std::move(core));
}

Device::Device(std::shared_ptr<DeviceCore> core)
    : core_(std::move(core)), default_queue_(std::make_shared<Queue>(core_->default_queue)) {}

BackendKind Device::backend() const {
  return core_->kind();
}
const DeviceInfo& Device::info() const {
  return core_->backend->info();
}

Buffer Device::alloc(uint64_t bytes) {
  if (bytes == 0) raise(ErrorCode::InvalidArgument, "alloc of zero bytes");
  if (core_->lost())
    raise(ErrorCode::DeviceLost, "alloc on a lost device: " + core_->lost_reason());
  auto a = std::make_shared<Allocation>(core_->pool, core_->residency, bytes);
#ifndef NDEBUG
  if (core_->unretained) a->tracker = std::make_shared<InflightTracker>();
#endif
  core_->residency->stage_add(a->id, a->capacity, a->ptr);
  return Buffer(std::move(a), 0, bytes, DType::U8, {});
}

Buffer Device::alloc(DType dtype, std::vector<int64_t> shape) {
  uint64_t elems = 1;
  for (int64_t d : shape) {
    if (d <= 0) raise(ErrorCode::InvalidArgument, "alloc: shape dimensions must be positive");
    if (elems > (uint64_t(1) << 60) / static_cast<uint64_t>(d))
      raise(ErrorCode::OutOfRange, "alloc: a shape of more than 2^60 elements");
    elems *= static_cast<uint64_t>(d);
  }
  return alloc(dtype_bytes(dtype, elems)).as(dtype, std::move(shape));
}

CommandEncoder Device::command_encoder() {
  return CommandEncoder(core_, core_->default_queue);
}
CommandEncoder Device::command_encoder(const Queue& queue) {
  return CommandEncoder(core_, queue.state());
}

std::optional<EncoderSession> Device::encoder_session() {
  if (!env::encoder_session_enabled()) return std::nullopt;
  return EncoderSession(command_encoder(), core_);
}

std::optional<EncoderSession> Device::encoder_session(const Queue& queue) {
  if (!env::encoder_session_enabled()) return std::nullopt;
  return EncoderSession(command_encoder(queue), core_);
}

const Queue& Device::default_queue() const {
  return *default_queue_;
}
Queue Device::new_queue(const std::string& name) {
  return Queue(core_->make_queue(name));
}

std::shared_ptr<FenceState> DeviceCore::make_fence(const std::string& name) {
  auto state = std::make_shared<FenceState>(name);
  state->default_timeout = watchdog->deadline();
  state->backend = backend->create_fence(*state);
  return state;
}

Fence Device::new_fence(const std::string& name) {
  return Fence(core_->make_fence(name));
}

ResidencySet Device::residency() const {
  return ResidencySet(core_->residency);
}

void Device::synchronize(WaitTimeout timeout) const {
  std::vector<std::shared_ptr<QueueState>> live;
  {
    std::lock_guard<std::mutex> lock(core_->queues_mu);
    for (auto& w : core_->queues)
      if (auto q = w.lock()) live.push_back(std::move(q));
  }
  // One deadline for all queues: each gets what is left of it.
  const auto deadline =
      std::chrono::steady_clock::now() + (timeout ? *timeout : core_->watchdog->deadline());
  for (auto& q : live) {
    const auto left = std::max(deadline - std::chrono::steady_clock::now(),
                               std::chrono::steady_clock::duration::zero());
    q->drain_within(std::chrono::duration_cast<std::chrono::nanoseconds>(left));
  }
}

void Device::trim_pool() const {
  core_->pool->trim();
}
bool Device::lost() const {
  return core_->lost();
}
std::string Device::lost_reason() const {
  return core_->lost_reason();
}

}  // namespace stagefence
