// GraphCache::prepare_loop: a loop buffer as one executable graph, kept and updated in place for
// the next loop buffer of the same topology. The parent graph holds
// loop_head and a conditional WHILE node; the WHILE body holds the buffer's dispatch graph (as a
// child graph node, built as for any buffer) and then loop_tail, which sets the condition for
// the next iteration. One launch runs every iteration.
#include <cstdint>
#include <string>
#include <vector>

#include "core/command_buffer.hpp"
#include "core/counters_internal.hpp"
#include "cuda/cuda_error.hpp"
#include "cuda/graph_cache.hpp"
#include "cuda/loop_kernels.hpp"

namespace stagefence::cuda {

namespace {

cudaKernelNodeParams control_node(const void* kernel, void** args) {
  cudaKernelNodeParams p{};
  p.func = const_cast<void*>(kernel);
  p.gridDim = dim3(1, 1, 1);
  p.blockDim = dim3(1, 1, 1);
  p.kernelParams = args;
  return p;
}

}  // namespace

cudaGraph_t GraphCache::build_loop(const CommandBuffer& cb, const L2Window& window) {
  const std::string what = "the loop graph of command buffer " + cb.display_name();
  uint32_t* words = static_cast<uint32_t*>(cb.loop->words);
  uint32_t max = cb.loop->max_iterations;

  GraphOwner parent;
  check(cudaGraphCreate(&parent.g, 0), "cudaGraphCreate for " + what);
  cudaGraphConditionalHandle handle{};
  check(cudaGraphConditionalHandleCreate(&handle, parent.g, 0, 0),
        "cudaGraphConditionalHandleCreate for " + what, ErrorCode::KernelFault);

  void* args[3] = {&words, &handle, &max};
  cudaGraphNode_t head = nullptr;
  const cudaKernelNodeParams head_params = control_node(loop_head_kernel(), args);
  check(cudaGraphAddKernelNode(&head, parent.g, nullptr, 0, &head_params),
        "adding loop_head to " + what, ErrorCode::KernelFault);

  cudaGraphNodeParams cond{};
  cond.type = cudaGraphNodeTypeConditional;
  cond.conditional.handle = handle;
  cond.conditional.type = cudaGraphCondTypeWhile;
  cond.conditional.size = 1;
  cudaGraphNode_t loop = nullptr;
  check(cudaGraphAddNode(&loop, parent.g, &head, nullptr, 1, &cond),
        "adding the WHILE node to " + what, ErrorCode::KernelFault);
  cudaGraph_t body = cond.conditional.phGraph_out[0];  // owned by the WHILE node

  GraphOwner dispatches;
  std::vector<cudaGraphNode_t> nodes;
  dispatches.g = build(cb, window, &nodes);
  cudaGraphNode_t iteration = nullptr;
  check(cudaGraphAddChildGraphNode(&iteration, body, nullptr, 0, dispatches.g),
        "adding the dispatches to the WHILE body of " + what, ErrorCode::KernelFault);
  cudaGraphNode_t tail = nullptr;
  const cudaKernelNodeParams tail_params = control_node(loop_tail_kernel(), args);
  check(cudaGraphAddKernelNode(&tail, body, &iteration, 1, &tail_params),
        "adding loop_tail to " + what, ErrorCode::KernelFault);
  return parent.release();
}

cudaGraphExec_t GraphCache::prepare_loop(const CommandBuffer& cb, const L2Window& window) {
  std::vector<uint64_t> key = topology_key(cb, window.epoch);
  GraphOwner parent;
  parent.g = build_loop(cb, window);
  // Only a loop graph of the same topology is worth an update; another one is replaced.
  if (loop_.exec && loop_.key != key) {
    cudaGraphExecDestroy(loop_.exec);  // a launch still in flight finishes first
    detail::gauge(detail::counters().live_graph_execs, -1);
    loop_.exec = nullptr;
  }
  loop_.exec = update_or_instantiate(loop_.exec, parent.g,
                                     " of the loop graph of command buffer " + cb.display_name());
  loop_.key = std::move(key);
  return loop_.exec;
}

}  // namespace stagefence::cuda
