// LoopChannel: the host side of a loop's token ring, over the backend's mapped memory.
#include <atomic>
#include <cstdint>
#include <memory>
#include <string>

#include "core/backend.hpp"
#include "core/command_buffer.hpp"
#include "core/device_core.hpp"
#include "core/watchdog.hpp"
#include "stagefence/device.hpp"
#include "stagefence/error.hpp"
#include "stagefence/loop.hpp"

namespace stagefence {

struct LoopChannel::Memory {
  std::shared_ptr<Backend> backend;
  char* host = nullptr;
  uint64_t device = 0;
  uint32_t capacity = 0;
  ~Memory() { backend->release_mapped(host); }

  template <typename T>
  std::atomic_ref<T> word(uint64_t offset) const {
    return std::atomic_ref<T>(*reinterpret_cast<T*>(host + offset));
  }
};

LoopChannel::LoopChannel(std::shared_ptr<Memory> memory) : mem_(std::move(memory)) {}

uint32_t LoopChannel::capacity() const {
  return mem_->capacity;
}
uint64_t LoopChannel::published() const {
  return mem_->word<uint64_t>(loop_layout::kCount).load(std::memory_order_acquire);
}
int32_t LoopChannel::token(uint64_t i) const {
  if (i >= mem_->capacity)
    raise(ErrorCode::OutOfRange, "loop channel token " + std::to_string(i) + " of a ring of " +
                                     std::to_string(mem_->capacity));
  return mem_->word<int32_t>(loop_layout::kRing + i * sizeof(int32_t))
      .load(std::memory_order_acquire);
}
LoopStop LoopChannel::stop_reason() const {
  return LoopStop(mem_->word<uint32_t>(loop_layout::kStop).load(std::memory_order_acquire));
}
void LoopChannel::cancel() const {
  mem_->word<uint32_t>(loop_layout::kCancel).store(1, std::memory_order_release);
}
bool LoopChannel::cancel_requested() const {
  return mem_->word<uint32_t>(loop_layout::kCancel).load(std::memory_order_acquire) != 0;
}
void LoopChannel::reset() const {
  mem_->word<uint64_t>(loop_layout::kCount).store(0, std::memory_order_release);
  mem_->word<uint32_t>(loop_layout::kCancel).store(0, std::memory_order_release);
  mem_->word<uint32_t>(loop_layout::kStop).store(0, std::memory_order_release);
}
uint64_t LoopChannel::device_address() const {
  return mem_->device;
}

LoopChannel make_loop_channel(Device& device, uint32_t capacity) {
  const std::shared_ptr<DeviceCore>& core_ = device.core();
  if (capacity == 0) raise(ErrorCode::InvalidArgument, "loop_channel of zero tokens");
  if (core_->lost())
    raise(ErrorCode::DeviceLost, "loop_channel on a lost device: " + core_->lost_reason());
  auto mem = std::make_shared<LoopChannel::Memory>();
  mem->backend = core_->backend;
  mem->capacity = capacity;
  mem->host = static_cast<char*>(core_->backend->allocate_mapped(
      loop_layout::kRing + uint64_t(capacity) * sizeof(int32_t), &mem->device));
  return LoopChannel(std::move(mem));
}

void set_loop(CommandEncoder& enc, const Buffer& words, uint32_t max_iterations) {
  CommandBuffer& cb = *enc.current();
  if (cb.status != CommandBuffer::Status::Recording)
    raise(ErrorCode::State, "set_loop on command buffer " + cb.display_name() +
                                " after it was committed; call reset() for a new buffer");
  if (!words.valid() || words.size() < sizeof(LoopWords))
    raise(ErrorCode::InvalidArgument, "set_loop on command buffer " + cb.display_name() +
                                          ": the loop words need " +
                                          std::to_string(sizeof(LoopWords)) + " bytes");
  if (max_iterations == 0)
    raise(ErrorCode::InvalidArgument,
          "set_loop on command buffer " + cb.display_name() + ": max_iterations is 0");
  if (words.allocation()->pool.get() != enc.device_core()->pool.get())
    raise(ErrorCode::InvalidArgument, "set_loop on command buffer " + cb.display_name() +
                                          ": the loop words belong to another device");
  cb.loop = CommandBuffer::Loop{words.device_ptr(), max_iterations};
  cb.retained.push_back(words.allocation());
}

bool poll_completion(const CommandEncoder& enc, std::chrono::nanoseconds slice) {
  CommandBuffer& cb = *enc.current();
  if (cb.status == CommandBuffer::Status::Recording)
    raise(ErrorCode::State,
          "poll_completion on command buffer " + cb.display_name() + " that was never committed");
  return cb.wait_finished(slice, /*spin=*/false);  // a poller sleeps; spinning would cost more
}

std::chrono::nanoseconds wait_deadline(const CommandEncoder& enc) {
  const CommandBuffer& cb = *enc.current();
  return cb.queue ? cb.queue->watchdog->deadline() : Watchdog::kDefaultDeadline;
}

}  // namespace stagefence
