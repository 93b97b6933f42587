// Parameters of "embed.<wt>" (kernel_spec.hpp): one scalar word per field, in the spec's order.
#pragma once
#include <cstdint>

#include "kernels/params/shape_check.hpp"

namespace stagefence::kernels {

struct EmbedParams {
  int64_t dim = 0;
  int64_t tokens = 0;
  int64_t vocab = 0;
  ScalarF32 scale = 1.0f;  // 1.0: none

  std::string check() const {
    return ShapeCheck()
        .range("dim", dim, 1, kMaxExtent)
        .range("T", tokens, 0, kMaxExtent)
        .range("vocab", vocab, 1, kMaxExtent)
        .result();
  }
};

static_assert(sizeof(EmbedParams) == 4 * 8, "EmbedParams: one word per scalar of the spec");

}  // namespace stagefence::kernels
