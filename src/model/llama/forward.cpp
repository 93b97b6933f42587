#include "model/llama/forward.hpp"

#include <algorithm>
#include <cmath>
#include <cstdint>
#include <cstdlib>
#include <cstring>
#include <numeric>
#include <string>
#include <vector>

#include "kernels/decode_ops.hpp"
#include "kernels/finite_check.hpp"
#include "kernels/kernel_spec.hpp"
#include "stagefence/env.hpp"
#include "stagefence/error.hpp"

namespace stagefence::llama {

namespace ops = kernels::ops;

namespace {

constexpr uint64_t kF32 = 4, kI32 = 4;
constexpr int kDefaultContext = 2048;

Buffer alloc_f32(Device& device, int64_t rows, int64_t cols) {
  return device.alloc(DType::F32, {rows, cols});
}

// Key splits of the one-launch decode attention: one per 128 positions of the cache, at most
// one wave of blocks over the kv heads (an H200 measured best at 8 splits for a 1024-position
// cache and 16 for 8192, Llama-3-8B's 8 kv heads).
// About 64 keys per split (the decode kernel's tile), at most two blocks per SM over the KV heads.
int decode_attention_splits(const Device& device, int kv_heads, int capacity) {
  const int sms = device.info().multiprocessors > 0 ? device.info().multiprocessors : 32;
  return std::clamp(capacity / 64, 1, std::max(1, 2 * sms / kv_heads));
}

}  // namespace

LlamaForward::LlamaForward(Device& device, const LlamaModel& model, ForwardOptions options,
                           const Communicator* comm)
    : model_(&model), comm_(comm), shard_(model.shard) {
  const LlamaConfig& c = model.config;
  c.validate();
  // The stages order their dispatches through the hazard tracker (no explicit barriers).
  if (!env::hazard_tracking())
    raise(ErrorCode::InvalidArgument,
          "STAGEFENCE_AUTO_BARRIER = '" + env::read_string("STAGEFENCE_AUTO_BARRIER", "") +
              "' turns hazard tracking off, and the forward pass relies on it to order its "
              "dispatches: unset STAGEFENCE_AUTO_BARRIER or set it to 1");
  if (shard_.tp.ranks < 1 || shard_.heads < 1)
    raise(ErrorCode::InvalidArgument,
          "the model has no shard shape (make it with load_model, "
          "load_model_shard, random_model or hashed_model)");
  if (shard_.split()) {
    if (!comm || comm->size() != shard_.tp.ranks || comm->rank() != shard_.tp.rank)
      raise(ErrorCode::InvalidArgument, "model shard " + std::to_string(shard_.tp.rank) + " of " +
                                            std::to_string(shard_.tp.ranks) +
                                            " needs the communicator of that rank" +
                                            (comm ? " (got rank " + std::to_string(comm->rank()) +
                                                        " of " + std::to_string(comm->size()) + ")"
                                                  : ""));
  } else if (comm && comm->size() > 1) {
    raise(ErrorCode::InvalidArgument,
          "a whole model cannot join a communicator of " + std::to_string(comm->size()) + " ranks");
  }
  // The rank's own shape: its heads, K/V heads and FFN columns.
  LlamaConfig local = c;
  local.heads = shard_.heads;
  local.kv_heads = shard_.kv_heads;
  local.ffn_dim = shard_.ffn;
  // Positions past the model's context length are outside what it was trained on (and RoPE
  // scaling is not implemented), so a longer cache is refused rather than allowed.
  if (options.context > c.context_length)
    raise(ErrorCode::InvalidArgument, "context = " + std::to_string(options.context) +
                                          " (--context) exceeds the model's " +
                                          "context length of " + std::to_string(c.context_length) +
                                          " (" + c.architecture + ".context_length)");
  const int capacity =
      options.context > 0 ? options.context : std::min(c.context_length, kDefaultContext);
  if (options.prefill_chunk < 1)
    raise(ErrorCode::InvalidArgument,
          "prefill_chunk = " + std::to_string(options.prefill_chunk) + " must be at least 1");
  chunk_ = std::min(options.prefill_chunk, capacity);
  fused_ = options.fused_decode;
  q8_activations_ = options.q8_activations.value_or(env::quantised_activations());
  attention_decode_ = fused_ && kernels::ops::attention_decode_supports(c.head_dim) &&
                      local.heads % local.kv_heads == 0 && local.heads / local.kv_heads <= 8;
  if (options.attention_splits > 0)
    decode_splits_ = options.attention_splits;
  else if (attention_decode_)
    decode_splits_ = decode_attention_splits(device, local.kv_heads, capacity);
  else
    decode_splits_ = std::clamp(capacity / 128, 1, 16);
  cache_ = KvCache::allocate(device, local, capacity);

  x_ = alloc_f32(device, chunk_, c.dim);
  xn_ = alloc_f32(device, chunk_, c.dim);
  q_ = alloc_f32(device, chunk_, local.q_dim());
  k_ = alloc_f32(device, chunk_, local.kv_dim());
  v_ = alloc_f32(device, chunk_, local.kv_dim());
  attn_ = alloc_f32(device, chunk_, local.q_dim());
  gate_ = alloc_f32(device, chunk_, std::max(local.ffn_dim, 1));
  up_ = alloc_f32(device, chunk_, std::max(local.ffn_dim, 1));
  // Prefill attends with one split per query; decode with decode_splits_ for one query.
  partial_ = device.alloc(
      std::max(ops::attention_partial_bytes(chunk_, local.heads, c.head_dim, 1),
               ops::attention_partial_bytes(1, local.heads, c.head_dim, decode_splits_)));
  if (shard_.split()) {
    partial_sum_ = alloc_f32(device, chunk_, c.dim);
    logits_shard_ = device.alloc(DType::F32, {shard_.vocab});
  }
  logits_ = device.alloc(DType::F32, {c.vocab});
  // The token and the finite flag share one allocation, so one read returns both.
  token_status_ = device.alloc(DType::I32, {2});
  token_ = token_status_.view(0, kI32);
  finite_flag_ = token_status_.view(kI32, kI32);
  check_every_stage_ = env::check_finite();
  history_ = device.alloc(DType::I32, {capacity});
  position_ = device.alloc(DType::I32, {1});
  state_ = device.alloc(DType::U8, {16});
  prompt_ids_ = device.alloc(DType::I32, {capacity});
  prompt_positions_ = device.alloc(DType::I32, {capacity});

  rope_ = {c.head_dim, c.rope_dim, c.rope_theta, c.rope_mode, 1.0f};
  attention_.heads = local.heads;
  attention_.kv_heads = local.kv_heads;
  attention_.head_dim = c.head_dim;
  attention_.cap = capacity;
  attention_.scale = c.query_scale();
  if (attention_decode_)
    attn_scratch_ = device.alloc(ops::attention_decode_scratch_bytes(attention_, decode_splits_));
  // cuBLAS prefill products get their workspace as a bound buffer (ordered by the hazard
  // tracker) instead of sharing one per thread across concurrent graph nodes.
  // Only float weights take the cuBLAS path (project() binds the scratch for them alone).
  const auto float_products = [&] {
    for (const LayerWeights& l : model.weights.layers)
      for (const Weight* w : {&l.wq, &l.wk, &l.wv, &l.wo, &l.w_gate, &l.w_up, &l.w_down})
        if (w->present() && dtype_info(w->dtype)->block_elems == 1) return true;
    return false;
  };
  if (device.info().backend == BackendKind::Cuda && chunk_ > 1 && float_products())
    matmul_scratch_ = device.alloc(
        kernels::matmul_scratch_bytes(chunk_, std::max({c.dim, local.q_dim(), local.ffn_dim})));
}

ops::RopeParams LlamaForward::layer_rope(int layer) const {
  const LlamaConfig::LayerAttention a = model_->config.layer_attention(layer);
  ops::RopeParams r = rope_;
  r.theta_base = a.rope_theta;
  r.freq_scale = a.rope_freq_scale;
  return r;
}

ops::AttentionParams LlamaForward::layer_attention(int layer) const {
  ops::AttentionParams p = attention_;
  p.window = model_->config.layer_attention(layer).window;
  return p;
}

bool LlamaForward::fusable(DType t) const {
  return fused_ && (q8_activations_ || dtype_info(t)->block_elems == 1);
}

void LlamaForward::start_sequence(std::span<const int32_t> prompt, int max_new_tokens,
                                  uint64_t seed, int cached) {
  if (prompt.empty()) raise(ErrorCode::InvalidArgument, "the prompt needs at least one token");
  if (cached < 0 || size_t(cached) >= prompt.size())
    raise(ErrorCode::InvalidArgument,
          "cached prefix of " + std::to_string(cached) + " tokens: a prompt of " +
              std::to_string(prompt.size()) + " tokens can reuse 0 to " +
              std::to_string(prompt.size() - 1) + " (its last token is always prefilled)");
  if (max_new_tokens < 1) raise(ErrorCode::InvalidArgument, "max_new_tokens must be at least 1");
  const int vocab = model_->config.vocab;
  for (int32_t id : prompt)
    if (id < 0 || id >= vocab)
      raise(ErrorCode::InvalidArgument, "prompt token " + std::to_string(id) +
                                            " is outside the vocabulary of " +
                                            std::to_string(vocab));
  // The last generated token is sampled but never fed back, so it needs no cache slot.
  const int64_t needed = int64_t(prompt.size()) + max_new_tokens - 1;
  if (needed > cache_.capacity)
    raise(ErrorCode::InvalidArgument,
          "prompt (" + std::to_string(prompt.size()) + ") + new tokens (" +
              std::to_string(max_new_tokens) + ") need " + std::to_string(needed) +
              " cache positions; the context holds " + std::to_string(cache_.capacity));
  std::vector<int32_t> positions(prompt.size());
  std::iota(positions.begin(), positions.end(), 0);
  prompt_ids_.upload(prompt.data(), prompt.size() * kI32);
  prompt_positions_.upload(positions);
  // The prompt's head advances the position to the first generated token's.
  const int32_t last = int32_t(prompt.size()) - 1;
  position_.upload(&last, kI32);
  const uint64_t state[2] = {seed, 0};
  state_.upload(state, sizeof state);
  finite_flag_.upload(&kernels::ops::kAllFinite, sizeof kernels::ops::kAllFinite);
}

int32_t LlamaForward::read_token() const {
  int32_t status[2] = {-1, 0};
  token_status_.download(status, sizeof status);
  uint32_t flag = 0;
  std::memcpy(&flag, &status[1], sizeof flag);
  if (flag != kernels::ops::kAllFinite)
    raise(ErrorCode::Format,
          "non-finite values (NaN or Inf) first appeared in the output of stage " +
              stage_of_check(flag) +
              (check_every_stage_ ? ""
                                  : " (only the logits are checked; STAGEFENCE_CHECK_FINITE=1 "
                                    "checks every stage's output)") +
              ": the model's weights or metadata hold non-finite or extreme values");
  return status[0];
}

// Check codes in stage order: embed 0, layer L's attention 1 + 2L and FFN 2 + 2L, head last.
namespace {
constexpr uint32_t kEmbedCheck = 0;
uint32_t attention_check(int layer) {
  return 1 + 2 * uint32_t(layer);
}
uint32_t ffn_check(int layer) {
  return 2 + 2 * uint32_t(layer);
}
uint32_t head_check(const LlamaConfig& c) {
  return 2 * uint32_t(c.layers) + 1;
}
}  // namespace

std::string LlamaForward::stage_of_check(uint32_t code) const {
  if (code == kEmbedCheck) return "embed";
  if (code >= head_check(model_->config)) return "head (the logits)";
  const uint32_t layer = (code - 1) / 2;
  return "layer." + std::to_string(layer) + ((code - 1) % 2 == 0 ? ".attn" : ".ffn");
}

void LlamaForward::check_stage_output(CommandEncoder& enc, const Buffer& out, uint64_t n,
                                      uint32_t code) const {
  if (check_every_stage_) kernels::ops::finite_check(enc, out, n, finite_flag_, code);
}

void LlamaForward::check_residual(CommandEncoder& enc, const Pass& pass, uint32_t code) const {
  check_stage_output(enc, x_, uint64_t(pass.tokens) * uint64_t(model_->config.dim), code);
}

Pass LlamaForward::prefill_pass(int first, int count) const {
  if (count < 1 || count > chunk_ || first < 0 || first + count > cache_.capacity)
    raise(ErrorCode::OutOfRange, "prefill pass [" + std::to_string(first) + ", " +
                                     std::to_string(first + count) + ") with chunk " +
                                     std::to_string(chunk_));
  return {prompt_ids_.view(uint64_t(first) * kI32, uint64_t(count) * kI32),
          prompt_positions_.view(uint64_t(first) * kI32, uint64_t(count) * kI32), count, false};
}

Pass LlamaForward::decode_pass() const {
  return {token_, position_, 1, true};
}

bool LlamaForward::takes_mv(const Weight& w, const Pass& pass) const {
  // Block-quantised decode products take 8-bit activations (mv); float weights stream faster
  // through matvec when no norm is folded in (H200: 86% of copy bandwidth against mv's 67% on
  // 14336x4096 bf16).
  return pass.decode && dtype_info(w.dtype)->block_elems > 1 && fusable(w.dtype) &&
         ops::decode_row_supported(w.dtype, w.cols);
}

void LlamaForward::project(CommandEncoder& enc, const Weight& w, const Buffer& x, const Buffer& y,
                           const Pass& pass, const Weight* bias, bool accumulate,
                           const ops::FoldedNorm* norm) const {
  const Buffer* b = bias && bias->present() ? &bias->buffer : nullptr;
  if (takes_mv(w, pass))
    ops::mv(enc, w.buffer, w.dtype, w.rows, w.cols, x, y, b, accumulate, norm);
  else if (pass.tokens == 1)
    ops::matvec(enc, w.buffer, w.dtype, w.rows, w.cols, x, y, b, accumulate);
  else
    ops::matmul(enc, w.buffer, w.dtype, w.rows, w.cols, x, y, pass.tokens, b, accumulate,
                dtype_info(w.dtype)->block_elems == 1 && matmul_scratch_.valid() ? &matmul_scratch_
                                                                                 : nullptr);
}

void LlamaForward::project_residual(CommandEncoder& enc, const Weight& w, const Buffer& in,
                                    int in_cols, const Pass& pass, const Weight& post_norm) const {
  const LlamaConfig& c = model_->config;
  if (!shard_.split() && !post_norm.present()) {
    project(enc, w, in, x_, pass, nullptr, true);
    return;
  }
  const uint64_t n = uint64_t(pass.tokens) * uint64_t(c.dim);
  // The branch's output in full (summed over ranks), normed when the model says so, then added.
  const Buffer& out = shard_.split() ? partial_sum_ : xn_;
  if (in_cols > 0)
    project(enc, w, in, out, pass, nullptr, false);
  else
    ops::fill(enc, out, n, 0.0f);
  if (shard_.split()) comm_->all_reduce_sum(enc, out, n);
  if (post_norm.present())  // x += norm(out) in one pass
    ops::rmsnorm(enc, out, post_norm.buffer, x_, pass.tokens, c.dim, c.rms_eps, false, true);
  else
    ops::add(enc, x_, out, x_, int(n));
}

void LlamaForward::record_attention(CommandEncoder& enc, int layer, const Pass& pass) const {
  const LlamaConfig& c = model_->config;
  const LayerWeights& w = model_->weights.layers[size_t(layer)];
  const int t = pass.tokens;
  const int heads = shard_.heads, kv_heads = shard_.kv_heads;
  const bool same_type = w.wq.dtype == w.wk.dtype && w.wk.dtype == w.wv.dtype;
  const bool biases = w.bq.present() && w.bk.present() && w.bv.present();
  const bool no_biases = !w.bq.present() && !w.bk.present() && !w.bv.present();
  if (pass.decode && !c.qk_norm && same_type && (biases || no_biases) && fusable(w.wq.dtype) &&
      ops::decode_row_supported(w.wq.dtype, c.dim)) {
    // Norm, Q/K/V, RoPE and the cache writes in one pass over the three weights.
    ops::QkvShape shape;
    shape.dim = c.dim;
    shape.heads = heads;
    shape.kv_heads = kv_heads;
    shape.cap = cache_.capacity;
    shape.rope = layer_rope(layer);
    ops::qkv(enc, w.wq.buffer, w.wk.buffer, w.wv.buffer, w.wq.dtype, shape, x_,
             {&w.attn_norm.buffer, c.rms_eps, false}, biases ? &w.bq.buffer : nullptr,
             biases ? &w.bk.buffer : nullptr, biases ? &w.bv.buffer : nullptr, pass.positions, q_,
             cache_.k[size_t(layer)], cache_.v[size_t(layer)]);
  } else {
    // Decode products that all take mv read x with the norm folded in (one launch fewer).
    const bool fold = takes_mv(w.wq, pass) && takes_mv(w.wk, pass) && takes_mv(w.wv, pass);
    const ops::FoldedNorm norm{&w.attn_norm.buffer, c.rms_eps, false};
    if (!fold) ops::rmsnorm(enc, x_, w.attn_norm.buffer, xn_, t, c.dim, c.rms_eps);
    const Buffer& in = fold ? x_ : xn_;
    const ops::FoldedNorm* folded = fold ? &norm : nullptr;
    project(enc, w.wq, in, q_, pass, &w.bq, false, folded);
    project(enc, w.wk, in, k_, pass, &w.bk, false, folded);
    project(enc, w.wv, in, v_, pass, &w.bv, false, folded);
    if (c.qk_norm) {
      ops::rmsnorm(enc, q_, w.q_norm.buffer, q_, t * heads, c.head_dim, c.rms_eps);
      ops::rmsnorm(enc, k_, w.k_norm.buffer, k_, t * kv_heads, c.head_dim, c.rms_eps);
    }
    const ops::RopeParams rope = layer_rope(layer);
    ops::rope(enc, q_, pass.positions, t, heads, rope);
    ops::rope(enc, k_, pass.positions, t, kv_heads, rope);
    ops::kv_store(enc, k_, cache_.k[size_t(layer)], pass.positions, t, kv_heads, c.head_dim,
                  cache_.capacity);
    ops::kv_store(enc, v_, cache_.v[size_t(layer)], pass.positions, t, kv_heads, c.head_dim,
                  cache_.capacity);
  }
  const ops::AttentionParams attention = layer_attention(layer);
  if (pass.decode && attention_decode_)
    ops::attention_decode(enc, q_, cache_.k[size_t(layer)], cache_.v[size_t(layer)], pass.positions,
                          attn_scratch_, attn_, decode_splits_, attention);
  else
    ops::attention(enc, q_, cache_.k[size_t(layer)], cache_.v[size_t(layer)], pass.positions,
                   partial_, attn_, t, pass.decode ? decode_splits_ : 1, attention);
  // An infinite query can reach the residual stream as zeros (a -inf score reads as a masked
  // key on CUDA), so with every stage checked the queries are checked too.
  check_stage_output(enc, q_, uint64_t(t) * uint64_t(heads) * uint64_t(c.head_dim),
                     attention_check(layer));
  project_residual(enc, w.wo, attn_, heads * c.head_dim, pass, w.post_attn_norm);
  check_residual(enc, pass, attention_check(layer));
}

void LlamaForward::record_ffn(CommandEncoder& enc, int layer, const Pass& pass) const {
  const LlamaConfig& c = model_->config;
  const LayerWeights& w = model_->weights.layers[size_t(layer)];
  const int ffn = shard_.ffn;
  if (ffn > 0 && pass.decode && w.w_gate.dtype == w.w_up.dtype && fusable(w.w_gate.dtype) &&
      ops::decode_row_supported(w.w_gate.dtype, c.dim)) {
    // Norm, gate and up projections and SwiGLU in one pass over both weights.
    ops::glu(enc, w.w_gate.buffer, w.w_up.buffer, w.w_gate.dtype, ffn, c.dim, x_,
             {&w.ffn_norm.buffer, c.rms_eps, false}, gate_, c.ffn_act);
  } else if (ffn > 0) {
    ops::rmsnorm(enc, x_, w.ffn_norm.buffer, xn_, pass.tokens, c.dim, c.rms_eps);
    project(enc, w.w_gate, xn_, gate_, pass, nullptr, false);
    project(enc, w.w_up, xn_, up_, pass, nullptr, false);
    ops::swiglu(enc, gate_, up_, gate_, pass.tokens * ffn, c.ffn_act);
  }
  project_residual(enc, w.w_down, gate_, ffn, pass, w.post_ffn_norm);
  check_residual(enc, pass, ffn_check(layer));
}

void LlamaForward::record_head(CommandEncoder& enc, const Pass& pass,
                               const ops::SamplerParams& sampler) const {
  const LlamaConfig& c = model_->config;
  const LlamaWeights& w = model_->weights;
  const uint64_t row = uint64_t(c.dim) * kF32;
  const Buffer last = x_.view(uint64_t(pass.tokens - 1) * row, row);
  // The logits keep f32 activations for every weight type: their error is not averaged by any
  // later layer, and 8-bit activations here flip near-ties (SmolLM2's first answer token).
  const Buffer normed = xn_.view(0, row);
  ops::rmsnorm(enc, last, w.output_norm.buffer, normed, 1, c.dim, c.rms_eps);
  if (shard_.split()) {
    ops::matvec(enc, w.output.buffer, w.output.dtype, w.output.rows, w.output.cols, normed,
                logits_shard_);
    comm_->all_gather(enc, logits_shard_, logits_, uint64_t(shard_.vocab));
  } else {
    ops::matvec(enc, w.output.buffer, w.output.dtype, w.output.rows, w.output.cols, normed,
                logits_);
  }
  kernels::ops::finite_check(enc, logits_, uint64_t(c.vocab), finite_flag_, head_check(c));
  ops::sample(enc, logits_, c.vocab, token_, state_, history_, cache_.capacity, sampler);
  ops::step_advance(enc, position_, state_);
}

void LlamaForward::record_stage(CommandEncoder& enc, const Stage& stage, const Pass& pass,
                                const ops::SamplerParams& sampler) const {
  const LlamaConfig& c = model_->config;
  switch (stage.kind) {
    case StageKind::Embed:
      ops::embed(enc, model_->weights.token_embd.buffer, model_->weights.token_embd.dtype, c.vocab,
                 c.dim, pass.ids, pass.tokens, x_, c.embed_scale);
      check_residual(enc, pass, kEmbedCheck);
      return;
    case StageKind::Attention:
      record_attention(enc, stage.first_layer, pass);
      return;
    case StageKind::Ffn:
      record_ffn(enc, stage.first_layer, pass);
      return;
    case StageKind::Layers:
      for (int l = stage.first_layer; l <= stage.last_layer; ++l) {
        record_attention(enc, l, pass);
        record_ffn(enc, l, pass);
      }
      return;
    case StageKind::Head:
      record_head(enc, pass, sampler);
      return;
  }
}

uint64_t LlamaForward::state_bytes() const {
  uint64_t total = cache_.bytes();
  for (const Buffer* b : {&x_, &xn_, &q_, &k_, &v_, &attn_, &gate_, &up_, &partial_, &partial_sum_,
                          &logits_shard_, &attn_scratch_, &logits_, &token_status_, &history_,
                          &position_, &state_, &prompt_ids_, &prompt_positions_})
    if (b->valid()) total += b->size();
  if (matmul_scratch_.valid()) total += matmul_scratch_.size();
  return total;
}

}  // namespace stagefence::llama
