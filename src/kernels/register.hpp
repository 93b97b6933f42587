// Registration of the forward-pass kernels with the process-wide KernelRegistry.
#pragma once

namespace stagefence::kernels {

// Adds every CPU forward kernel (and, in CUDA builds, every CUDA one). Idempotent and
// thread-safe: only the first call registers.
void register_forward_kernels();

#if defined(STAGEFENCE_WITH_CUDA)
// Defined with the CUDA kernels (src/kernels/cuda/).
void register_cuda_forward_kernels();
#endif

}  // namespace stagefence::kernels
