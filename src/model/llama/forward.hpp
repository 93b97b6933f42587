// The staged forward pass: the device buffers of one sequence (activations, KV cache, the
// per-token scalars) and the recording of each stage's dispatches. Decode passes read the token
// id and its position from device buffers that the head advances, so every decode step records
// the same dispatches with the same arguments.
#pragma once
#include <cstdint>
#include <optional>
#include <span>
#include <string>

#include "kernels/decode_ops.hpp"
#include "kernels/ops.hpp"
#include "model/llama/kv_cache.hpp"
#include "model/llama/model.hpp"
#include "model/staged/staged_forward.hpp"
#include "stagefence/command_encoder.hpp"
#include "stagefence/communicator.hpp"
#include "stagefence/device.hpp"

namespace stagefence::llama {

struct ForwardOptions {
  int context = 0;           // KV cache capacity; 0: min(context_length, 2048)
  int prefill_chunk = 32;    // prompt tokens per prefill pass
  int attention_splits = 0;  // decode key splits; 0: from the capacity and the device
  // Decode passes use the fused kernels (kernels/decode_ops.hpp: the RMSNorm folded into the
  // projections, RoPE and the KV-cache write in the QKV epilogue, SwiGLU in the gate/up
  // epilogue, one-launch attention) wherever a layer's weights allow; false keeps every decode
  // step on the unfused kernels.
  bool fused_decode = true;
  // Block-quantised decode products take 8-bit activations (true) or f32 ones (false); unset:
  // STAGEFENCE_ACTIVATIONS (default q8).
  std::optional<bool> q8_activations;
};

using model::Pass;
using model::Stage;
using model::StageKind;
using model::StagePlan;

class LlamaForward final : public model::StagedForward {
 public:
  // Allocates everything a sequence needs; the model must outlive this object. A model shard
  // (tensor parallelism) needs the communicator of its rank, which must also outlive this
  // object: each layer's attention and FFN outputs are all-reduced, the logits all-gathered.
  LlamaForward(Device& device, const LlamaModel& model, ForwardOptions options = {},
               const Communicator* comm = nullptr);

  const LlamaModel& model() const { return *model_; }
  const ShardShape& shard() const { return shard_; }  // this rank's heads, FFN columns, vocab
  int layers() const override { return model_->config.layers; }
  int capacity() const override { return cache_.capacity; }
  const KvCache& kv_cache() const { return cache_; }  // per layer K and V, f16
  int prefill_chunk() const override { return chunk_; }
  int decode_splits() const { return decode_splits_; }
  // Whether decode passes record the fused kernels (ForwardOptions::fused_decode and the weight
  // types), and which attention kernel they use.
  bool fused_decode() const { return fused_; }

  // Host setup of a new sequence (no device work may be in flight): uploads the prompt's ids
  // and positions, sets the decode position to the prompt's last and the sampler to {seed, 0}.
  // Cache positions [0, cached) keep the K/V of the previous sequence (the caller vouches that
  // they hold this prompt's first tokens), so prefill starts at `cached`. Throws InvalidArgument
  // when the prompt is empty, prompt + new tokens exceed the capacity, or cached is outside
  // [0, prompt size).
  void start_sequence(std::span<const int32_t> prompt, int max_new_tokens, uint64_t seed,
                      int cached = 0) override;

  // The prompt tokens [first, first + count) as a prefill pass; count <= prefill_chunk().
  Pass prefill_pass(int first, int count) const override;
  Pass decode_pass() const override;

  // Records the dispatches of `stage` for `pass`. The head normalises the pass's last row,
  // projects it to logits, samples into the token buffer and advances position and step.
  void record_stage(CommandEncoder& enc, const Stage& stage, const Pass& pass,
                    const kernels::ops::SamplerParams& sampler) const override;

  const Buffer& logits() const override { return logits_; }  // f32 [vocab], written by head
  const Buffer& token() const override { return token_; }    // int32 [1], the last sampled id
  // int32 [2]: the last sampled id and the head's finite flag (ops::kAllFinite when clean).
  const Buffer& token_status() const override { return token_status_; }
  // The last sampled id, read with the head's finite check: throws Format naming the first
  // stage whose output held NaN or Inf (every stage with STAGEFENCE_CHECK_FINITE=1, else the
  // logits) instead of returning a token sampled from them.
  int32_t read_token() const override;
  const Buffer& history() const override { return history_; }  // int32 [capacity], id of each step
  const Buffer& position() const { return position_; }         // int32 [1], the decode position
  const Buffer& sampler_state() const { return state_; }       // u64 {seed, step}
  // Device bytes of activations, scalars and KV cache.
  uint64_t state_bytes() const;

 private:
  void record_attention(CommandEncoder& enc, int layer, const Pass& pass) const;
  // Whether weights of type t may use the fused decode kernels (float types always; block types
  // when activations are quantised to 8 bits, the default).
  bool fusable(DType t) const;
  void record_ffn(CommandEncoder& enc, int layer, const Pass& pass) const;
  // With STAGEFENCE_CHECK_FINITE=1: flags `out` (n f32) or the residual stream x_ if it is not
  // finite; `code` says which stage (stage_of_check names it).
  void check_stage_output(CommandEncoder& enc, const Buffer& out, uint64_t n, uint32_t code) const;
  void check_residual(CommandEncoder& enc, const Pass& pass, uint32_t code) const;
  std::string stage_of_check(uint32_t code) const;
  void record_head(CommandEncoder& enc, const Pass& pass,
                   const kernels::ops::SamplerParams& sampler) const;
  // y = W · x (+ bias) (+ y). `norm`: x is normalised on the way in, where the product takes
  // mv (takes_mv); a caller passes it only when it does.
  void project(CommandEncoder& enc, const Weight& w, const Buffer& x, const Buffer& y,
               const Pass& pass, const Weight* bias, bool accumulate,
               const kernels::ops::FoldedNorm* norm = nullptr) const;
  bool takes_mv(const Weight& w, const Pass& pass) const;
  // x += post_norm(W · in): one accumulating projection when there is no post-norm, or the
  // product (across ranks a partial product and its all-reduce), its norm, and the residual
  // add. A rank without columns (in_cols == 0) contributes zeros.
  void project_residual(CommandEncoder& enc, const Weight& w, const Buffer& in, int in_cols,
                        const Pass& pass, const Weight& post_norm) const;
  // The layer's RoPE (its base and scale) and attention (its window).
  kernels::ops::RopeParams layer_rope(int layer) const;
  kernels::ops::AttentionParams layer_attention(int layer) const;

  const LlamaModel* model_;
  const Communicator* comm_;
  ShardShape shard_;
  int chunk_;
  int decode_splits_;
  bool fused_ = true;
  bool q8_activations_ = true;
  bool check_every_stage_ = false;  // STAGEFENCE_CHECK_FINITE
  bool attention_decode_ = false;   // the one-launch decode attention (head size allows it)
  KvCache cache_;
  Buffer x_, xn_, q_, k_, v_, attn_, gate_, up_, partial_;
  Buffer partial_sum_, logits_shard_;  // tensor parallel only
  Buffer attn_scratch_;                // attn.decode's partials and counters
  Buffer matmul_scratch_;              // CUDA float-weight prefill: cuBLAS workspace, X split
  Buffer logits_, token_, history_, position_, state_;
  Buffer token_status_, finite_flag_;  // {token, finite flag}: token_ and the flag are its views
  Buffer prompt_ids_, prompt_positions_;
  kernels::ops::RopeParams rope_;
  kernels::ops::AttentionParams attention_;
};

}  // namespace stagefence::llama
