#include "kernels/finite_check.hpp"

#include "kernels/register.hpp"
#include "stagefence/kernel.hpp"

namespace stagefence::kernels::ops {

void finite_check(CommandEncoder& enc, const Buffer& x, uint64_t n, const Buffer& flag,
                  uint32_t code) {
  static const KernelId id = [] {
    register_forward_kernels();
    return KernelRegistry::global().id("finite_check");
  }();
  enc.dispatch(id, {reads(x, 0, n * sizeof(float)), reads_writes(flag, 0, sizeof(uint32_t))},
               {Scalar(n), Scalar(code)});
}

}  // namespace stagefence::kernels::ops
