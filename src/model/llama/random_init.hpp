// Deterministic random weights for a Llama-family layout: the built-in model and benchmark
// models with Llama-3-8B shapes are made from these, without any download.
#pragma once
#include <cstdint>
#include <vector>

#include "model/llama/tensor_layout.hpp"
#include "stagefence/dtype.hpp"

namespace stagefence::llama {

// The storage type of each kind of weight; vectors (norms, biases) are always F32.
struct WeightTypes {
  DType embedding = DType::Q8_0;
  DType attention = DType::Q8_0;  // attn_q/k/v/output
  DType ffn_gate_up = DType::Q4_0;
  DType ffn_down = DType::Q4_0;
  DType output = DType::Q8_0;

  static WeightTypes all(DType t) { return {t, t, t, t, t}; }
  DType type_of(const TensorSpec& spec) const;
};

// Values of rows [row_begin, row_end) of `spec`, a pure function of (seed, name, index) so that
// any split across threads gives the same tensor. Matrices are uniform with variance 1/cols (the
// output projection with a larger gain so logits are not flat), untied embeddings have unit
// variance (a tied one is scaled like the output projection),
// norm gains lie in [0.8, 1.2], biases in [-0.1, 0.1].
void random_values(const TensorSpec& spec, uint64_t seed, int64_t row_begin, int64_t row_end,
                   float* out);

// The rows [row_begin, row_end) of `spec` encoded as `dtype`, made on several threads.
std::vector<uint8_t> random_tensor_bytes(const TensorSpec& spec, DType dtype, uint64_t seed,
                                         int64_t row_begin, int64_t row_end);

}  // namespace stagefence::llama
