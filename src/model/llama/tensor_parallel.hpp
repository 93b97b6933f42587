// Tensor parallelism for the Llama-family forward: which heads, FFN columns and vocabulary rows
// each rank holds, and how every tensor of the layout is cut for it. Query heads, K/V heads
// (shared by neighbouring ranks when there are more ranks than K/V heads), gate/up rows and the
// output rows split by rank; the attention output and FFN down projections split by columns, so
// each rank's product is a partial sum that an all-reduce completes. Embedding and norms are
// whole on every rank.
#pragma once
#include <cstdint>
#include <vector>

#include "model/llama/config.hpp"
#include "model/llama/tensor_layout.hpp"
#include "stagefence/dtype.hpp"

namespace stagefence::llama {

struct TensorParallel {
  int rank = 0;
  int ranks = 1;
};

// What one rank holds. With one rank: everything.
struct ShardShape {
  TensorParallel tp;
  int head_begin = 0, heads = 0;        // query heads
  int kv_head_begin = 0, kv_heads = 0;  // key/value heads
  int ffn_begin = 0, ffn = 0;           // FFN columns; 0 when the split leaves this rank none
  int vocab_begin = 0, vocab = 0;       // output (logit) rows

  bool split() const { return tp.ranks > 1; }
};

// The types whose block sizes constrain the column splits (attn_output by heads, ffn_down by
// FFN columns). FFN columns move in whole blocks of ffn_down's type, so an uneven split may
// leave a rank with none.
struct SplitTypes {
  DType attn_output = DType::F32;
  DType ffn_down = DType::F32;
};

// Throws InvalidArgument naming the constraint that fails: ranks < 1, a rank outside
// [0, ranks), heads or vocab not divisible by ranks, K/V heads that neither divide nor are
// divided by ranks, or a rank's attention-output columns that are not whole blocks.
ShardShape shard_shape(const LlamaConfig& config, TensorParallel tp, SplitTypes types = {});

// How a tensor of the layout is cut for one rank: whole, a range of rows, or a range of
// columns (the contiguous dimension; for vectors, the range of elements).
struct TensorSlice {
  enum class Kind { Whole, Rows, Cols } kind = Kind::Whole;
  int64_t begin = 0;
  int64_t count = 0;  // rows or columns; 0 means the rank holds none of the tensor
};
TensorSlice tensor_slice(const TensorSpec& spec, const LlamaConfig& config,
                         const ShardShape& shard);
// The rank's part of `spec` as a spec of its own shape (same name and role).
TensorSpec local_spec(const TensorSpec& spec, const TensorSlice& slice);
// Copies the rank's part out of the whole tensor's bytes (stored as `dtype`). Column ranges
// must be whole blocks (shard_shape guarantees it for the tensors it cuts by columns).
std::vector<uint8_t> slice_bytes(const uint8_t* whole, DType dtype, const TensorSpec& spec,
                                 const TensorSlice& slice);

}  // namespace stagefence::llama
