// The op encoder of "finite_check" (kernel_spec.hpp): a device-side test for NaN and Inf that
// leaves its verdict in a flag word, so the host learns it with the token it reads anyway.
#pragma once
#include <cstdint>

#include "stagefence/buffer.hpp"
#include "stagefence/command_encoder.hpp"

namespace stagefence::kernels::ops {

// The flag's value while every check has found only finite numbers.
inline constexpr uint32_t kAllFinite = 0xffffffffu;

// flag[0] = min(flag[0], code) when any of x[0, n) (f32) is NaN or Inf.
void finite_check(CommandEncoder& enc, const Buffer& x, uint64_t n, const Buffer& flag,
                  uint32_t code);

}  // namespace stagefence::kernels::ops
