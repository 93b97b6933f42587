// A chain of stage command buffers on one queue, each fenced after the one before, with one
// blocking wait where the host must read a result. It drives an EncoderSession; when the session
// gate is off (STAGEFENCE_ENCODER_SESSION=0) it drives a plain CommandEncoder with a Fence
// through the session's own fence bookkeeping (FencedStages), so the dispatches, fences and
// counters are identical.
#pragma once
#include <cstdint>
#include <optional>
#include <string_view>

#include "stagefence/command_encoder.hpp"
#include "stagefence/device.hpp"
#include "stagefence/encoder_session.hpp"
#include "stagefence/fence.hpp"
#include "stagefence/fenced_stages.hpp"

namespace stagefence::model {

class StageChain {
 public:
  // Uses Device::encoder_session() when `prefer_session` and the gate allows; else the fallback.
  StageChain(Device& device, bool prefer_session);

  bool uses_session() const { return session_.has_value(); }
  // Opens the next stage's command buffer (it waits for the previous stage's fence, if any)
  // and returns its encoder.
  CommandEncoder& begin(std::string_view label);
  // Commits the stage without blocking; it signals the fence the next stage waits for.
  void fence();
  // Commits the stage without a fence (the last of the chain); wait() then blocks on it.
  void commit();
  // Blocks until the last committed stage (and so every stage before it) completed.
  void wait();

 private:
  std::optional<EncoderSession> session_;
  std::optional<CommandEncoder> encoder_;  // fallback
  std::optional<Fence> fence_;
  FencedStages stages_;  // the fallback's fence bookkeeping, EncoderSession's own
};

}  // namespace stagefence::model
