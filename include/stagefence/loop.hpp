// The device-side loop: a command buffer whose dispatches run again and again while a device
// word is non-zero (CommandEncoder::set_loop), and the host-visible channel a loop streams its
// results through while it runs (pinned mapped memory on CUDA, ordinary memory on the CPU).
#pragma once
#include <chrono>
#include <cstdint>
#include <memory>

#include "stagefence/buffer.hpp"
#include "stagefence/command_encoder.hpp"
#include "stagefence/loop_control.hpp"

namespace stagefence {

class Device;

// A ring of int32 tokens with a device-written counter, a host-written cancel word and a
// stop reason, in memory both the host and the device address while a loop runs. The ring
// holds `capacity` tokens and is never overwritten: a loop publishes at most `capacity`.
// The device writes a token, then (after a system-scope fence) the counter; the host reads the
// counter with acquire order, then the tokens below it.
class LoopChannel {
 public:
  struct Memory;  // src/core/loop_channel.cpp
  explicit LoopChannel(std::shared_ptr<Memory> memory);

  uint32_t capacity() const;
  uint64_t published() const;       // tokens written so far (acquire)
  int32_t token(uint64_t i) const;  // i < published()
  LoopStop stop_reason() const;     // set by the device when it clears the condition
  // The loop ends after the iteration that sees it (that iteration's token is still published).
  void cancel() const;
  bool cancel_requested() const;
  // Zeroes the counter, the cancel word and the stop reason; no loop may be running on it.
  void reset() const;
  // The address the device uses for the channel (the loop_control kernel's `channel` word).
  uint64_t device_address() const;

 private:
  std::shared_ptr<Memory> mem_;
};

// A channel of `capacity` tokens in memory host and device both address. Throws
// InvalidArgument for zero, DeviceLost on a lost device.
LoopChannel make_loop_channel(Device& device, uint32_t capacity);

// Makes the encoder's open buffer a loop: its dispatches run as one iteration, again while
// words.condition (a LoopWords at the start of `words`) is non-zero and fewer than
// `max_iterations` ran; the queue sets words.iterations. The buffer's fence waits happen once
// before the first iteration and its signals once after the last; a failing dispatch ends the
// loop and fails the buffer. On CUDA the iterations run under a conditional WHILE node of one
// graph (one launch). Throws InvalidArgument when `words` holds under 8 bytes or
// max_iterations is 0, State when the buffer was committed.
void set_loop(CommandEncoder& enc, const Buffer& words, uint32_t max_iterations);

// Blocks at most `slice` for the encoder's committed buffer to finish, waking as soon as it
// does (no spin: a poller expects to sleep); true once it has. Never throws the buffer's error:
// wait() does. Throws State if nothing was committed. Counts no sync.
bool poll_completion(const CommandEncoder& enc, std::chrono::nanoseconds slice);

// The limit a wait that names none gets on the encoder's queue (the device's deadline).
std::chrono::nanoseconds wait_deadline(const CommandEncoder& enc);

}  // namespace stagefence
