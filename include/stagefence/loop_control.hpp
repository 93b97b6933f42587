// What a device-side loop and its loop_control kernel share with the host: the loop words, the
// channel's layout and the control kernel's parameters. This header compiles under nvcc.
#pragma once
#include <cstdint>

#include "stagefence/kernel_args.hpp"  // SF_HD

namespace stagefence {

// The two device words a loop buffer runs under (a Buffer view of at least 8 bytes):
// `condition` is read before every iteration (the buffer's dispatches clear it to stop) and
// `iterations` is written by the queue (0 at the start, +1 after each iteration).
struct LoopWords {
  uint32_t condition = 1;
  uint32_t iterations = 0;
};

// Why a loop_control kernel cleared the condition (LoopChannel::stop_reason).
enum class LoopStop : uint32_t {
  Running = 0,
  Count = 1,      // the requested number of tokens was published
  StopToken = 2,  // the token was one of the stop ids
  Cancelled = 3,  // the host set the cancel word
  NonFinite = 4,  // the head's finite check fired; the token was not published
  Full = 5,       // the ring has no room for another token
};

// Byte offsets in a channel's memory (the host and the loop_control kernels share them); each
// word has its own 64-byte line so host and device writes never share one.
namespace loop_layout {
inline constexpr uint64_t kCount = 0;    // uint64: tokens published
inline constexpr uint64_t kCancel = 64;  // uint32: non-zero once the host cancelled
inline constexpr uint64_t kStop = 128;   // uint32: LoopStop
inline constexpr uint64_t kRing = 192;   // int32 [capacity]
}  // namespace loop_layout

// The parameters of the builtin loop_control kernel (bindings: b0 the head's {token, finite
// flag} int32 pair, read; b1 the LoopWords, read-write). Run at the end of every iteration, it
// publishes the token to the channel and clears the condition after `max_tokens` tokens, at a
// stop id, when the host cancelled, when the flag is not `finite_ok` or when the ring is full.
struct LoopControlParams {
  static constexpr uint32_t kMaxStopIds = 24;
  uint64_t channel = 0;  // LoopChannel::device_address()
  uint32_t max_tokens = 0;
  uint32_t finite_ok = 0;
  uint32_t stop_count = 0;
  uint32_t capacity = 0;  // LoopChannel::capacity()
  int32_t stop_ids[kMaxStopIds] = {};
};

// One iteration's stop decision, the same on every backend: publishes `token` unless the head's
// `flag` is not finite_ok or the ring is full, then stops at a stop id, at max_tokens, on a
// cancel or when the ring fills. `Channel` gives the backend's memory accesses and ordering:
// published() (the counter; the kernel is its only writer), publish(n, token) (ring[n], then
// the counter n + 1, visible in that order), cancelled() and finish(reason) (the reason, then
// the condition cleared).
template <class Channel>
SF_HD void loop_control_step(const LoopControlParams& p, int32_t token, uint32_t flag,
                             Channel& channel) {
  uint64_t n = channel.published();
  LoopStop reason = LoopStop::Running;
  if (flag != p.finite_ok) {
    reason = LoopStop::NonFinite;
  } else if (n >= p.capacity) {
    reason = LoopStop::Full;
  } else {
    channel.publish(n++, token);
    for (uint32_t i = 0; i < p.stop_count && i < LoopControlParams::kMaxStopIds; ++i)
      if (token == p.stop_ids[i]) reason = LoopStop::StopToken;
    if (reason == LoopStop::Running) {
      if (n >= p.max_tokens)
        reason = LoopStop::Count;
      else if (channel.cancelled())
        reason = LoopStop::Cancelled;
      else if (n >= p.capacity)
        reason = LoopStop::Full;
    }
  }
  if (reason != LoopStop::Running) channel.finish(reason);
}

}  // namespace stagefence
