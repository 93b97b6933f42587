// Parameters of "sample" (kernel_spec.hpp): one scalar word per field, in the spec's order.
#pragma once
#include <cstdint>

#include "kernels/params/shape_check.hpp"

namespace stagefence::kernels {

struct SampleParams {
  int64_t vocab = 0;
  ScalarF32 temperature = 0.0f;  // <= 0: greedy
  int64_t top_k = 0;             // 0: no limit
  ScalarF32 top_p = 1.0f;        // >= 1: off
  int64_t max_steps = 0;         // length of the history binding

  std::string check() const {
    return ShapeCheck()
        .range("vocab", vocab, 1, kMaxExtent)
        .range("top_k", top_k, 0, kMaxExtent)
        .range("max_steps", max_steps, 0, kMaxExtent)
        .result();
  }
};

static_assert(sizeof(SampleParams) == 5 * 8, "SampleParams: one word per scalar of the spec");

}  // namespace stagefence::kernels
