// A chain of stages on one queue over one CommandEncoder, ordered by a per-session monotonic
// fence so the host never waits except where it must read a result.
#pragma once
#include <cstdint>
#include <memory>
#include <optional>
#include <string>
#include <string_view>

#include "stagefence/command_encoder.hpp"
#include "stagefence/fence.hpp"
#include "stagefence/fenced_stages.hpp"

namespace stagefence {

enum class SessionState { Empty, Encoding, Drained, Fenced };
const char* session_state_name(SessionState s);

class EncoderSession {
 public:
  EncoderSession(CommandEncoder encoder, std::shared_ptr<DeviceCore> device);
  EncoderSession(EncoderSession&&) noexcept = default;
  EncoderSession& operator=(EncoderSession&&) noexcept = default;
  // Never blocks; committed stages complete safely on their own.
  ~EncoderSession() = default;

  // Dispatches go through the inner encoder; the first one moves Empty to Encoding.
  CommandEncoder& encoder();
  void dispatch(KernelId kernel, std::initializer_list<Binding> bindings,
                std::initializer_list<Scalar> scalars = {},
                std::optional<Launch> launch = std::nullopt);
  void dispatch(std::string_view kernel, std::initializer_list<Binding> bindings,
                std::initializer_list<Scalar> scalars = {},
                std::optional<Launch> launch = std::nullopt);
  void barrier();

  void begin_stage(std::string_view label);                  // stores the label only
  void commit_stage();                                       // non-blocking, no fence; Drained
  void commit_and_wait(WaitTimeout timeout = std::nullopt);  // Drained
  // Signal fence value N+1 at the end of this buffer and commit it non-blocking; N := N+1.
  void fence_stage(std::optional<std::string_view> label = std::nullopt);
  // From Drained/Fenced: a new buffer on the same queue, waiting for value N if fenced.
  // From Empty/Encoding: no-op.
  void reset_for_next_stage();
  // Blocks on the most recently committed buffer (e.g. the last fenced stage).
  void wait(WaitTimeout timeout = std::nullopt);

  bool add_to_residency_set(const Buffer& buffer) const;
  bool remove_from_residency_set(const Buffer& buffer) const;

  SessionState state() const;
  bool is_drained() const { return stages_.drained(); }
  bool is_fence_pending() const { return stages_.fence_pending(); }
  uint64_t fence_value() const { return stages_.value(); }
  bool has_event() const { return fence_.valid(); }
  uint64_t wait_count() const { return wait_count_; }
  uint64_t wait_value() const { return wait_value_; }
  const std::string& label() const { return label_; }
  const Fence& fence() const { return fence_; }

 private:
  void apply_label();

  CommandEncoder enc_;
  std::shared_ptr<DeviceCore> dev_;
  Fence fence_;  // made at the first fenced stage
  FencedStages stages_;
  uint64_t wait_count_ = 0;
  uint64_t wait_value_ = 0;
  std::string label_;
};

}  // namespace stagefence
