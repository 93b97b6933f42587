#include "kernels/register.hpp"

#include <mutex>

#include "kernels/cpu/cpu_kernels.hpp"
#include "stagefence/kernel.hpp"

namespace stagefence::kernels {

void register_forward_kernels() {
  static std::once_flag once;
  std::call_once(once, [] {
    KernelRegistry& registry = KernelRegistry::global();
    for (const cpu::CpuKernel& k : cpu::forward_kernels()) registry.add_cpu(k.name, k.fn, k.launch);
#if defined(STAGEFENCE_WITH_CUDA)
    register_cuda_forward_kernels();
#endif
  });
}

}  // namespace stagefence::kernels
