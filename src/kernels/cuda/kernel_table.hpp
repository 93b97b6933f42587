// The CUDA forward-pass kernels as a plain table, so both the registry (register_cuda.cu) and the
// standalone check-and-benchmark harness (bench/cuda_kernels) can reach them.
#pragma once
#include <string>
#include <string_view>
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
// The weight types whose "matvec.<wt>" runs on the streaming engine (matvec_stream.cu) instead.
constexpr bool matvec_streams(std::string_view weight_type) {
  return weight_type == "q8_0" || weight_type == "q6_k";
}
void append_matvec_stream_kernels(std::vector<CudaKernelEntry>& table);
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
