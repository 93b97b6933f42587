// The two kernels the CUDA backend adds around a loop buffer's body: loop_head, before the
// conditional WHILE node, and loop_tail, the body's last node. Both read the LoopWords and set
// the node's condition with cudaGraphSetConditional; loop_tail also counts the iteration.
#pragma once
#include <cuda_runtime_api.h>

#include <cstdint>

namespace stagefence::cuda {

// Kernel signature of both: (uint32_t* words, cudaGraphConditionalHandle handle, uint32_t max).
const void* loop_head_kernel();
const void* loop_tail_kernel();

}  // namespace stagefence::cuda
