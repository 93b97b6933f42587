// Parameters of "rmsnorm" (kernel_spec.hpp): one scalar word per field, in the spec's order.
#pragma once
#include <cstdint>

#include "kernels/params/shape_check.hpp"

namespace stagefence::kernels {

struct RmsnormParams {
  int64_t rows = 0;
  int64_t n = 0;
  ScalarF32 eps = 0.0f;
  int64_t add_one = 0;     // 1: y = x̂·(1 + w) (Gemma)
  int64_t accumulate = 0;  // 1: y += x̂·w (a post-norm into the residual; y must not alias x)

  std::string check() const {
    return ShapeCheck()
        .range("rows", rows, 0, kMaxExtent)
        .range("n", n, 1, kMaxExtent)
        .range("add_one", add_one, 0, 1)
        .range("accumulate", accumulate, 0, 1)
        .result();
  }
};

static_assert(sizeof(RmsnormParams) == 5 * 8, "RmsnormParams: one word per scalar of the spec");

}  // namespace stagefence::kernels
