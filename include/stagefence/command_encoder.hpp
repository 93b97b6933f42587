// One command buffer with one persistent encoder. Dispatches are recorded with their bindings,
// ordered by the hazard tracker (or explicit barriers), and submitted at commit.
#pragma once
#include <chrono>
#include <cstdint>
#include <cstring>
#include <initializer_list>
#include <memory>
#include <optional>
#include <string>
#include <string_view>
#include <type_traits>
#include <vector>

#include "stagefence/buffer.hpp"
#include "stagefence/capture.hpp"
#include "stagefence/fence.hpp"
#include "stagefence/kernel.hpp"

namespace stagefence {

struct CommandBuffer;  // src/core
struct DeviceCore;     // src/core
struct QueueState;     // src/core

struct DispatchTime {
  KernelId kernel = 0;
  double start_us = 0;  // relative to the command buffer's GPU start
  double end_us = 0;
};

struct CommandBufferTimes {
  bool valid = false;  // false unless timestamps were on and the buffer completed
  double gpu_us = 0;   // first work to last work on the device
  double submit_to_done_us = 0;
  std::vector<DispatchTime> dispatches;  // with per-dispatch profiling only
};

// A named range of one buffer's dispatches: those from `first_dispatch` up to the next mark.
// A buffer that holds several stages (a whole decode token in one launch) keeps them visible
// in the trace and in fault messages through these.
struct StageMark {
  uint32_t first_dispatch = 0;
  std::string label;
};
using StageMarks = std::shared_ptr<const std::vector<StageMark>>;

// A params struct a kernel reads with KernelArgs::params<P>() (kernel_args.hpp).
template <typename P>
concept KernelParamBlock = std::is_class_v<P> && std::is_trivially_copyable_v<P> &&
                           sizeof(P) <= sizeof(uint64_t) * kMaxScalars;

class CommandEncoder {
 public:
  CommandEncoder(std::shared_ptr<DeviceCore> device, std::shared_ptr<QueueState> queue);
  CommandEncoder(CommandEncoder&&) noexcept;
  CommandEncoder& operator=(CommandEncoder&&) noexcept;
  CommandEncoder(const CommandEncoder&) = delete;
  CommandEncoder& operator=(const CommandEncoder&) = delete;
  // Never blocks. Committed work completes on its own; uncommitted work is discarded.
  ~CommandEncoder();

  // Records one dispatch. Bindings fill KernelArgs::ptr in order, scalars fill KernelArgs::s.
  // A binding range outside its buffer, an unknown kernel, or too many bindings/scalars throws
  // InvalidArgument/OutOfRange and records nothing.
  void dispatch(KernelId kernel, std::initializer_list<Binding> bindings,
                std::initializer_list<Scalar> scalars = {},
                std::optional<Launch> launch = std::nullopt);
  void dispatch(std::string_view kernel, std::initializer_list<Binding> bindings,
                std::initializer_list<Scalar> scalars = {},
                std::optional<Launch> launch = std::nullopt);
  void dispatch(KernelId kernel, const Binding* bindings, size_t num_bindings,
                const Scalar* scalars, size_t num_scalars, const std::optional<Launch>& launch);
  // Records one dispatch whose scalar words are the bytes of `params`, which the kernel reads
  // back with KernelArgs::params<P>(); the kernel's registered check sees them before anything
  // is recorded. Same error contract as above.
  template <KernelParamBlock P>
  void dispatch(KernelId kernel, std::initializer_list<Binding> bindings,
                const std::optional<Launch>& launch, const P& params) {
    dispatch(kernel, bindings.begin(), bindings.size(), launch, params);
  }
  template <KernelParamBlock P>
  void dispatch(KernelId kernel, const Binding* bindings, size_t num_bindings,
                const std::optional<Launch>& launch, const P& params) {
    uint64_t raw[kParamWords<P>] = {};
    std::memcpy(raw, &params, sizeof params);
    Scalar words[kParamWords<P>];
    for (uint32_t i = 0; i < kParamWords<P>; ++i) words[i].word = raw[i];
    dispatch(kernel, bindings, num_bindings, words, kParamWords<P>, launch);
  }

  // Every later dispatch in this buffer waits for every earlier one. A barrier with nothing
  // before it orders nothing and is not counted.
  void barrier();

  void set_label(std::string_view label);
  const std::string& label() const;
  // Names the stages of this buffer (shared, so a per-token buffer copies nothing). Marks must
  // start in increasing order; a mark past the buffer's dispatches at commit throws
  // InvalidArgument naming it.
  void set_stage_marks(StageMarks marks);

  // The buffer waits for `fence` to reach `value` before its first dispatch runs.
  void wait_for(const Fence& fence, uint64_t value);
  // The buffer signals `value` on `fence` after its last dispatch completes.
  void signal(const Fence& fence, uint64_t value);

  void commit();  // submit without blocking; a second commit is a no-op
  // Submit (if not yet) and block until done. Throws the buffer's error (KernelFault naming the
  // label, FencePoisoned, DeviceLost, ...) or Timeout naming the label, the queue and the
  // buffer's fences; a buffer whose work had started on the device by then cannot be stopped,
  // so the device is marked unusable (later submissions throw DeviceLost with that reason).
  void commit_and_wait(WaitTimeout timeout = std::nullopt);
  // Block on the committed buffer; same error contract. Throws State if nothing was committed.
  void wait(WaitTimeout timeout = std::nullopt);

  bool is_committed() const;
  bool is_completed() const;
  bool has_dispatches() const;
  uint64_t dispatch_count() const;
  uint64_t dependency_count() const;

  // Opens a fresh command buffer on the same queue (+1 command buffer). An uncommitted previous
  // buffer is discarded.
  void reset();

  // While capturing, dispatches and barriers go into a CaptureGraph instead of the buffer.
  void begin_capture();
  CaptureGraph end_capture();
  bool is_capturing() const;
  // Records every node of `graph` into this buffer, as re-recording each dispatch and barrier
  // would. Into an empty buffer it appends the graph's compiled form (built on first replay per
  // device and recording flags) in one step.
  void replay(const CaptureGraph& graph);

  // Per-command-buffer GPU times (and per dispatch with STAGEFENCE_PROFILE_DISPATCHES=1).
  void enable_timestamps(bool on = true);
  CommandBufferTimes times() const;

  const std::shared_ptr<CommandBuffer>& current() const { return cb_; }
  const std::shared_ptr<DeviceCore>& device_core() const { return dev_; }

 private:
  void open_buffer();
  void ensure_not_finished(const char* what) const;
  // Replay of a compiled form into the empty buffer; false when the nodes must be re-recorded.
  bool replay_in_bulk(const CaptureGraph& graph);

  std::shared_ptr<DeviceCore> dev_;
  std::shared_ptr<QueueState> queue_;
  std::shared_ptr<CommandBuffer> cb_;
  struct State;  // hazard tracker, capture, per-buffer flags
  std::unique_ptr<State> st_;
};

}  // namespace stagefence
