// Shared device helpers for the CUDA forward-pass kernels: reductions, vector loads, launch
// helpers. Reductions use a fixed shuffle/shared-memory order so results are deterministic.
#pragma once
#include <cuda_fp16.h>
#include <cuda_runtime.h>

#include <cstdint>

#include "kernels/cuda/kernel_table.hpp"
#include "kernels/kernel_spec.hpp"
#include "kernels/quant_blocks.hpp"
#include "stagefence/kernel_args.hpp"

namespace stagefence::kernels::cuda {

inline constexpr unsigned kFullMask = 0xffffffffu;

__device__ __forceinline__ float warp_sum(float v) {
#pragma unroll
  for (int o = 16; o > 0; o >>= 1) v += __shfl_xor_sync(kFullMask, v, o);
  return v;
}

__device__ __forceinline__ float warp_max(float v) {
#pragma unroll
  for (int o = 16; o > 0; o >>= 1) v = fmaxf(v, __shfl_xor_sync(kFullMask, v, o));
  return v;
}

// Sum over the whole block (blockDim.x a multiple of 32, at most 1024); every thread gets it.
// `scratch` holds 32 floats. Contains __syncthreads: call from all threads.
__device__ __forceinline__ float block_sum(float v, float* scratch) {
  const int lane = threadIdx.x & 31, warp = threadIdx.x >> 5, nwarps = blockDim.x >> 5;
  v = warp_sum(v);
  __syncthreads();  // scratch may still be read from a previous call
  if (lane == 0) scratch[warp] = v;
  __syncthreads();
  float t = lane < nwarps ? scratch[lane] : 0.0f;
  return warp_sum(t);
}

// 16-byte read-only load that bypasses L1 allocation (weights are streamed once).
__device__ __forceinline__ uint4 load_stream_u4(const void* p) {
  uint4 r;
  asm volatile("ld.global.nc.L1::no_allocate.v4.u32 {%0,%1,%2,%3}, [%4];"
               : "=r"(r.x), "=r"(r.y), "=r"(r.z), "=r"(r.w)
               : "l"(p));
  return r;
}

__device__ __forceinline__ float4 load_f4(const float* p) {
  return __ldg(reinterpret_cast<const float4*>(p));
}

__device__ __forceinline__ float lo_half_f(uint32_t w) {
  return __half2float(__ushort_as_half(static_cast<unsigned short>(w & 0xffffu)));
}
__device__ __forceinline__ float hi_half_f(uint32_t w) {
  return __half2float(__ushort_as_half(static_cast<unsigned short>(w >> 16)));
}
__device__ __forceinline__ float lo_bf16_f(uint32_t w) {
  return __uint_as_float(w << 16);
}
__device__ __forceinline__ float hi_bf16_f(uint32_t w) {
  return __uint_as_float(w & 0xffff0000u);
}

// Programmatic dependent launch (kernels flagged `programmatic` in the table): a kernel lets its
// dependents start early, and waits for its predecessors before it reads what they wrote or
// writes anything. Every block of such a kernel must wait, on every path.
__device__ __forceinline__ void grid_dependency_wait() {
#if defined(__CUDA_ARCH__) && __CUDA_ARCH__ >= 900
  asm volatile("griddepcontrol.wait;" ::: "memory");
#endif
}
__device__ __forceinline__ void allow_dependents() {
#if defined(__CUDA_ARCH__) && __CUDA_ARCH__ >= 900
  asm volatile("griddepcontrol.launch_dependents;");
#endif
}

__device__ __forceinline__ float sf_nan() {
  return __int_as_float(0x7fc00000);
}

inline uint32_t ceil_div_u32(uint64_t a, uint64_t b) {
  return static_cast<uint32_t>((a + b - 1) / b);
}

// Grid for an elementwise kernel: `per_thread` elements per thread, 256 threads per block,
// at most 65535*? blocks in x (grid-stride loops cover the rest).
inline Launch elementwise_launch(uint64_t n, uint32_t per_thread) {
  Launch l;
  l.block = {256, 1, 1};
  uint64_t blocks = (n + uint64_t(256) * per_thread - 1) / (uint64_t(256) * per_thread);
  if (blocks == 0) blocks = 1;
  if (blocks > 8192) blocks = 8192;
  l.grid = {static_cast<uint32_t>(blocks), 1, 1};
  return l;
}

}  // namespace stagefence::kernels::cuda
