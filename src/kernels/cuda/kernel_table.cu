#include "kernels/cuda/kernel_table.hpp"

namespace stagefence::kernels::cuda {

const std::vector<CudaKernelEntry>& cuda_forward_kernel_table() {
  static const std::vector<CudaKernelEntry> table = [] {
    std::vector<CudaKernelEntry> t;
    append_embed_kernels(t);
    append_rmsnorm_kernels(t);
    append_matvec_kernels(t);
    append_matvec_stream_kernels(t);
    append_matmul_kernels(t);
    append_rope_kernels(t);
    append_kv_store_kernels(t);
    append_attention_kernels(t);
    append_elementwise_kernels(t);
    append_sample_kernels(t);
    append_decode_kernels(t);
    append_attention_decode_kernels(t);
    append_finite_kernels(t);
    return t;
  }();
  return table;
}

}  // namespace stagefence::kernels::cuda
