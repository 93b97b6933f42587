// What a model architecture gives the stage plan and the generator: the recording of each
// stage's dispatches and the device buffers of one sequence's tokens. LlamaForward implements it
// for the Llama family (Llama, Mistral, Qwen2/3, Gemma 3); the generator and its submission
// modes see only this.
#pragma once
#include <cstdint>
#include <span>

#include "kernels/ops.hpp"
#include "model/staged/stage_plan.hpp"
#include "stagefence/buffer.hpp"
#include "stagefence/command_encoder.hpp"

namespace stagefence::model {

// The tokens one pass through the stages processes.
struct Pass {
  Buffer ids;        // int32 [tokens]
  Buffer positions;  // int32 [tokens]
  int tokens = 1;
  bool decode = false;  // the one-token pass fed by the device's token buffer
};

class StagedForward {
 public:
  virtual ~StagedForward() = default;

  virtual int layers() const = 0;         // what the stage plan splits
  virtual int capacity() const = 0;       // KV cache positions
  virtual int prefill_chunk() const = 0;  // prompt tokens per prefill pass

  // Host setup of a new sequence (no device work in flight): the prompt's ids and positions,
  // the decode position and the sampler {seed, 0}; cache positions [0, cached) are kept.
  virtual void start_sequence(std::span<const int32_t> prompt, int max_new_tokens, uint64_t seed,
                              int cached) = 0;
  virtual Pass prefill_pass(int first, int count) const = 0;  // prompt tokens [first, +count)
  virtual Pass decode_pass() const = 0;
  // Records the dispatches of `stage` for `pass`; the head samples into token() and advances
  // position and step, so every decode pass records the same dispatches.
  virtual void record_stage(CommandEncoder& enc, const Stage& stage, const Pass& pass,
                            const kernels::ops::SamplerParams& sampler) const = 0;

  virtual const Buffer& logits() const = 0;        // f32 [vocab], written by the head
  virtual const Buffer& token() const = 0;         // int32 [1], the last sampled id
  virtual const Buffer& token_status() const = 0;  // int32 [2]: the token and a finite flag
  virtual const Buffer& history() const = 0;       // int32 [capacity]: the id of each step
  // The last sampled id; throws Format when the head's finite check fired.
  virtual int32_t read_token() const = 0;
};

}  // namespace stagefence::model
