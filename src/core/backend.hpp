// The seam between the backend-neutral core and a backend (CPU, CUDA). Adding a backend means
// implementing these interfaces, registering kernel implementations in its slot and registering
// its factory (core/backend_registry.hpp); no core file changes.
#pragma once
#include <cstdint>
#include <memory>
#include <optional>
#include <string>

#include "stagefence/device.hpp"
#include "stagefence/kernel.hpp"

namespace stagefence {

struct CommandBuffer;
struct FenceState;
struct ResidencyState;

// Runs committed command buffers of one queue in FIFO order and reports each completion
// through complete_command_buffer().
class QueueImpl {
 public:
  virtual ~QueueImpl() = default;
  virtual void submit(std::shared_ptr<CommandBuffer> cb) = 0;  // never blocks on GPU work
  virtual void drain() = 0;  // blocks until everything submitted so far has completed
  // The queue is going away: buffers still held on a fence wait end now, with an error.
  virtual void cancel_waits() = 0;
};

// Backend-specific part of a fence (for CUDA: a device timeline word or an event).
class BackendFence {
 public:
  virtual ~BackendFence() = default;
  // The host learned that `value` is signalled (host signal or a producer's completion):
  // release device-side waiters of values <= value.
  virtual void host_signal(uint64_t value) = 0;
  // The producer of `value` failed: release device-side waiters so nothing hangs (they are
  // reported as failed through the host-side poison).
  virtual void poisoned(uint64_t value) = 0;
};

class Backend {
 public:
  virtual ~Backend() = default;
  virtual BackendKind kind() const = 0;
  virtual DeviceInfo& info() = 0;

  virtual void* allocate(uint64_t bytes) = 0;  // throws Error on failure
  virtual void release(void* ptr) noexcept = 0;
  virtual void zero(void* ptr, uint64_t bytes) = 0;  // synchronous
  virtual bool host_visible() const = 0;
  virtual void copy_in(void* dst, const void* src, uint64_t bytes) = 0;   // host -> device
  virtual void copy_out(void* dst, const void* src, uint64_t bytes) = 0;  // device -> host
  // Zeroed memory the host and the device both address while kernels run (a loop's channel):
  // returns the host address and sets *device_address. Throws Error on failure.
  virtual void* allocate_mapped(uint64_t bytes, uint64_t* device_address) = 0;
  virtual void release_mapped(void* host) noexcept = 0;

  virtual std::unique_ptr<QueueImpl> create_queue(const std::string& name) = 0;
  virtual std::unique_ptr<BackendFence> create_fence(FenceState&) { return nullptr; }
  // Called with the residency state's lock held after a flush applied changes.
  virtual void apply_residency(const ResidencyState&) {}

  // The implementation of `def` this backend runs, or nullptr when it has none (then a dispatch
  // of it is refused when recorded).
  virtual const KernelImpl* implementation(const KernelDef& def) const {
    const KernelImpl& impl = def.on(kind());
    return impl.present() ? &impl : nullptr;
  }
  // The launch of one dispatch: the one it gave, else the implementation's rule, else one block.
  // A backend that cannot run these arguments throws (Unsupported, naming the kernel and why).
  virtual Launch resolve_launch(const KernelDef& def, const KernelImpl& impl,
                                const KernelArgs& args, const std::optional<Launch>& given) const {
    (void)def;
    if (given) return *given;
    return impl.launch ? impl.launch(args) : Launch{};
  }

  virtual bool lost() const { return false; }
  virtual std::string lost_reason() const { return {}; }
};

std::shared_ptr<Backend> make_cpu_backend();
#ifdef STAGEFENCE_WITH_CUDA
// Returns nullptr and sets `why_not` when no usable GPU or driver is present.
std::shared_ptr<Backend> make_cuda_backend(int ordinal, std::string* why_not);
#endif

}  // namespace stagefence
