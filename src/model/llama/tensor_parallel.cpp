#include "model/llama/tensor_parallel.hpp"

#include <cstdint>
#include <cstring>
#include <string>

#include "stagefence/error.hpp"

namespace stagefence::llama {

namespace {

[[noreturn]] void bad(const std::string& what) {
  raise(ErrorCode::InvalidArgument, "tensor parallel: " + what);
}

uint32_t block_elems(DType t) {
  const DTypeInfo* info = dtype_info(t);
  return info ? info->block_elems : 1;
}

}  // namespace

ShardShape shard_shape(const LlamaConfig& c, TensorParallel tp, SplitTypes types) {
  const int n = tp.ranks, r = tp.rank;
  if (n < 1) bad("ranks = " + std::to_string(n) + " must be at least 1");
  if (r < 0 || r >= n) bad("rank " + std::to_string(r) + " outside [0, " + std::to_string(n) + ")");
  const std::string of = " with " + std::to_string(n) + " ranks";
  if (c.heads % n) bad(std::to_string(c.heads) + " query heads do not split evenly" + of);
  if (c.vocab % n)
    bad("a vocabulary of " + std::to_string(c.vocab) + " does not split evenly" + of);
  if (c.kv_heads % n && n % c.kv_heads)
    bad(std::to_string(c.kv_heads) + " key/value heads neither divide nor are divided by " +
        std::to_string(n) + " ranks");

  ShardShape s;
  s.tp = tp;
  s.heads = c.heads / n;
  s.head_begin = r * s.heads;
  if (c.kv_heads % n == 0) {
    s.kv_heads = c.kv_heads / n;
    s.kv_head_begin = r * s.kv_heads;
  } else {  // more ranks than K/V heads: each rank keeps the one head its query heads use
    s.kv_heads = 1;
    s.kv_head_begin = s.head_begin / (c.heads / c.kv_heads);
  }
  const int64_t out_cols = int64_t(s.heads) * c.head_dim;
  if (out_cols % block_elems(types.attn_output))
    bad("each rank's " + std::to_string(out_cols) + " attention-output columns are not whole " +
        std::string(dtype_name(types.attn_output)) + " blocks" + of);
  const int unit = int(block_elems(types.ffn_down));
  if (c.ffn_dim % unit)
    bad("the FFN width " + std::to_string(c.ffn_dim) + " is not whole " +
        std::string(dtype_name(types.ffn_down)) + " blocks");
  const int64_t units = c.ffn_dim / unit;
  s.ffn_begin = int(units * r / n) * unit;
  s.ffn = int(units * (r + 1) / n) * unit - s.ffn_begin;
  s.vocab = c.vocab / n;
  s.vocab_begin = r * s.vocab;
  return s;
}

TensorSlice tensor_slice(const TensorSpec& spec, const LlamaConfig& c, const ShardShape& s) {
  using Kind = TensorSlice::Kind;
  if (spec.layer < 0) {
    if (spec.role == TensorRole::Output) return {Kind::Rows, s.vocab_begin, s.vocab};
    return {Kind::Whole, 0, spec.rows};
  }
  const std::string& n = spec.name;
  const Kind by_head = spec.is_vector() ? Kind::Cols : Kind::Rows;  // biases: elements
  const int64_t hd = c.head_dim;
  if (n.ends_with("attn_q.weight") || n.ends_with("attn_q.bias"))
    return {by_head, s.head_begin * hd, s.heads * hd};
  if (n.ends_with("attn_k.weight") || n.ends_with("attn_v.weight") || n.ends_with("attn_k.bias") ||
      n.ends_with("attn_v.bias"))
    return {by_head, s.kv_head_begin * hd, s.kv_heads * hd};
  if (n.ends_with("attn_output.weight")) return {Kind::Cols, s.head_begin * hd, s.heads * hd};
  if (n.ends_with("ffn_gate.weight") || n.ends_with("ffn_up.weight"))
    return {Kind::Rows, s.ffn_begin, s.ffn};
  if (n.ends_with("ffn_down.weight")) return {Kind::Cols, s.ffn_begin, s.ffn};
  return {Kind::Whole, 0, spec.rows};
}

TensorSpec local_spec(const TensorSpec& spec, const TensorSlice& slice) {
  TensorSpec out = spec;
  if (slice.kind == TensorSlice::Kind::Rows) out.rows = slice.count;
  if (slice.kind == TensorSlice::Kind::Cols) out.cols = slice.count;
  return out;
}

std::vector<uint8_t> slice_bytes(const uint8_t* whole, DType dtype, const TensorSpec& spec,
                                 const TensorSlice& slice) {
  const uint64_t row_bytes = dtype_bytes(dtype, uint64_t(spec.cols));
  switch (slice.kind) {
    case TensorSlice::Kind::Whole:
      return {whole, whole + row_bytes * uint64_t(spec.rows)};
    case TensorSlice::Kind::Rows:
      return {whole + row_bytes * uint64_t(slice.begin),
              whole + row_bytes * uint64_t(slice.begin + slice.count)};
    case TensorSlice::Kind::Cols: {
      const uint64_t skip = dtype_bytes(dtype, uint64_t(slice.begin));
      const uint64_t take = dtype_bytes(dtype, uint64_t(slice.count));
      std::vector<uint8_t> out(take * uint64_t(spec.rows));
      for (int64_t row = 0; row < spec.rows; ++row)
        std::memcpy(out.data() + take * uint64_t(row), whole + row_bytes * uint64_t(row) + skip,
                    take);
      return out;
    }
  }
  return {};
}

}  // namespace stagefence::llama
