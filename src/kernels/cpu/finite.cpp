// "finite_check": marks the flag word with the check's code when any element is NaN or Inf.
#include <atomic>
#include <cmath>
#include <cstdint>

#include "kernels/cpu/cpu_kernels.hpp"
#include "kernels/cpu/kernel_util.hpp"
#include "kernels/params/finite_check.hpp"

namespace stagefence::kernels::cpu {
namespace {

constexpr int64_t kElementsPerBlock = 16384;

void finite_check(const KernelArgs& args, const Launch& launch, uint64_t block_begin,
                  uint64_t block_end) {
  constexpr const char* kName = "finite_check";
  const FiniteCheckParams p = checked_params<FiniteCheckParams>(args, kName);
  const int64_t n = p.n;
  const uint32_t code = uint32_t(p.code);
  require_binding(args, 0, uint64_t(n) * 4, kName, "x");
  require_binding(args, 1, 4, kName, "flag");
  const float* x = args.p<const float>(0);
  const ItemRange range = items_of_blocks(n, launch, block_begin, block_end);
  bool finite = true;
  for (int64_t i = range.begin; i < range.end; ++i) finite &= std::isfinite(x[i]);
  if (finite) return;
  // Blocks run on several workers: keep the smallest code (the earliest check) that fired.
  std::atomic_ref<uint32_t> flag(*args.p<uint32_t>(1));
  uint32_t seen = flag.load(std::memory_order_relaxed);
  while (code < seen && !flag.compare_exchange_weak(seen, code, std::memory_order_relaxed)) {
  }
}

Launch finite_launch(const KernelArgs& args) {
  return grid_for(args.params<FiniteCheckParams>().n, kElementsPerBlock);
}

}  // namespace

void append_finite_kernels(std::vector<CpuKernel>& out) {
  out.push_back({"finite_check", finite_check, finite_launch});
}

}  // namespace stagefence::kernels::cpu
