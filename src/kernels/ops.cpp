#include "kernels/ops.hpp"

#include <array>
#include <atomic>
#include <cstdint>
#include <optional>
#include <string>
#include <string_view>

#include "kernels/dequant.hpp"
#include "kernels/kernel_spec.hpp"
#include "kernels/params/attention.hpp"
#include "kernels/params/elementwise.hpp"
#include "kernels/params/embed.hpp"
#include "kernels/params/kv_store.hpp"
#include "kernels/params/matrix.hpp"
#include "kernels/params/rmsnorm.hpp"
#include "kernels/params/rope.hpp"
#include "kernels/params/sample.hpp"
#include "kernels/register.hpp"
#include "stagefence/error.hpp"
#include "stagefence/kernel.hpp"

namespace stagefence::kernels::ops {
namespace {

// A kernel id looked up once; the forward kernels are registered on the first lookup.
class CachedKernelId {
 public:
  KernelId get(std::string_view name) {
    uint64_t id = id_.load(std::memory_order_acquire);
    if (id != kUnresolved) return KernelId(id);
    register_forward_kernels();
    const KernelId resolved = KernelRegistry::global().id(name);
    id_.store(resolved, std::memory_order_release);
    return resolved;
  }

 private:
  static constexpr uint64_t kUnresolved = ~uint64_t(0);
  std::atomic<uint64_t> id_{kUnresolved};
};

constexpr size_t kMaxWeightTypes = 16;

// The id of "<family>.<weight type>", cached per family and type.
KernelId weight_kernel(std::array<CachedKernelId, kMaxWeightTypes>& cache, std::string_view family,
                       DType wt) {
  const auto types = forward_weight_types();
  for (size_t i = 0; i < types.size() && i < kMaxWeightTypes; ++i)
    if (types[i] == wt)
      return cache[i].get(std::string(family) + "." + std::string(dtype_name(wt)));
  row_codec(wt);  // throws Unsupported naming the type
  raise(ErrorCode::Internal, "weight type table larger than the op encoders' cache");
}

uint64_t checked_count(const char* op, const char* what, int64_t count) {
  if (count < 0)
    raise(ErrorCode::InvalidArgument,
          std::string(op) + ": " + what + " = " + std::to_string(count) + " is negative");
  return uint64_t(count);
}

constexpr uint64_t kF32 = 4, kI32 = 4, kF16 = 2;

}  // namespace

void embed(CommandEncoder& enc, const Buffer& table, DType wt, int vocab, int dim,
           const Buffer& ids, int tokens, const Buffer& out, float scale) {
  static std::array<CachedKernelId, kMaxWeightTypes> cache;
  const KernelId id = weight_kernel(cache, "embed", wt);
  const uint64_t n_vocab = checked_count("embed", "vocab", vocab);
  const uint64_t n_dim = checked_count("embed", "dim", dim);
  const uint64_t n_tok = checked_count("embed", "tokens", tokens);
  enc.dispatch(id,
               {reads(table, 0, n_vocab * dtype_bytes(wt, n_dim)), reads(ids, 0, n_tok * kI32),
                writes(out, 0, n_tok * n_dim * kF32)},
               std::nullopt, EmbedParams{dim, tokens, vocab, scale});
}

void rmsnorm(CommandEncoder& enc, const Buffer& x, const Buffer& w, const Buffer& y, int rows,
             int n, float eps, bool add_one, bool accumulate) {
  static CachedKernelId kernel;
  const uint64_t bytes =
      checked_count("rmsnorm", "rows", rows) * checked_count("rmsnorm", "n", n) * kF32;
  if (accumulate && x.valid() && y.valid() && x.allocation_id() == y.allocation_id() &&
      x.offset() < y.offset() + bytes && y.offset() < x.offset() + bytes)
    raise(ErrorCode::InvalidArgument,
          "rmsnorm: accumulating into y that overlaps its input x (a post-norm adds into another "
          "buffer)");
  enc.dispatch(kernel.get("rmsnorm"),
               {reads(x, 0, bytes), reads(w, 0, uint64_t(n) * kF32),
                accumulate ? reads_writes(y, 0, bytes) : writes(y, 0, bytes)},
               std::nullopt, RmsnormParams{rows, n, eps, add_one ? 1 : 0, accumulate ? 1 : 0});
}

namespace {

// matvec and matmul share their bindings: W, X, Y (read-write when accumulating), bias.
void record_matrix_product(CommandEncoder& enc, KernelId id, const char* op, const Buffer& w,
                           DType wt, int rows, int cols, const Buffer& x, const Buffer& y,
                           int tokens, const Buffer* bias, bool accumulate, bool with_tokens,
                           const Buffer* scratch = nullptr) {
  const uint64_t n_rows = checked_count(op, "rows", rows);
  const uint64_t n_cols = checked_count(op, "cols", cols);
  const uint64_t n_tok = checked_count(op, "tokens", tokens);
  const uint64_t y_bytes = n_tok * n_rows * kF32;
  Binding bindings[5] = {
      reads(w, 0, n_rows * dtype_bytes(wt, n_cols)),
      reads(x, 0, n_tok * n_cols * kF32),
      accumulate ? reads_writes(y, 0, y_bytes) : writes(y, 0, y_bytes),
  };
  size_t num_bindings = 3;
  uint32_t flags = accumulate ? kMatFlagAccumulate : 0u;
  if (bias) {
    bindings[num_bindings++] = reads(*bias, 0, n_rows * kF32);
    flags |= kMatFlagBias;
  }
  if (scratch) {
    bindings[num_bindings++] = reads_writes(*scratch, 0, matmul_scratch_bytes(tokens, cols));
    flags |= kMatFlagScratch;
  }
  if (with_tokens)
    enc.dispatch(id, bindings, num_bindings, std::nullopt, MatmulParams{rows, cols, flags, tokens});
  else
    enc.dispatch(id, bindings, num_bindings, std::nullopt, MatvecParams{rows, cols, flags});
}

}  // namespace

void matvec(CommandEncoder& enc, const Buffer& w, DType wt, int rows, int cols, const Buffer& x,
            const Buffer& y, const Buffer* bias, bool accumulate) {
  static std::array<CachedKernelId, kMaxWeightTypes> cache;
  record_matrix_product(enc, weight_kernel(cache, "matvec", wt), "matvec", w, wt, rows, cols, x, y,
                        1, bias, accumulate, false);
}

void matmul(CommandEncoder& enc, const Buffer& w, DType wt, int rows, int cols, const Buffer& x,
            const Buffer& y, int tokens, const Buffer* bias, bool accumulate,
            const Buffer* scratch) {
  static std::array<CachedKernelId, kMaxWeightTypes> cache;
  record_matrix_product(enc, weight_kernel(cache, "matmul", wt), "matmul", w, wt, rows, cols, x, y,
                        tokens, bias, accumulate, true, scratch);
}

void rope(CommandEncoder& enc, const Buffer& x, const Buffer& positions, int tokens, int heads,
          const RopeParams& p) {
  static CachedKernelId kernel;
  const uint64_t n_tok = checked_count("rope", "tokens", tokens);
  const uint64_t bytes = n_tok * checked_count("rope", "heads", heads) *
                         checked_count("rope", "head_dim", p.head_dim) * kF32;
  enc.dispatch(kernel.get("rope"), {reads_writes(x, 0, bytes), reads(positions, 0, n_tok * kI32)},
               std::nullopt,
               RopeKernelParams{tokens, heads, p.head_dim, p.rot_dim, p.theta_base, int(p.mode),
                                p.freq_scale});
}

void kv_store(CommandEncoder& enc, const Buffer& src, const Buffer& cache, const Buffer& positions,
              int tokens, int kv_heads, int head_dim, int cap) {
  static CachedKernelId kernel;
  const uint64_t n_tok = checked_count("kv_store", "tokens", tokens);
  const uint64_t row = checked_count("kv_store", "kv_heads", kv_heads) *
                       checked_count("kv_store", "head_dim", head_dim);
  const uint64_t cache_bytes = row * checked_count("kv_store", "cap", cap) * kF16;
  enc.dispatch(kernel.get("kv_store"),
               {reads(src, 0, n_tok * row * kF32), writes(cache, 0, cache_bytes),
                reads(positions, 0, n_tok * kI32)},
               std::nullopt, KvStoreParams{tokens, kv_heads, head_dim, cap});
}

uint64_t attention_partial_bytes(int tokens, int heads, int head_dim, int splits) {
  return checked_count("attention", "tokens", tokens) * checked_count("attention", "heads", heads) *
         checked_count("attention", "splits", splits) *
         (checked_count("attention", "head_dim", head_dim) + 2) * kF32;
}

void attention(CommandEncoder& enc, const Buffer& q, const Buffer& k_cache, const Buffer& v_cache,
               const Buffer& positions, const Buffer& partial, const Buffer& out, int tokens,
               int splits, const AttentionParams& p) {
  static CachedKernelId split_kernel, merge_kernel;
  if (splits < 1)
    raise(ErrorCode::InvalidArgument,
          "attention: splits = " + std::to_string(splits) + " must be at least 1");
  const uint64_t n_tok = checked_count("attention", "tokens", tokens);
  const uint64_t q_bytes = n_tok * checked_count("attention", "heads", p.heads) *
                           checked_count("attention", "head_dim", p.head_dim) * kF32;
  const uint64_t cache_bytes = checked_count("attention", "kv_heads", p.kv_heads) *
                               checked_count("attention", "cap", p.cap) * uint64_t(p.head_dim) *
                               kF16;
  const uint64_t partial_bytes = attention_partial_bytes(tokens, p.heads, p.head_dim, splits);
  enc.dispatch(
      split_kernel.get("attn.split"),
      {reads(q, 0, q_bytes), reads(k_cache, 0, cache_bytes), reads(v_cache, 0, cache_bytes),
       writes(partial, 0, partial_bytes), reads(positions, 0, n_tok * kI32)},
      std::nullopt,
      AttnSplitParams{tokens, p.heads, p.kv_heads, p.head_dim, p.cap, p.scale, splits, p.window,
                      p.softcap});
  enc.dispatch(merge_kernel.get("attn.merge"),
               {reads(partial, 0, partial_bytes), writes(out, 0, q_bytes)}, std::nullopt,
               AttnMergeParams{tokens, p.heads, p.head_dim, splits});
}

void swiglu(CommandEncoder& enc, const Buffer& gate, const Buffer& up, const Buffer& out, int n,
            Activation act) {
  static CachedKernelId kernel;
  const uint64_t bytes = checked_count("swiglu", "n", n) * kF32;
  enc.dispatch(kernel.get("swiglu"),
               {reads(gate, 0, bytes), reads(up, 0, bytes), writes(out, 0, bytes)}, std::nullopt,
               SwigluParams{n, int(act)});
}

void add(CommandEncoder& enc, const Buffer& a, const Buffer& b, const Buffer& out, int n) {
  static CachedKernelId kernel;
  const uint64_t bytes = checked_count("add", "n", n) * kF32;
  enc.dispatch(kernel.get("add"), {reads(a, 0, bytes), reads(b, 0, bytes), writes(out, 0, bytes)},
               std::nullopt, AddParams{n});
}

void fill(CommandEncoder& enc, const Buffer& out, uint64_t n, float value) {
  static CachedKernelId kernel;
  const uint64_t bytes = checked_count("fill", "n", int64_t(n)) * kF32;
  enc.dispatch(kernel.get("fill_f32"), {writes(out, 0, bytes)}, {Scalar(n), Scalar(value)});
}

void sample(CommandEncoder& enc, const Buffer& logits, int vocab, const Buffer& token,
            const Buffer& state, const Buffer& history, int max_steps, const SamplerParams& p) {
  static CachedKernelId kernel;
  const uint64_t logit_bytes = checked_count("sample", "vocab", vocab) * kF32;
  const uint64_t history_bytes = checked_count("sample", "max_steps", max_steps) * kI32;
  // A zero-length range would bind nothing; with no history the whole (unused) view is bound.
  const Binding history_binding =
      history_bytes > 0 ? writes(history, 0, history_bytes) : writes(history);
  enc.dispatch(kernel.get("sample"),
               {reads(logits, 0, logit_bytes), writes(token, 0, kI32),
                reads(state, 0, 2 * sizeof(uint64_t)), history_binding},
               std::nullopt, SampleParams{vocab, p.temperature, p.top_k, p.top_p, max_steps});
}

void step_advance(CommandEncoder& enc, const Buffer& positions, const Buffer& state) {
  static CachedKernelId kernel;
  enc.dispatch(kernel.get("step_advance"),
               {reads_writes(positions, 0, kI32), reads_writes(state, 0, 2 * sizeof(uint64_t))});
}

}  // namespace stagefence::kernels::ops
