// The fence bookkeeping of a chain of stages on one CommandEncoder: a fenced stage's buffer
// signals value N+1 of the chain's fence when it completes and the next stage's buffer waits for
// N, so the host never waits between stages. EncoderSession runs on it, and so does a chain
// that does without a session (llama's StageChain with the session gate off).
#pragma once
#include <cstdint>

#include "stagefence/command_encoder.hpp"
#include "stagefence/fence.hpp"

namespace stagefence {

class FencedStages {
 public:
  // Commits the encoder's buffer non-blocking, signalling value N+1 of `fence` at its end; then
  // N := N+1. A commit that throws leaves the buffer uncommitted and without that signal.
  void fence_and_commit(CommandEncoder& enc, Fence& fence);
  // Commits without a signal: the next stage will not wait.
  void commit(CommandEncoder& enc);
  // After a commit: a fresh buffer on the same queue, waiting for value N when the last commit
  // was fenced. Returns whether it waits; before any commit it does nothing and returns false.
  bool next(CommandEncoder& enc, const Fence& fence);

  bool drained() const { return drained_; }  // committed, next() not yet called
  bool fence_pending() const { return fence_pending_; }
  uint64_t value() const { return value_; }  // N: the last value signalled

 private:
  uint64_t value_ = 0;
  bool drained_ = false;
  bool fence_pending_ = false;
};

}  // namespace stagefence
