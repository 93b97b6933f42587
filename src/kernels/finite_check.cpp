#include "kernels/finite_check.hpp"

#include <cstdint>

#include "kernels/params/finite_check.hpp"
#include "kernels/register.hpp"
#include "stagefence/kernel.hpp"

namespace stagefence::kernels::ops {

void finite_check(CommandEncoder& enc, const Buffer& x, uint64_t n, const Buffer& flag,
                  uint32_t code) {
  static const KernelId id = [] {
    register_forward_kernels();
    return KernelRegistry::global().id("finite_check");
  }();
  const Binding bindings[] = {reads(x, 0, n * sizeof(float)),
                              reads_writes(flag, 0, sizeof(uint32_t))};
  enc.dispatch(id, bindings, 2, std::nullopt, FiniteCheckParams{int64_t(n), int64_t(code)});
}

}  // namespace stagefence::kernels::ops
