// The CPU implementations of the forward kernels in kernel_spec.hpp, by spec name.
#pragma once
#include <string>
#include <string_view>
#include <vector>

#include "stagefence/kernel.hpp"

namespace stagefence::kernels::cpu {

struct CpuKernel {
  std::string name;
  CpuKernelFn fn = nullptr;
  LaunchFn launch = nullptr;
};

// Every CPU forward kernel ("embed.<wt>", "matvec.<wt>", "rmsnorm", ...), built once.
const std::vector<CpuKernel>& forward_kernels();
// The kernel named `name`, or nullptr.
const CpuKernel* find_forward_kernel(std::string_view name);

// Each family's file appends its kernels.
void append_embed_kernels(std::vector<CpuKernel>& out);
void append_rmsnorm_kernels(std::vector<CpuKernel>& out);
void append_matvec_kernels(std::vector<CpuKernel>& out);
void append_matmul_kernels(std::vector<CpuKernel>& out);
void append_rope_kernels(std::vector<CpuKernel>& out);
void append_kv_store_kernels(std::vector<CpuKernel>& out);
void append_attention_kernels(std::vector<CpuKernel>& out);
void append_elementwise_kernels(std::vector<CpuKernel>& out);
void append_sample_kernels(std::vector<CpuKernel>& out);
void append_decode_fused_kernels(std::vector<CpuKernel>& out);
void append_finite_kernels(std::vector<CpuKernel>& out);

}  // namespace stagefence::kernels::cpu
