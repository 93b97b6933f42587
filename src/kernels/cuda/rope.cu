// "rope": rotates the first rot_dim dims of each head in place. The angle is computed in double
// (positions reach tens of thousands, where a float angle is off by ~1e-3 rad).
#include <cstdint>

#include "kernels/cuda/common.cuh"
#include "kernels/params/rope.hpp"

namespace stagefence::kernels::cuda {
namespace {

__global__ void rope_kernel(KernelArgs a) {
  float* x = a.p<float>(0);
  const int32_t* positions = a.p<const int32_t>(1);
  const RopeKernelParams p = a.params<RopeKernelParams>();
  const int64_t T = p.tokens, heads = p.heads, head_dim = p.head_dim, rot = p.rot_dim;
  const double theta = p.theta_base, freq_scale = p.freq_scale;
  const bool neox = p.mode == 1;
  const int64_t half = rot / 2;
  const int64_t total = T * heads * half;
  for (int64_t idx = int64_t(blockIdx.x) * blockDim.x + threadIdx.x; idx < total;
       idx += int64_t(gridDim.x) * blockDim.x) {
    const int64_t i = idx % half, th = idx / half, t = th / heads;
    const double angle =
        double(positions[t]) * freq_scale * pow(theta, -2.0 * double(i) / double(rot));
    double s, c;
    sincos(angle, &s, &c);
    float* v = x + th * head_dim;
    const int64_t i0 = neox ? i : 2 * i, i1 = neox ? i + half : 2 * i + 1;
    const float a0 = v[i0], a1 = v[i1];
    v[i0] = float(a0 * c - a1 * s);
    v[i1] = float(a0 * s + a1 * c);
  }
}

Launch rope_launch(const KernelArgs& a) {
  const RopeKernelParams p = a.params<RopeKernelParams>();
  return elementwise_launch(uint64_t(p.tokens) * p.heads * (p.rot_dim / 2), 1);
}

}  // namespace

void append_rope_kernels(std::vector<CudaKernelEntry>& t) {
  t.push_back({"rope", reinterpret_cast<const void*>(&rope_kernel), &rope_launch});
}

}  // namespace stagefence::kernels::cuda
