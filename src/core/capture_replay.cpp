#include "core/capture_replay.hpp"

#include <algorithm>
#include <atomic>
#include <cstdint>

#include "core/dispatch_resolve.hpp"
#include "stagefence/error.hpp"

namespace stagefence::detail {

namespace {

std::atomic<uint64_t> g_next_compiled_id{1};

// Records every node as CommandEncoder::dispatch and barrier would into an empty buffer.
// nullptr when a node would raise.
std::shared_ptr<const CompiledReplay> compile(const CaptureGraph& graph, const DeviceCore& device,
                                              const ReplayConfig& config) {
  auto c = std::make_shared<CompiledReplay>();
  c->id = g_next_compiled_id.fetch_add(1, std::memory_order_relaxed);
  c->config = config;
  c->pool = device.pool;
  c->records.reserve(graph.nodes().size());
  std::vector<uint32_t> deps;
  RangeAccess acc[kMaxBindings];
  for (const CaptureNode& node : graph.nodes()) {
    if (node.kind == CaptureNode::Kind::Barrier) {
      if (c->tracker.barrier()) ++c->barriers_explicit;
      continue;
    }
    const CapturedDispatch& d = node.dispatch;
    if (d.scalars.size() > static_cast<size_t>(kMaxScalars)) return nullptr;
    Scalar scalars[kMaxScalars];
    for (size_t i = 0; i < d.scalars.size(); ++i) scalars[i].word = d.scalars[i];
    const auto index = static_cast<uint32_t>(c->records.size());
    DispatchRecord& rec = c->records.emplace_back();
    try {
      resolve_dispatch(device, config.kind, d.kernel, d.bindings.data(), d.bindings.size(), scalars,
                       d.scalars.size(), d.launch, true, rec, acc);
    } catch (const Error&) {
      return nullptr;
    }
    const size_t nb = d.bindings.size();
    const size_t ordered_by_barrier =
        c->tracker.order(index, acc, nb, config.force_serial, config.hazard_tracking, deps);
    rec.dep_begin = static_cast<uint32_t>(c->deps.size());
    rec.dep_count = static_cast<uint32_t>(deps.size());
    c->deps.insert(c->deps.end(), deps.begin(), deps.end());
    c->dependencies += deps.size();
    if (deps.empty() && index > 0) ++c->concurrent_dispatches;
    if (deps.size() > ordered_by_barrier) ++c->barriers_auto;

    for (const Binding& b : d.bindings) c->allocations.push_back(b.buffer.allocation());
    const KernelDef* def = rec.def;
    const auto known = [&](const CompiledReplay::KernelSnapshot& k) { return k.def == def; };
    if (std::none_of(c->kernels.begin(), c->kernels.end(), known))
      c->kernels.push_back({def, def->impl});
  }
  auto& allocs = c->allocations;
  std::sort(allocs.begin(), allocs.end());
  allocs.erase(std::unique(allocs.begin(), allocs.end()), allocs.end());
  return c;
}

}  // namespace

bool CompiledReplay::kernels_unchanged() const {
  for (const KernelSnapshot& k : kernels)
    if (k.def->impl != k.impl) return false;
  return true;
}

std::shared_ptr<const CompiledReplay> compiled_replay(const CaptureGraph& graph,
                                                      const DeviceCore& device,
                                                      const ReplayConfig& config) {
  const ReplayCache& cache = graph.replay_cache();
  if (auto form = cache.find(
          [&](const CompiledReplay& f) { return f.config == config && f.kernels_unchanged(); }))
    return form;
  auto form = compile(graph, device, config);
  if (form) cache.add(form, [&](const CompiledReplay& f) { return f.config == config; });
  return form;
}

}  // namespace stagefence::detail
