// CUDA versions of the builtin kernels (same names, bindings and scalars as the CPU ones in
// src/cpu/builtin_kernels.cpp), plus kernels that exist to test the runtime: two that fault on
// purpose and one that spins for a while and reports when it ran.
#include <cuda_runtime.h>

#include <algorithm>
#include <cstdint>

#include "core/builtin_kernels.hpp"
#include "stagefence/kernel.hpp"
#include "stagefence/loop_control.hpp"

namespace stagefence {
namespace {

constexpr uint32_t kThreads = 256;
constexpr uint64_t kMaxBlocks = 1u << 18;  // grid-stride loops cover the rest

Launch elementwise_launch(const KernelArgs& a) {
  Launch l;
  const uint64_t blocks = std::clamp<uint64_t>((a.s[0] + kThreads - 1) / kThreads, 1, kMaxBlocks);
  l.grid.x = static_cast<uint32_t>(blocks);
  l.block.x = kThreads;
  return l;
}

Launch copy_launch(const KernelArgs& a) {
  Launch l;
  const uint64_t items = (a.s[0] + 15) / 16;
  l.grid.x =
      static_cast<uint32_t>(std::clamp<uint64_t>((items + kThreads - 1) / kThreads, 1, kMaxBlocks));
  l.block.x = kThreads;
  return l;
}

Launch single_thread_launch(const KernelArgs&) {
  return Launch{};
}

__device__ __forceinline__ uint64_t thread_index() {
  return uint64_t(blockIdx.x) * blockDim.x + threadIdx.x;
}
__device__ __forceinline__ uint64_t thread_count() {
  return uint64_t(gridDim.x) * blockDim.x;
}

// fill_f32: b0 out f32 [n]; s0 n, s1 value (f32).
__global__ void fill_f32(KernelArgs a) {
  float* out = a.p<float>(0);
  const float v = a.f32(1);
  for (uint64_t i = thread_index(); i < a.s[0]; i += thread_count()) out[i] = v;
}

// copy_bytes: b0 src, b1 dst; s0 bytes. 16-byte moves when both ends are 16-byte aligned.
__global__ void copy_bytes(KernelArgs a) {
  const char* src = a.p<const char>(0);
  char* dst = a.p<char>(1);
  const uint64_t bytes = a.s[0];
  const bool aligned =
      ((reinterpret_cast<uintptr_t>(src) | reinterpret_cast<uintptr_t>(dst)) & 15) == 0;
  const uint64_t vectors = aligned ? bytes / 16 : 0;
  for (uint64_t i = thread_index(); i < vectors; i += thread_count())
    reinterpret_cast<uint4*>(dst)[i] = reinterpret_cast<const uint4*>(src)[i];
  for (uint64_t i = vectors * 16 + thread_index(); i < bytes; i += thread_count()) dst[i] = src[i];
}

// add_f32 / mul_f32: b0 a, b1 b, b2 out; s0 n.
__global__ void add_f32(KernelArgs a) {
  const float* x = a.p<const float>(0);
  const float* y = a.p<const float>(1);
  float* out = a.p<float>(2);
  for (uint64_t i = thread_index(); i < a.s[0]; i += thread_count()) out[i] = x[i] + y[i];
}

__global__ void mul_f32(KernelArgs a) {
  const float* x = a.p<const float>(0);
  const float* y = a.p<const float>(1);
  float* out = a.p<float>(2);
  for (uint64_t i = thread_index(); i < a.s[0]; i += thread_count()) out[i] = x[i] * y[i];
}

// fail: traps when s0 != 0; otherwise does nothing.
__global__ void fail(KernelArgs a) {
  if (a.s[0] != 0) __trap();
}

// fault.illegal_address: stores to an address no allocation can own (s0 adds an offset).
__global__ void fault_illegal_address(KernelArgs a) {
  volatile int* bad = reinterpret_cast<volatile int*>(uintptr_t(0x10) + (a.s[0] & ~uint64_t(3)));
  *bad = 1;
}

// fault.trap: executes a trap instruction.
__global__ void fault_trap(KernelArgs) {
  __trap();
}

__device__ __forceinline__ uint64_t global_timer_ns() {
  uint64_t t;
  asm volatile("mov.u64 %0, %%globaltimer;" : "=l"(t));
  return t;
}

// timestamp_spin: b0 out u64[2]; s0 nanoseconds to spin. Writes its %globaltimer start and end.
__global__ void timestamp_spin(KernelArgs a) {
  const uint64_t start = global_timer_ns();
  uint64_t now = start;
  while (now - start < a.s[0]) now = global_timer_ns();
  uint64_t* out = a.p<uint64_t>(0);
  out[0] = start;
  out[1] = now;
}

// loop_control (stagefence/loop_control.hpp), as on the CPU: the token reaches the host-mapped
// ring before the counter that publishes it (__threadfence_system between the stores).
struct DeviceLoopChannel {
  char* base;
  volatile uint32_t* condition;
  __device__ volatile uint64_t* count() const {
    return reinterpret_cast<volatile uint64_t*>(base + loop_layout::kCount);
  }
  __device__ uint64_t published() const { return *count(); }
  __device__ void publish(uint64_t n, int32_t token) const {
    reinterpret_cast<volatile int32_t*>(base + loop_layout::kRing)[n] = token;
    __threadfence_system();
    *count() = n + 1;
    __threadfence_system();
  }
  __device__ bool cancelled() const {
    return *reinterpret_cast<volatile uint32_t*>(base + loop_layout::kCancel) != 0;
  }
  __device__ void finish(LoopStop reason) const {
    *reinterpret_cast<volatile uint32_t*>(base + loop_layout::kStop) = uint32_t(reason);
    __threadfence_system();
    *condition = 0;
    __threadfence();
  }
};

__global__ void loop_control(KernelArgs a) {
  const LoopControlParams p = a.params<LoopControlParams>();
  const volatile int32_t* status = a.p<const int32_t>(0);
  DeviceLoopChannel channel{reinterpret_cast<char*>(p.channel), a.p<uint32_t>(1)};
  loop_control_step(p, status[0], uint32_t(status[1]), channel);
}

}  // namespace

void register_cuda_builtin_kernels() {
  auto& r = KernelRegistry::global();
  r.add_cuda("fill_f32", reinterpret_cast<const void*>(fill_f32), elementwise_launch);
  r.add_cuda("copy_bytes", reinterpret_cast<const void*>(copy_bytes), copy_launch);
  r.add_cuda("add_f32", reinterpret_cast<const void*>(add_f32), elementwise_launch);
  r.add_cuda("mul_f32", reinterpret_cast<const void*>(mul_f32), elementwise_launch);
  r.add_cuda("fail", reinterpret_cast<const void*>(fail), single_thread_launch);
  r.add_cuda("loop_control", reinterpret_cast<const void*>(loop_control), single_thread_launch);
  r.add_cuda("fault.illegal_address", reinterpret_cast<const void*>(fault_illegal_address),
             single_thread_launch);
  r.add_cuda("fault.trap", reinterpret_cast<const void*>(fault_trap), single_thread_launch);
  r.add_cuda("timestamp_spin", reinterpret_cast<const void*>(timestamp_spin), single_thread_launch);
}

}  // namespace stagefence
