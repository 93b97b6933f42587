// "kv_store": cache[h, pos_t, :] = half(src[t, h, :]); positions >= cap (or < 0) are skipped.
#include <cstdint>

#include "kernels/cuda/common.cuh"
#include "kernels/params/kv_store.hpp"

namespace stagefence::kernels::cuda {
namespace {

__global__ void kv_store_kernel(KernelArgs a) {
  const float* src = a.p<const float>(0);
  uint16_t* cache = a.p<uint16_t>(1);
  const int32_t* positions = a.p<const int32_t>(2);
  const KvStoreParams p = a.params<KvStoreParams>();
  const int64_t T = p.tokens, kv_heads = p.kv_heads, head_dim = p.head_dim, cap = p.cap;
  const int64_t total = T * kv_heads * head_dim;
  for (int64_t idx = int64_t(blockIdx.x) * blockDim.x + threadIdx.x; idx < total;
       idx += int64_t(gridDim.x) * blockDim.x) {
    const int64_t d = idx % head_dim, h = (idx / head_dim) % kv_heads,
                  t = idx / (head_dim * kv_heads);
    const int64_t pos = positions[t];
    if (pos < 0 || pos >= cap) continue;
    cache[(h * cap + pos) * head_dim + d] = quant::float_to_half(src[idx]);
  }
}

Launch kv_store_launch(const KernelArgs& a) {
  const KvStoreParams p = a.params<KvStoreParams>();
  return elementwise_launch(uint64_t(p.tokens) * p.kv_heads * p.head_dim, 1);
}

}  // namespace

void append_kv_store_kernels(std::vector<CudaKernelEntry>& t) {
  t.push_back({"kv_store", reinterpret_cast<const void*>(&kv_store_kernel), &kv_store_launch});
}

}  // namespace stagefence::kernels::cuda
