// Parameters of "swiglu" and "add" (kernel_spec.hpp): one scalar word per field, in the spec's
// order. "step_advance" takes none.
#pragma once
#include <cstdint>

#include "kernels/params/shape_check.hpp"

namespace stagefence::kernels {

struct SwigluParams {
  int64_t n = 0;
  int64_t act = 0;  // 0: silu(gate)·up, 1: gelu_tanh(gate)·up

  std::string check() const {
    return ShapeCheck().range("n", n, 0, kMaxExtent).range("act", act, 0, 1).result();
  }
};

struct AddParams {
  int64_t n = 0;

  std::string check() const { return ShapeCheck().range("n", n, 0, kMaxExtent).result(); }
};

static_assert(sizeof(SwigluParams) == 2 * 8, "SwigluParams: one word per scalar of the spec");
static_assert(sizeof(AddParams) == 1 * 8, "AddParams: one word per scalar of the spec");

}  // namespace stagefence::kernels
