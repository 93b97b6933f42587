// Adds every CUDA forward-pass kernel to the process-wide registry.
#include <mutex>

#include "kernels/cuda/kernel_table.hpp"
#include "stagefence/kernel.hpp"

namespace stagefence::kernels {

void register_cuda_forward_kernels() {
  static std::once_flag once;
  std::call_once(once, [] {
    auto& registry = KernelRegistry::global();
    for (const cuda::CudaKernelEntry& e : cuda::cuda_forward_kernel_table()) {
      if (e.enqueue != nullptr) {
        registry.add_cuda_enqueue(e.name, e.enqueue);
      } else {
        registry.add_cuda(e.name, e.kernel, e.launch, e.programmatic);
      }
    }
  });
}

}  // namespace stagefence::kernels
