#include "cuda/graph_cache.hpp"

#include <algorithm>
#include <cstdint>
#include <cstdlib>
#include <cstring>
#include <string>

#include "core/command_buffer.hpp"
#include "core/counters_internal.hpp"
#include "cuda/cuda_dispatch.hpp"
#include "cuda/cuda_error.hpp"
#include "stagefence/env.hpp"

namespace stagefence::cuda {

namespace {

// STAGEFENCE_PDL=0 builds every edge as a full dependency (programmatic dependent launch off).
bool programmatic_launch_enabled() {
  static const bool on = env::programmatic_launch();
  return on;
}

uint64_t mix(uint64_t h, uint64_t v) {
  h ^= v + 0x9e3779b97f4a7c15ull + (h << 6) + (h >> 2);
  return h;
}

uint64_t hash_key(const std::vector<uint64_t>& k) {
  uint64_t h = 0xcbf29ce484222325ull;
  for (uint64_t w : k) h = mix(h, w);
  return h;
}

bool same_args(const KernelArgs& a, const KernelArgs& b) {
  return std::memcmp(&a, &b, sizeof a) == 0;
}

bool same_bindings(const KernelArgs& a, const KernelArgs& b) {
  return a.num_bindings == b.num_bindings && std::memcmp(a.ptr, b.ptr, sizeof a.ptr) == 0 &&
         std::memcmp(a.len, b.len, sizeof a.len) == 0;
}

cudaKernelNodeParams kernel_params(const DispatchRecord& d, void** slot) {
  *slot = const_cast<KernelArgs*>(&d.args);
  cudaKernelNodeParams p{};
  p.func = const_cast<void*>(d.impl->entry);
  p.gridDim = dim3(d.launch.grid.x, d.launch.grid.y, d.launch.grid.z);
  p.blockDim = dim3(d.launch.block.x, d.launch.block.y, d.launch.block.z);
  p.sharedMemBytes = d.launch.shared_bytes;
  p.kernelParams = slot;
  return p;
}

std::string node_name(const DispatchRecord& d, size_t i) {
  return "kernel '" + d.def->name + "' (dispatch " + std::to_string(i) + ")";
}

}  // namespace

std::vector<uint64_t> topology_key(const CommandBuffer& cb, uint64_t l2_epoch) {
  std::vector<uint64_t> k;
  k.reserve(2 + cb.dispatches.size() * 6 + cb.deps.size());
  k.push_back(l2_epoch);
  k.push_back(cb.dispatches.size());
  for (const DispatchRecord& d : cb.dispatches) {
    k.push_back(reinterpret_cast<uint64_t>(d.impl->entry));
    k.push_back(uint64_t(d.launch.grid.x) | uint64_t(d.launch.grid.y) << 32);
    k.push_back(uint64_t(d.launch.grid.z) | uint64_t(d.launch.block.x) << 32);
    k.push_back(uint64_t(d.launch.block.y) | uint64_t(d.launch.block.z) << 32);
    k.push_back(uint64_t(d.launch.shared_bytes) | uint64_t(d.dep_count) << 32);
    for (uint32_t i = 0; i < d.dep_count; ++i) k.push_back(cb.deps[d.dep_begin + i]);
  }
  return k;
}

cudaGraphExec_t update_or_instantiate(cudaGraphExec_t exec, cudaGraph_t graph,
                                      const std::string& what) {
  if (exec) {
    cudaGraphExecUpdateResultInfo info{};
    const cudaError_t err = cudaGraphExecUpdate(exec, graph, &info);
    if (err == cudaSuccess) {
      detail::bump(detail::counters().graph_updates);
      return exec;
    }
    if (is_sticky(err)) check(err, "cudaGraphExecUpdate" + what);
    cudaGetLastError();  // refused: instantiate instead
  }
  cudaGraphExec_t fresh = nullptr;
  check(cudaGraphInstantiate(&fresh, graph, 0), "cudaGraphInstantiate" + what,
        ErrorCode::KernelFault);
  detail::bump(detail::counters().graph_instantiations);
  if (exec)
    cudaGraphExecDestroy(exec);  // a launch still in flight finishes first
  else
    detail::gauge(detail::counters().live_graph_execs, 1);
  return fresh;
}

GraphCache::~GraphCache() {
  for (Entry& e : lru_) destroy(e);
  if (loop_.exec) {
    cudaGraphExecDestroy(loop_.exec);
    detail::gauge(detail::counters().live_graph_execs, -1);
  }
}

void GraphCache::destroy(Entry& e) noexcept {
  if (e.exec) {
    cudaGraphExecDestroy(e.exec);  // a launch still in flight finishes first
    detail::gauge(detail::counters().live_graph_execs, -1);
  }
  if (e.graph) cudaGraphDestroy(e.graph);
  e.exec = nullptr;
  e.graph = nullptr;
}

cudaGraph_t GraphCache::capture_child(const CommandBuffer& cb, size_t index) {
  const DispatchRecord& d = cb.dispatches[index];
  check(cudaStreamBeginCapture(capture_stream_, cudaStreamCaptureModeThreadLocal),
        "cudaStreamBeginCapture for " + node_name(d, index));
  std::string failure;
  try {
    enqueue_fn(d)(d.args, capture_stream_);
  } catch (const std::exception& ex) {
    failure = ex.what();
  }
  cudaGraph_t child = nullptr;
  const cudaError_t e = cudaStreamEndCapture(capture_stream_, &child);
  if (!failure.empty()) {
    if (child) cudaGraphDestroy(child);
    raise(ErrorCode::KernelFault, node_name(d, index) + " failed to enqueue: " + failure);
  }
  check(e, "capturing " + node_name(d, index), ErrorCode::KernelFault);
  return child;
}

cudaGraph_t GraphCache::build(const CommandBuffer& cb, const L2Window& window,
                              std::vector<cudaGraphNode_t>* nodes) {
  GraphOwner graph;
  check(cudaGraphCreate(&graph.g, 0), "cudaGraphCreate");
  nodes->assign(cb.dispatches.size(), nullptr);
  std::vector<cudaGraphNode_t> deps;
  cudaLaunchAttributeValue l2{};
  if (window.bytes) {
    l2.accessPolicyWindow.base_ptr = window.base;
    l2.accessPolicyWindow.num_bytes = window.bytes;
    l2.accessPolicyWindow.hitRatio = window.hit_ratio;
    l2.accessPolicyWindow.hitProp = cudaAccessPropertyPersisting;
    l2.accessPolicyWindow.missProp = cudaAccessPropertyStreaming;
  }
  for (size_t i = 0; i < cb.dispatches.size(); ++i) {
    const DispatchRecord& d = cb.dispatches[i];
    deps.clear();
    for (uint32_t k = 0; k < d.dep_count; ++k) deps.push_back((*nodes)[cb.deps[d.dep_begin + k]]);
    if (is_enqueue(d)) {
      GraphOwner child;
      child.g = capture_child(cb, i);
      check(cudaGraphAddChildGraphNode(&(*nodes)[i], graph.g, deps.data(), deps.size(), child.g),
            "adding " + node_name(d, i), ErrorCode::KernelFault);
    } else {
      void* slot = nullptr;
      const cudaKernelNodeParams p = kernel_params(d, &slot);
      const bool early = is_programmatic(d) && programmatic_launch_enabled();
      check(cudaGraphAddKernelNode(&(*nodes)[i], graph.g, early ? nullptr : deps.data(),
                                   early ? 0 : deps.size(), &p),
            "adding " + node_name(d, i), ErrorCode::KernelFault);
      // A kernel that waits for its predecessors itself starts as soon as each predecessor
      // kernel's blocks have all started (or ended): its prologue overlaps their tails.
      for (size_t k = 0; early && k < deps.size(); ++k) {
        const DispatchRecord& up = cb.dispatches[cb.deps[d.dep_begin + uint32_t(k)]];
        cudaGraphEdgeData edge{};
        if (!is_enqueue(up)) {
          edge.from_port = cudaGraphKernelNodePortProgrammatic;
          edge.type = cudaGraphDependencyTypeProgrammatic;
        }
        check(cudaGraphAddDependencies(graph.g, &deps[k], &(*nodes)[i], &edge, 1),
              "adding a dependency of " + node_name(d, i), ErrorCode::KernelFault);
      }
      if (window.bytes)
        check(cudaGraphKernelNodeSetAttribute((*nodes)[i],
                                              cudaKernelNodeAttributeAccessPolicyWindow, &l2),
              "setting the L2 window on " + node_name(d, i));
    }
  }
  return graph.release();
}

bool GraphCache::update_nodes(Entry& e, const CommandBuffer& cb) {
  bool changed = false;
  for (size_t i = 0; i < cb.dispatches.size(); ++i) {
    const DispatchRecord& d = cb.dispatches[i];
    if (same_args(e.args[i], d.args)) continue;
    cudaError_t err;
    if (is_enqueue(d)) {
      GraphOwner child;
      child.g = capture_child(cb, i);
      err = cudaGraphExecChildGraphNodeSetParams(e.exec, e.nodes[i], child.g);
    } else {
      void* slot = nullptr;
      const cudaKernelNodeParams p = kernel_params(d, &slot);
      err = cudaGraphExecKernelNodeSetParams(e.exec, e.nodes[i], &p);
    }
    if (err != cudaSuccess) {
      if (is_sticky(err)) check(err, "updating " + node_name(d, i));
      cudaGetLastError();  // a refused update is handled below, not left for the next call
      return false;
    }
    e.args[i] = d.args;
    changed = true;
  }
  if (changed) detail::bump(detail::counters().graph_updates);
  return true;
}

void GraphCache::update_whole(Entry& e, const CommandBuffer& cb, const L2Window& window) {
  std::vector<cudaGraphNode_t> nodes;
  GraphOwner fresh;
  fresh.g = build(cb, window, &nodes);
  e.exec = update_or_instantiate(e.exec, fresh.g, "");
  cudaGraphDestroy(e.graph);
  e.graph = fresh.release();
  e.nodes = std::move(nodes);
  for (size_t i = 0; i < cb.dispatches.size(); ++i) e.args[i] = cb.dispatches[i].args;
}

void GraphCache::set_replay(Lru::iterator it, uint64_t id) {
  if (it->replay_id == id) return;
  if (it->replay_id) by_replay_.erase(it->replay_id);
  it->replay_id = id;
  if (!id) return;
  auto [slot, inserted] = by_replay_.try_emplace(id, it);
  if (!inserted) {
    slot->second->replay_id = 0;  // another variant held this replay before
    slot->second = it;
  }
}

void GraphCache::insert(Entry e) {
  lru_.push_front(std::move(e));
  index_.emplace(lru_.front().hash, lru_.begin());
  while (lru_.size() > kCapacity) {
    auto last = std::prev(lru_.end());
    auto range = index_.equal_range(last->hash);
    for (auto it = range.first; it != range.second; ++it)
      if (it->second == last) {
        index_.erase(it);
        break;
      }
    set_replay(last, 0);
    destroy(*last);
    lru_.erase(last);
  }
}

cudaGraphExec_t GraphCache::prepare(const CommandBuffer& cb, const L2Window& window) {
  auto use = [&](Lru::iterator it) {
    lru_.splice(lru_.begin(), lru_, it);  // iterators stay valid
    it->last_used = ++clock_;
    return it->exec;
  };
  // A replay's dispatches are fixed by its id: the variant tagged with it runs them as they are.
  if (cb.replay_id) {
    auto hit = by_replay_.find(cb.replay_id);
    if (hit != by_replay_.end() && hit->second->key[0] == window.epoch) return use(hit->second);
  }

  std::vector<uint64_t> key = topology_key(cb, window.epoch);
  const uint64_t hash = hash_key(key);
  const size_t n = cb.dispatches.size();

  // Variants of this topology, most recently used first.
  std::vector<Lru::iterator> variants;
  auto range = index_.equal_range(hash);
  for (auto it = range.first; it != range.second; ++it)
    if (it->second->key == key) variants.push_back(it->second);
  std::sort(variants.begin(), variants.end(),
            [](Lru::iterator a, Lru::iterator b) { return a->last_used > b->last_used; });

  auto matches = [&](const Entry& e, bool (*eq)(const KernelArgs&, const KernelArgs&)) {
    for (size_t i = 0; i < n; ++i)
      if (!eq(e.args[i], cb.dispatches[i].args)) return false;
    return true;
  };
  for (Lru::iterator it : variants)
    if (matches(*it, same_args)) {
      if (cb.replay_id) set_replay(it, cb.replay_id);
      return use(it);
    }

  Lru::iterator target = lru_.end();
  for (Lru::iterator it : variants)
    if (matches(*it, same_bindings)) {
      target = it;
      break;
    }
  if (target == lru_.end() && !variants.empty() && variants.size() >= kMaxVariants)
    target = variants.back();
  if (target != lru_.end()) {
    set_replay(target, 0);  // untagged while its arguments change, so a throw leaves no stale tag
    if (!update_nodes(*target, cb)) update_whole(*target, cb, window);
    set_replay(target, cb.replay_id);
    return use(target);
  }

  Entry e;
  e.key = std::move(key);
  e.hash = hash;
  e.last_used = ++clock_;
  GraphOwner graph;
  graph.g = build(cb, window, &e.nodes);
  e.exec = update_or_instantiate(nullptr, graph.g, "");
  e.graph = graph.release();
  e.args.reserve(n);
  for (const DispatchRecord& d : cb.dispatches) e.args.push_back(d.args);
  insert(std::move(e));
  set_replay(lru_.begin(), cb.replay_id);
  return lru_.front().exec;
}

}  // namespace stagefence::cuda
