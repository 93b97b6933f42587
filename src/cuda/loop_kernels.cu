#include <cuda_runtime.h>

#include <cstdint>

#include "cuda/loop_kernels.hpp"

namespace stagefence::cuda {
namespace {

// words[0] is the condition the body's loop_control clears, words[1] the iterations run.
__global__ void loop_head(uint32_t* words, cudaGraphConditionalHandle handle, uint32_t max) {
  volatile uint32_t* w = words;
  w[1] = 0;
  cudaGraphSetConditional(handle, (w[0] != 0 && max > 0) ? 1u : 0u);
}

__global__ void loop_tail(uint32_t* words, cudaGraphConditionalHandle handle, uint32_t max) {
  volatile uint32_t* w = words;
  const uint32_t done = w[1] + 1;
  w[1] = done;
  cudaGraphSetConditional(handle, (w[0] != 0 && done < max) ? 1u : 0u);
}

}  // namespace

const void* loop_head_kernel() {
  return reinterpret_cast<const void*>(loop_head);
}
const void* loop_tail_kernel() {
  return reinterpret_cast<const void*>(loop_tail);
}

}  // namespace stagefence::cuda
