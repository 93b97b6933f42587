// Parameters of the matrix products "matvec.<wt>" and "matmul.<wt>" (kernel_spec.hpp): one scalar
// word per field, in the spec's order. Whole weight blocks per row are the op encoder's rule.
#pragma once
#include <cstdint>

#include "kernels/params/shape_check.hpp"

namespace stagefence::kernels {

inline constexpr int64_t kMatFlagsAll = 3;     // kMatFlagBias | kMatFlagAccumulate
inline constexpr int64_t kMatmulFlagsAll = 7;  // and kMatFlagScratch (kernel_spec.hpp)

struct MatvecParams {
  int64_t rows = 0;
  int64_t cols = 0;
  int64_t flags = 0;  // kMatFlagBias, kMatFlagAccumulate

  std::string check() const {
    return ShapeCheck()
        .range("rows", rows, 0, kMaxExtent)
        .range("cols", cols, 1, kMaxExtent)
        .range("flags", flags, 0, kMatFlagsAll)
        .result();
  }
};

struct MatmulParams {
  int64_t rows = 0;
  int64_t cols = 0;
  int64_t flags = 0;  // kMatFlagBias, kMatFlagAccumulate, kMatFlagScratch
  int64_t tokens = 0;

  std::string check() const {
    return ShapeCheck()
        .range("rows", rows, 0, kMaxExtent)
        .range("cols", cols, 1, kMaxExtent)
        .range("flags", flags, 0, kMatmulFlagsAll)
        .range("T", tokens, 0, kMaxExtent)
        .result();
  }
};

static_assert(sizeof(MatvecParams) == 3 * 8, "MatvecParams: one word per scalar of the spec");
static_assert(sizeof(MatmulParams) == 4 * 8, "MatmulParams: one word per scalar of the spec");

}  // namespace stagefence::kernels
