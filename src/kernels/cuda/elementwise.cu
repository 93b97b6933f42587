// Elementwise kernels: "swiglu", "add", and "step_advance" (the device-side decode counters).
#include <cstdint>

#include "kernels/cuda/common.cuh"
#include "kernels/params/elementwise.hpp"

namespace stagefence::kernels::cuda {
namespace {

__device__ __forceinline__ float gelu_tanh(float g) {
  const float k = 0.7978845608028654f;  // sqrt(2/pi)
  return 0.5f * g * (1.0f + tanhf(k * (g + 0.044715f * g * g * g)));
}

__global__ void swiglu_kernel(KernelArgs a) {
  const float* gate = a.p<const float>(0);
  const float* up = a.p<const float>(1);
  float* out = a.p<float>(2);
  const SwigluParams p = a.params<SwigluParams>();
  const int64_t n = p.n;
  const bool gelu = p.act == 1;
  for (int64_t i = int64_t(blockIdx.x) * blockDim.x + threadIdx.x; i < n;
       i += int64_t(gridDim.x) * blockDim.x) {
    const float g = gate[i];
    const float act = gelu ? gelu_tanh(g) : g / (1.0f + expf(-g));
    out[i] = act * up[i];
  }
}

__global__ void add_kernel(KernelArgs a) {
  const float* x = a.p<const float>(0);
  const float* y = a.p<const float>(1);
  float* out = a.p<float>(2);
  const int64_t n = a.params<AddParams>().n;
  for (int64_t i = int64_t(blockIdx.x) * blockDim.x + threadIdx.x; i < n;
       i += int64_t(gridDim.x) * blockDim.x) {
    out[i] = x[i] + y[i];
  }
}

__global__ void step_advance_kernel(KernelArgs a) {
  if (threadIdx.x == 0 && blockIdx.x == 0) {
    a.p<int32_t>(0)[0] += 1;
    a.p<uint64_t>(1)[1] += 1;
  }
}

// swiglu and add: n is the first word of both params structs.
Launch n_launch(const KernelArgs& a) {
  return elementwise_launch(uint64_t(a.params<AddParams>().n), 4);
}

Launch single_launch(const KernelArgs&) {
  Launch l;
  l.block = {32, 1, 1};
  return l;
}

}  // namespace

void append_elementwise_kernels(std::vector<CudaKernelEntry>& t) {
  t.push_back({"swiglu", reinterpret_cast<const void*>(&swiglu_kernel), &n_launch});
  t.push_back({"add", reinterpret_cast<const void*>(&add_kernel), &n_launch});
  t.push_back(
      {"step_advance", reinterpret_cast<const void*>(&step_advance_kernel), &single_launch});
}

}  // namespace stagefence::kernels::cuda
