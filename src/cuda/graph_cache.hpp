// Turns a command buffer's dispatches into a CUDA graph (kernel nodes, child graphs captured
// from `cuda_enqueue` kernels, edges from the buffer's deps) and keeps instantiated graphs per
// queue, keyed by topology: kernels, launch geometry, edges and the L2 window epoch.
//
// A topology may hold several instantiated variants (the layers of a model share one topology
// but bind different weights). A lookup takes, in order: a variant whose arguments all match
// (launch with no update); a variant with the same bindings whose scalars differ (update those
// nodes in place); a new variant while the topology has fewer than kMaxVariants; otherwise the
// least recently used variant, updated in place. An in-place update that CUDA refuses falls back
// to cudaGraphExecUpdate with a rebuilt graph, then to re-instantiation.
//
// A buffer that is exactly one replay of a compiled capture (CommandBuffer::replay_id) first
// looks for the variant that last ran that replay with its arguments: found, it launches with
// no key, hash or per-node comparison.
#pragma once
#include <cuda_runtime_api.h>

#include <cstdint>
#include <list>
#include <string>
#include <unordered_map>
#include <vector>

#include "cuda/cuda_backend.hpp"
#include "stagefence/kernel_args.hpp"

namespace stagefence {
struct CommandBuffer;
}

namespace stagefence::cuda {

// The topology of `cb`'s dispatches (kernels, launch geometry, edges) and the L2 epoch: the key
// under which instantiated graphs are kept.
std::vector<uint64_t> topology_key(const CommandBuffer& cb, uint64_t l2_epoch);

// Owns a graph until released, so every exit path of a build frees it.
struct GraphOwner {
  cudaGraph_t g = nullptr;
  ~GraphOwner() {
    if (g) cudaGraphDestroy(g);
  }
  cudaGraph_t release() {
    cudaGraph_t r = g;
    g = nullptr;
    return r;
  }
};

// The executable graph that runs `graph`: `exec` updated in place (cudaGraphExecUpdate, counted
// in graph_updates) where CUDA accepts the update, else a new instantiation (counted in
// graph_instantiations) that replaces `exec`, which is destroyed; with no `exec`, a new one.
// `what` ends the error messages ("" or " of ...").
cudaGraphExec_t update_or_instantiate(cudaGraphExec_t exec, cudaGraph_t graph,
                                      const std::string& what);

class GraphCache {
 public:
  static constexpr size_t kCapacity = 256;    // instantiated graphs per queue
  static constexpr size_t kMaxVariants = 64;  // instantiated graphs per topology

  // `capture_stream` is used to capture `cuda_enqueue` kernels into child graphs.
  explicit GraphCache(cudaStream_t capture_stream) : capture_stream_(capture_stream) {}
  ~GraphCache();
  GraphCache(const GraphCache&) = delete;
  GraphCache& operator=(const GraphCache&) = delete;

  // An executable graph that runs `cb`'s dispatches with `cb`'s arguments. Throws Error
  // (KernelFault naming the kernel when CUDA rejects a node, DeviceLost when sticky).
  cudaGraphExec_t prepare(const CommandBuffer& cb, const L2Window& window);
  size_t size() const { return lru_.size(); }
  // An executable graph that runs `cb` (which has a loop) as a device-side loop under a
  // conditional WHILE node (cuda/loop_graph.cpp). The queue's last loop graph is kept: a loop
  // buffer of the same topology (kernels, launches, edges, L2 epoch) updates it in place with
  // cudaGraphExecUpdate, and only a new topology, or an update CUDA refuses, instantiates. The
  // cache owns the graph.
  cudaGraphExec_t prepare_loop(const CommandBuffer& cb, const L2Window& window);

 private:
  struct Entry {
    std::vector<uint64_t> key;
    uint64_t hash = 0;
    cudaGraph_t graph = nullptr;  // the graph `exec` came from; owns `nodes`
    cudaGraphExec_t exec = nullptr;
    std::vector<cudaGraphNode_t> nodes;  // one per dispatch
    std::vector<KernelArgs> args;        // the arguments `exec` runs with now
    uint64_t last_used = 0;
    uint64_t replay_id = 0;  // the compiled replay whose dispatches `exec` runs now; 0: none
  };
  using Lru = std::list<Entry>;

  // Tags `it` as running replay `id` (0 untags). Keeps by_replay_[k] == it exactly when
  // it->replay_id == k.
  void set_replay(Lru::iterator it, uint64_t id);

  // Builds the graph of `cb`; returns it and its nodes. Throws, leaking nothing.
  cudaGraph_t build(const CommandBuffer& cb, const L2Window& window,
                    std::vector<cudaGraphNode_t>* nodes);
  cudaGraph_t capture_child(const CommandBuffer& cb, size_t index);
  // Updates `e` to run `cb`'s arguments; false when CUDA refuses a node update.
  bool update_nodes(Entry& e, const CommandBuffer& cb);
  void update_whole(Entry& e, const CommandBuffer& cb, const L2Window& window);
  void insert(Entry e);
  void destroy(Entry& e) noexcept;

  // The parent graph of a loop buffer: loop_head, then the WHILE node over the dispatches and
  // loop_tail. Throws, leaking nothing.
  cudaGraph_t build_loop(const CommandBuffer& cb, const L2Window& window);

  struct LoopEntry {
    std::vector<uint64_t> key;
    cudaGraphExec_t exec = nullptr;
  };

  cudaStream_t capture_stream_;
  LoopEntry loop_;  // the last loop graph
  Lru lru_;         // front: most recently used
  uint64_t clock_ = 0;
  std::unordered_multimap<uint64_t, Lru::iterator> index_;
  std::unordered_map<uint64_t, Lru::iterator> by_replay_;
};

}  // namespace stagefence::cuda
