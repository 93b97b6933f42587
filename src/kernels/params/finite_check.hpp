// Parameters of "finite_check" (kernel_spec.hpp): one scalar word per field, in the spec's order.
#pragma once
#include <cstdint>

#include "kernels/params/shape_check.hpp"

namespace stagefence::kernels {

struct FiniteCheckParams {
  int64_t n = 0;     // f32 elements of x
  int64_t code = 0;  // written to the flag (the smaller kept) when x holds NaN or Inf

  std::string check() const {
    return ShapeCheck()
        .range("n", n, 0, kMaxExtent)
        .range("code", code, 0, int64_t(0xfffffffe))
        .result();
  }
};

static_assert(sizeof(FiniteCheckParams) == 2 * 8, "FiniteCheckParams: one word per scalar");

}  // namespace stagefence::kernels
