// "rmsnorm": y = x / sqrt(mean(x²) + eps) · w  (or · (1 + w); or y += that). One block per row; the
// sum of squares is reduced in a fixed order.
#include <cstdint>

#include "kernels/cuda/common.cuh"
#include "kernels/params/rmsnorm.hpp"

namespace stagefence::kernels::cuda {
namespace {

__global__ void rmsnorm_kernel(KernelArgs a) {
  const float* x = a.p<const float>(0);
  const float* w = a.p<const float>(1);
  float* y = a.p<float>(2);  // may alias x: each element is read before its own write
  const RmsnormParams p = a.params<RmsnormParams>();
  const int64_t n = p.n;
  const float eps = p.eps;
  const bool add_one = p.add_one != 0;
  const bool accumulate = p.accumulate != 0;
  const float* xr = x + int64_t(blockIdx.x) * n;
  float* yr = y + int64_t(blockIdx.x) * n;
  __shared__ float scratch[32];
  float ss = 0.0f;
  for (int64_t i = threadIdx.x; i < n; i += blockDim.x) ss += xr[i] * xr[i];
  ss = block_sum(ss, scratch);
  const float inv = rsqrtf(ss / float(n) + eps);
  for (int64_t i = threadIdx.x; i < n; i += blockDim.x) {
    const float wi = add_one ? 1.0f + w[i] : w[i];
    // With accumulate the product is rounded before the add (no fused multiply-add), as the
    // CPU kernel and a separate "add" do.
    yr[i] = accumulate ? __fadd_rn(yr[i], xr[i] * inv * wi) : xr[i] * inv * wi;
  }
}

Launch rmsnorm_launch(const KernelArgs& a) {
  Launch l;
  l.grid = {static_cast<uint32_t>(a.params<RmsnormParams>().rows), 1, 1};
  l.block = {1024, 1, 1};
  return l;
}

}  // namespace

void append_rmsnorm_kernels(std::vector<CudaKernelEntry>& t) {
  t.push_back({"rmsnorm", reinterpret_cast<const void*>(&rmsnorm_kernel), &rmsnorm_launch});
}

}  // namespace stagefence::kernels::cuda
