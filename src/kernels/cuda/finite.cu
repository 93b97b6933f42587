// "finite_check": marks the flag word with the check's code when any element is NaN or Inf.
#include <cstdint>

#include "kernels/cuda/common.cuh"
#include "kernels/params/finite_check.hpp"

namespace stagefence::kernels::cuda {
namespace {

__global__ void finite_check_kernel(KernelArgs a) {
  const FiniteCheckParams p = a.params<FiniteCheckParams>();
  const float* x = a.p<const float>(0);
  const int64_t n = p.n;
  bool finite = true;
  for (int64_t i = int64_t(blockIdx.x) * blockDim.x + threadIdx.x; i < n;
       i += int64_t(gridDim.x) * blockDim.x)
    finite &= isfinite(x[i]);
  // One atomic per warp that saw a bad value; the smallest code (the earliest check) wins.
  if (__any_sync(kFullMask, !finite) && (threadIdx.x & 31) == 0)
    atomicMin(a.p<unsigned>(1), unsigned(p.code));
}

Launch finite_launch(const KernelArgs& a) {
  return elementwise_launch(uint64_t(a.params<FiniteCheckParams>().n), 4);
}

}  // namespace

void append_finite_kernels(std::vector<CudaKernelEntry>& t) {
  t.push_back(
      {"finite_check", reinterpret_cast<const void*>(&finite_check_kernel), &finite_launch});
}

}  // namespace stagefence::kernels::cuda
