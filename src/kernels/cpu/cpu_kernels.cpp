#include "kernels/cpu/cpu_kernels.hpp"

namespace stagefence::kernels::cpu {

const std::vector<CpuKernel>& forward_kernels() {
  static const std::vector<CpuKernel> kernels = [] {
    std::vector<CpuKernel> all;
    append_embed_kernels(all);
    append_rmsnorm_kernels(all);
    append_matvec_kernels(all);
    append_matmul_kernels(all);
    append_rope_kernels(all);
    append_kv_store_kernels(all);
    append_attention_kernels(all);
    append_elementwise_kernels(all);
    append_sample_kernels(all);
    append_decode_fused_kernels(all);
    append_finite_kernels(all);
    return all;
  }();
  return kernels;
}

const CpuKernel* find_forward_kernel(std::string_view name) {
  for (const CpuKernel& k : forward_kernels())
    if (k.name == name) return &k;
  return nullptr;
}

}  // namespace stagefence::kernels::cpu
