// The CUDA forward-pass kernels as a plain table, so both the registry (register_cuda.cu) and the
// standalone check-and-benchmark harness (bench/cuda_kernels) can reach them.
#pragma once
#include <string>
#include <vector>

#include "stagefence/kernel.hpp"

namespace stagefence::kernels::cuda {

// Exactly one of `kernel` (a __global__ void f(KernelArgs), launched with `launch`) and
// `enqueue` (a host function that enqueues work on a stream) is set.
struct CudaKernelEntry {
  const char* name;
  const void* kernel = nullptr;
  LaunchFn launch = nullptr;
  CudaEnqueueFn enqueue = nullptr;
  bool programmatic = false;  // KernelDef::cuda_programmatic
};

// Every CUDA kernel of kernel_spec.hpp, built once.
const std::vector<CudaKernelEntry>& cuda_forward_kernel_table();

// Per-family contributions to the table (one per .cu file).
void append_embed_kernels(std::vector<CudaKernelEntry>& table);
void append_rmsnorm_kernels(std::vector<CudaKernelEntry>& table);
void append_matvec_kernels(std::vector<CudaKernelEntry>& table);
void append_matmul_kernels(std::vector<CudaKernelEntry>& table);
void append_rope_kernels(std::vector<CudaKernelEntry>& table);
void append_kv_store_kernels(std::vector<CudaKernelEntry>& table);
void append_attention_kernels(std::vector<CudaKernelEntry>& table);
void append_elementwise_kernels(std::vector<CudaKernelEntry>& table);
void append_sample_kernels(std::vector<CudaKernelEntry>& table);
void append_decode_kernels(std::vector<CudaKernelEntry>& table);
void append_attention_decode_kernels(std::vector<CudaKernelEntry>& table);
void append_finite_kernels(std::vector<CudaKernelEntry>& table);

}  // namespace stagefence::kernels::cuda
