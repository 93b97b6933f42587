// CUDA versions of the hash initialiser's kernels ("init.hash", "init.hash_kv"; contract in
// device_init.hpp): grid-stride loops over device_init_hash.hpp's per-unit work, which the CPU
// kernels share, so both backends write the same bits.
#include <cuda_runtime.h>

#include <algorithm>
#include <cstdint>

#include "model/llama/device_init.hpp"
#include "model/llama/device_init_hash.hpp"
#include "stagefence/kernel.hpp"

namespace stagefence::llama {
namespace {

namespace di = device_init;

constexpr uint32_t kThreads = 256;
constexpr uint64_t kMaxBlocks = 1u << 20;

Launch grid_stride_launch(uint64_t items) {
  Launch l;
  l.grid.x = uint32_t(std::clamp<uint64_t>((items + kThreads - 1) / kThreads, 1, kMaxBlocks));
  l.block.x = kThreads;
  return l;
}

__global__ void hash_fill_kernel(KernelArgs a) {
  const uint64_t units = a.s[0];
  const auto format = di::HashFormat(a.u32(1));
  const uint32_t key_a = a.u32(2), key_b = a.u32(3);
  const float scale = a.f32(4);
  const int32_t offset = a.i32(5);
  const auto block_d = uint16_t(a.s[6]);
  const uint64_t stride = uint64_t(gridDim.x) * blockDim.x;
  for (uint64_t u = uint64_t(blockIdx.x) * blockDim.x + threadIdx.x; u < units; u += stride)
    di::write_hashed_unit(a.ptr[0], u, format, key_a, key_b, scale, offset, block_d);
}

Launch hash_fill_launch(const KernelArgs& a) {
  return grid_stride_launch(a.s[0]);
}

// One thread per cache element of positions [0, n).
__global__ void hash_kv_fill_kernel(KernelArgs a) {
  uint16_t* cache = a.p<uint16_t>(0);
  const uint64_t kv_heads = a.s[0], cap = a.s[1], head_dim = a.s[2], positions = a.s[3];
  const uint32_t key_a = a.u32(4), key_b = a.u32(5);
  const float scale = a.f32(6);
  const uint64_t total = positions * kv_heads * head_dim;
  const uint64_t stride = uint64_t(gridDim.x) * blockDim.x;
  for (uint64_t i = uint64_t(blockIdx.x) * blockDim.x + threadIdx.x; i < total; i += stride) {
    const uint64_t d = i % head_dim, h = (i / head_dim) % kv_heads, pos = i / (head_dim * kv_heads);
    const uint32_t index = di::kv_hash_index(uint32_t(pos), uint32_t(h), uint32_t(d),
                                             uint32_t(kv_heads), uint32_t(head_dim));
    cache[(h * cap + pos) * head_dim + d] =
        quant::float_to_half(di::element_value(di::element_hash(key_a, key_b, index), 0, scale));
  }
}

Launch hash_kv_fill_launch(const KernelArgs& a) {
  return grid_stride_launch(a.s[3] * a.s[0] * a.s[2]);
}

}  // namespace

void register_cuda_device_init_kernels() {
  KernelRegistry& registry = KernelRegistry::global();
  registry.add_cuda("init.hash", reinterpret_cast<const void*>(&hash_fill_kernel),
                    &hash_fill_launch);
  registry.add_cuda("init.hash_kv", reinterpret_cast<const void*>(&hash_kv_fill_kernel),
                    &hash_kv_fill_launch);
}

}  // namespace stagefence::llama
