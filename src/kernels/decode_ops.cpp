#include "kernels/decode_ops.hpp"

#include <array>
#include <atomic>
#include <cstdint>
#include <optional>
#include <string>

#include "kernels/dequant.hpp"
#include "kernels/params/attention_decode.hpp"
#include "kernels/params/fused_decode.hpp"
#include "kernels/register.hpp"
#include "stagefence/error.hpp"
#include "stagefence/kernel.hpp"

namespace stagefence::kernels::ops {
namespace {

constexpr uint64_t kF32 = 4, kF16 = 2, kI32 = 4;

// A kernel id per (family, weight type), looked up once.
class KernelIds {
 public:
  explicit KernelIds(const char* family) : family_(family) {
    for (auto& v : ids_) v.store(kUnresolved, std::memory_order_relaxed);
  }
  KernelId get(DType wt) {
    const auto types = forward_weight_types();
    for (size_t i = 0; i < types.size() && i < ids_.size(); ++i) {
      if (types[i] != wt) continue;
      uint64_t id = ids_[i].load(std::memory_order_acquire);
      if (id != kUnresolved) return KernelId(id);
      register_forward_kernels();
      const KernelId resolved =
          KernelRegistry::global().id(std::string(family_) + "." + std::string(dtype_name(wt)));
      ids_[i].store(resolved, std::memory_order_release);
      return resolved;
    }
    row_codec(wt);  // throws Unsupported naming the type
    raise(ErrorCode::Internal, "weight type table larger than the decode op encoders' cache");
  }

