// How the CUDA backend reads a dispatch's implementation (KernelImpl in its CUDA slot): a
// __global__ function's address, or with kEnqueue a function that enqueues its own work.
#pragma once
#include "core/command_buffer.hpp"
#include "stagefence/kernel.hpp"

namespace stagefence {

inline bool is_enqueue(const DispatchRecord& d) {
  return d.impl->has(KernelImpl::kEnqueue);
}
inline CudaEnqueueFn enqueue_fn(const DispatchRecord& d) {
  return d.impl->entry_as<CudaEnqueueFn>();
}
inline bool is_programmatic(const DispatchRecord& d) {
  return d.impl->has(KernelImpl::kProgrammatic);
}

}  // namespace stagefence
