// Parameters of "rope" (kernel_spec.hpp): one scalar word per field, in the spec's order.
#pragma once
#include <cstdint>

#include "kernels/params/shape_check.hpp"

namespace stagefence::kernels {

struct RopeKernelParams {
  int64_t tokens = 0;
  int64_t heads = 0;
  int64_t head_dim = 0;
  int64_t rot_dim = 0;  // the first rot_dim dims of each head rotate
  ScalarF32 theta_base = 10000.0f;
  int64_t mode = 0;  // 0: pairs (2i, 2i+1); 1: pairs (i, i + rot_dim/2)
  ScalarF32 freq_scale = 1.0f;

  std::string check() const {
    return ShapeCheck()
        .range("T", tokens, 0, kMaxExtent)
        .range("heads", heads, 1, kMaxExtent)
        .range("head_dim", head_dim, 1, kMaxExtent)
        .range("rot_dim", rot_dim, 0, head_dim)
        .multiple("rot_dim", rot_dim, 2, "dims rotate in pairs")
        .range("mode", mode, 0, 1)
        .result();
  }
};

static_assert(sizeof(RopeKernelParams) == 7 * 8,
              "RopeKernelParams: one word per scalar of the spec");

}  // namespace stagefence::kernels