 private:
  static constexpr uint64_t kUnresolved = ~uint64_t(0);
  const char* family_;
  std::array<std::atomic<uint64_t>, 16> ids_;
};

void require(bool ok, const std::string& op, const std::string& what) {
  if (!ok) raise(ErrorCode::InvalidArgument, op + ": " + what);
}

// The shape rule of the streaming decode kernels: whole blocks, and whole 16-byte units of float
// types, per row.
void require_row(const char* op, DType wt, int64_t cols) {
  require(cols > 0, op, "cols = " + std::to_string(cols) + " must be positive");
  require(cols <= (dtype_info(wt)->block_elems > 1 ? 49152 : 16384), op,
          "cols = " + std::to_string(cols) + " exceeds the activations the decode kernels hold");
  const uint64_t elems = dtype_info(wt)->block_elems;
  const uint64_t unit = elems > 1 ? elems : 16 / dtype_info(wt)->block_bytes;
  require(uint64_t(cols) % unit == 0, op,
          "cols = " + std::to_string(cols) + " must be a multiple of " + std::to_string(unit) +
              " for " + std::string(dtype_name(wt)) + " weights");
  if (elems > 1)
    require(cols % 32 == 0, op, "cols = " + std::to_string(cols) + " must be a multiple of 32");
}

}  // namespace

bool decode_row_supported(DType wt, int64_t cols) {
  if (!is_forward_weight_type(wt) || cols <= 0) return false;
  const uint64_t elems = dtype_info(wt)->block_elems;
  const uint64_t unit = elems > 1 ? elems : 16 / dtype_info(wt)->block_bytes;
  // The activations live in shared memory beside the weight slots: f32 for float weights, 8-bit
  // blocks for block types.
  const int64_t most = elems > 1 ? 49152 : 16384;
  return uint64_t(cols) % unit == 0 && (elems == 1 || cols % 32 == 0) && cols <= most;
}

void mv(CommandEncoder& enc, const Buffer& w, DType wt, int rows, int cols, const Buffer& x,
        const Buffer& y, const Buffer* bias, bool accumulate, const FoldedNorm* norm) {
  static KernelIds ids("mv");
  const KernelId id = ids.get(wt);
  require(rows > 0, "mv", "rows = " + std::to_string(rows) + " must be positive");
  require_row("mv", wt, cols);
  MvParams p;
  p.rows = rows;
  p.cols = cols;
  p.flags = (bias ? kMvBias : 0u) | (accumulate ? kMvAccumulate : 0u) | (norm ? kMvNorm : 0u) |
            (norm && norm->add_one ? kNormAddOne : 0u);
  p.eps = norm ? norm->eps : 0.0f;
  const uint64_t x_bytes = uint64_t(cols) * kF32, y_bytes = uint64_t(rows) * kF32;
  const Binding bindings[5] = {
      reads(w, 0, uint64_t(rows) * dtype_bytes(wt, uint64_t(cols))),
      reads(x, 0, x_bytes),
      accumulate ? reads_writes(y, 0, y_bytes) : writes(y, 0, y_bytes),
      bias ? reads(*bias, 0, y_bytes) : reads(x, 0, x_bytes),
      norm ? reads(*norm->weight, 0, x_bytes) : reads(x, 0, x_bytes),
  };
  enc.dispatch(id, bindings, 5, std::nullopt, p);
}

void qkv(CommandEncoder& enc, const Buffer& wq, const Buffer& wk, const Buffer& wv, DType wt,
         const QkvShape& s, const Buffer& x, const FoldedNorm& norm, const Buffer* bq,
         const Buffer* bk, const Buffer* bv, const Buffer& position, const Buffer& q_out,
         const Buffer& k_cache, const Buffer& v_cache) {
  static KernelIds ids("qkv");
  const KernelId id = ids.get(wt);
  require_row("qkv", wt, s.dim);
  require(s.heads > 0 && s.kv_heads > 0 && s.heads % s.kv_heads == 0, "qkv",
          "heads = " + std::to_string(s.heads) +
              " must be a positive multiple of kv_heads = " + std::to_string(s.kv_heads));
  const int hd = s.rope.head_dim;
  require(hd > 0 && hd % 2 == 0, "qkv", "head_dim = " + std::to_string(hd) + " must be even");
  require(s.rope.rot_dim >= 0 && s.rope.rot_dim <= hd && s.rope.rot_dim % 2 == 0, "qkv",
          "rot_dim = " + std::to_string(s.rope.rot_dim) + " must be even and at most head_dim");
  require(s.cap > 0, "qkv", "cap = " + std::to_string(s.cap) + " must be positive");
  require(norm.weight != nullptr, "qkv", "the input norm weight is missing");
  const bool bias = bq || bk || bv;
  require(!bias || (bq && bk && bv), "qkv",
          "the Q, K and V biases must be all present or all absent");
  QkvParams p;
  p.dim = s.dim;
  p.heads = s.heads;
  p.kv_heads = s.kv_heads;
  p.head_dim = hd;
  p.rot_dim = s.rope.rot_dim;
  p.rope_mode = int(s.rope.mode);
  p.theta_base = s.rope.theta_base;
  p.freq_scale = s.rope.freq_scale;
  p.eps = norm.eps;
  p.cap = s.cap;
  p.flags = (bias ? kQkvBias : 0u) | (norm.add_one ? kNormAddOne : 0u);
  const uint64_t row = dtype_bytes(wt, uint64_t(s.dim));
  const uint64_t q_rows = uint64_t(s.heads) * hd, kv_rows = uint64_t(s.kv_heads) * hd;
  const uint64_t x_bytes = uint64_t(s.dim) * kF32;
  const uint64_t cache_bytes = kv_rows * uint64_t(s.cap) * kF16;
  const Binding bindings[12] = {
      reads(wq, 0, q_rows * row),
      reads(wk, 0, kv_rows * row),
      reads(wv, 0, kv_rows * row),
      reads(x, 0, x_bytes),
      reads(*norm.weight, 0, x_bytes),
      bias ? reads(*bq, 0, q_rows * kF32) : reads(x, 0, x_bytes),
      bias ? reads(*bk, 0, kv_rows * kF32) : reads(x, 0, x_bytes),
      bias ? reads(*bv, 0, kv_rows * kF32) : reads(x, 0, x_bytes),
      reads(position, 0, kI32),
      writes(q_out, 0, q_rows * kF32),
      writes(k_cache, 0, cache_bytes),
      writes(v_cache, 0, cache_bytes),
  };
  enc.dispatch(id, bindings, 12, std::nullopt, p);
}

void glu(CommandEncoder& enc, const Buffer& wg, const Buffer& wu, DType wt, int ffn, int dim,
         const Buffer& x, const FoldedNorm& norm, const Buffer& out, Activation act) {
  static KernelIds ids("glu");
  const KernelId id = ids.get(wt);
  require(ffn > 0, "glu", "ffn = " + std::to_string(ffn) + " must be positive");
  require_row("glu", wt, dim);
  require(norm.weight != nullptr, "glu", "the input norm weight is missing");
  GluParams p;
  p.ffn = ffn;
  p.dim = dim;
  p.act = int(act);
  p.eps = norm.eps;
  p.flags = norm.add_one ? kNormAddOne : 0u;
  const uint64_t w_bytes = uint64_t(ffn) * dtype_bytes(wt, uint64_t(dim));
  const uint64_t x_bytes = uint64_t(dim) * kF32;
  const Binding bindings[5] = {reads(wg, 0, w_bytes), reads(wu, 0, w_bytes), reads(x, 0, x_bytes),
                               reads(*norm.weight, 0, x_bytes),
                               writes(out, 0, uint64_t(ffn) * kF32)};
  enc.dispatch(id, bindings, 5, std::nullopt, p);
}

bool attention_decode_supports(int head_dim) {
  return head_dim == 32 || head_dim == 64 || head_dim == 128 || head_dim == 256;
}

uint64_t attention_decode_scratch_bytes(const AttentionParams& a, int splits) {
  return attn_decode_scratch_bytes(a.heads, a.kv_heads, a.head_dim, splits);
}

void attention_decode(CommandEncoder& enc, const Buffer& q, const Buffer& k_cache,
                      const Buffer& v_cache, const Buffer& position, const Buffer& scratch,
                      const Buffer& out, int splits, const AttentionParams& a) {
  require(attention_decode_supports(a.head_dim), "attention_decode",
          "head_dim = " + std::to_string(a.head_dim) + " is not 32, 64, 128 or 256");
  require(a.kv_heads > 0 && a.heads % a.kv_heads == 0 && a.heads / a.kv_heads <= 8,
          "attention_decode",
          "heads = " + std::to_string(a.heads) +
              " must be 1 to 8 times kv_heads = " + std::to_string(a.kv_heads));
  require(splits >= 1 && splits <= 1024, "attention_decode",
          "splits = " + std::to_string(splits) + " must be in [1, 1024]");
  require(a.cap > 0, "attention_decode", "cap = " + std::to_string(a.cap) + " must be positive");
  static std::array<std::atomic<uint64_t>, 4> ids = {~0ull, ~0ull, ~0ull, ~0ull};
  const int slot = a.head_dim == 32 ? 0 : a.head_dim == 64 ? 1 : a.head_dim == 128 ? 2 : 3;
  uint64_t id = ids[size_t(slot)].load(std::memory_order_acquire);
  if (id == ~0ull) {
    register_forward_kernels();
    id = KernelRegistry::global().id("attn.decode.hd" + std::to_string(a.head_dim));
    ids[size_t(slot)].store(id, std::memory_order_release);
  }
  AttnDecodeParams p;
  p.heads = a.heads;
  p.kv_heads = a.kv_heads;
  p.head_dim = a.head_dim;
  p.cap = a.cap;
  p.scale = a.scale;
  p.splits = splits;
  p.window = a.window;
  p.softcap = a.softcap;
  const uint64_t q_bytes = uint64_t(a.heads) * a.head_dim * kF32;
  const uint64_t cache_bytes = uint64_t(a.kv_heads) * a.cap * a.head_dim * kF16;
  const Binding bindings[6] = {
      reads(q, 0, q_bytes),
      reads(k_cache, 0, cache_bytes),
      reads(v_cache, 0, cache_bytes),
      reads_writes(scratch, 0, attention_decode_scratch_bytes(a, splits)),
      reads(position, 0, kI32),
      writes(out, 0, q_bytes),
  };
  enc.dispatch(KernelId(id), bindings, 6, std::nullopt, p);
}

}  // namespace stagefence::kernels::ops
