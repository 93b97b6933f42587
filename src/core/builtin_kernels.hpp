// The small kernels every backend provides for tests and demos: fill_f32, copy_bytes, add_f32,
// mul_f32, and fail (throws on the CPU, traps on CUDA) when its scalar s0 is non-zero.
#pragma once

namespace stagefence {
void register_builtin_kernels();  // idempotent
#ifdef STAGEFENCE_WITH_CUDA
void register_cuda_builtin_kernels();
#endif
}  // namespace stagefence
