#include "stagefence/command_encoder.hpp"

#include <algorithm>
#include <cstdint>
#include <string>

#include "core/backend_registry.hpp"
#include "core/capture_replay.hpp"
#include "core/command_buffer.hpp"
#include "core/counters_internal.hpp"
#include "core/device_core.hpp"
#include "core/dispatch_resolve.hpp"
#include "core/hazard_tracker.hpp"
#include "core/nvtx_range.hpp"
#include "stagefence/env.hpp"
#include "stagefence/error.hpp"

namespace stagefence {

struct CommandEncoder::State {
  HazardTracker tracker;
  std::vector<uint32_t> deps;
  BackendKind kind = BackendKind::Cpu;
  bool force_serial = false;
  bool hazard_tracking = true;
  bool timestamps = false;
  // After a bulk replay into the empty buffer, `tracker` is stale: the hazard state is this
  // form's, copied in before the next dispatch or barrier. Cleared at commit.
  std::shared_ptr<const detail::CompiledReplay> replayed;
  size_t last_dispatches = 0;  // of the previous buffer: the next one reserves as much
  // Capture: dispatches go into `graph`, ordered by their own tracker.
  bool capturing = false;
  CaptureGraph graph;
  HazardTracker capture_tracker;
  uint32_t captured = 0;

  void load_replayed_hazards() {
    if (!replayed) return;
    tracker = replayed->tracker;
    replayed.reset();
  }
};

CommandEncoder::CommandEncoder(std::shared_ptr<DeviceCore> device,
                               std::shared_ptr<QueueState> queue)
    : dev_(std::move(device)), queue_(std::move(queue)), st_(std::make_unique<State>()) {
  st_->kind = dev_->kind();
  open_buffer();
}

CommandEncoder::CommandEncoder(CommandEncoder&&) noexcept = default;
CommandEncoder& CommandEncoder::operator=(CommandEncoder&&) noexcept = default;
CommandEncoder::~CommandEncoder() = default;

void CommandEncoder::open_buffer() {
  if (cb_) st_->last_dispatches = cb_->dispatches.size();
  cb_ = std::make_shared<CommandBuffer>();
  // Buffers of one encoder tend to repeat their size: grow once, not by doubling.
  cb_->dispatches.reserve(std::max<size_t>(st_->last_dispatches, 16));
  cb_->queue = queue_.get();
  // A trace needs each buffer's device time.
  cb_->timestamps = st_->timestamps || env::timestamps() || detail::trace_on();
  cb_->profile_dispatches = env::profile_dispatches();
  st_->force_serial = env::force_serial();
  st_->hazard_tracking = env::hazard_tracking();
  st_->tracker.reset();
  st_->replayed.reset();
  detail::bump(detail::counters().command_buffers);
}

void CommandEncoder::ensure_not_finished(const char* what) const {
  if (cb_->status != CommandBuffer::Status::Recording)
    raise(ErrorCode::State, std::string(what) + " on command buffer " + cb_->display_name() +
                                " after it was committed; call reset() for a new buffer");
}

void CommandEncoder::dispatch(KernelId kernel, std::initializer_list<Binding> bindings,
                              std::initializer_list<Scalar> scalars, std::optional<Launch> launch) {
  dispatch(kernel, bindings.begin(), bindings.size(), scalars.begin(), scalars.size(), launch);
}

void CommandEncoder::dispatch(std::string_view kernel, std::initializer_list<Binding> bindings,
                              std::initializer_list<Scalar> scalars, std::optional<Launch> launch) {
  dispatch(KernelRegistry::global().id(kernel), bindings.begin(), bindings.size(), scalars.begin(),
           scalars.size(), launch);
}

void resolve_dispatch(const DeviceCore& device, BackendKind kind, KernelId kernel,
                      const Binding* bindings, size_t nb, const Scalar* scalars, size_t ns,
                      const std::optional<Launch>& launch, bool resolve_launch, DispatchRecord& rec,
                      RangeAccess* acc) {
  const KernelDef& def = KernelRegistry::global().def(kernel);
  const auto where = [&] { return "dispatch of '" + def.name + "'"; };
  if (nb > static_cast<size_t>(kMaxBindings))
    raise(ErrorCode::InvalidArgument, where() + ": " + std::to_string(nb) + " bindings, at most " +
                                          std::to_string(kMaxBindings));
  if (ns > static_cast<size_t>(kMaxScalars))
    raise(ErrorCode::InvalidArgument,
          where() + ": " + std::to_string(ns) + " scalars, at most " + std::to_string(kMaxScalars));

  rec.kernel = kernel;
  rec.def = &def;
  KernelArgs& args = rec.args;
  for (size_t i = 0; i < nb; ++i) {
    const Binding& b = bindings[i];
    if (!b.buffer.valid())
      raise(ErrorCode::InvalidArgument,
            where() + ": binding " + std::to_string(i) + " is an empty Buffer");
    const Allocation& a = *b.buffer.allocation();
    if (a.pool != device.pool)
      raise(ErrorCode::InvalidArgument,
            where() + ": binding " + std::to_string(i) + " belongs to another device");
    const uint64_t view = b.buffer.size();
    const uint64_t len =
        b.length == kWholeRange ? (b.offset <= view ? view - b.offset : 0) : b.length;
    if (b.offset > view || len > view - b.offset)
      raise(ErrorCode::OutOfRange, where() + ": binding " + std::to_string(i) + " range [" +
                                       std::to_string(b.offset) + ", " +
                                       std::to_string(b.offset + len) + ") lies outside its " +
                                       std::to_string(view) + "-byte buffer");
    const uint64_t begin = b.buffer.offset() + b.offset;
    args.ptr[i] = static_cast<char*>(a.ptr) + begin;
    args.len[i] = len;
    acc[i] = {a.id, begin, begin + len, b.access};
  }
  for (size_t i = 0; i < ns; ++i) args.s[i] = scalars[i].word;
  args.num_bindings = static_cast<uint32_t>(nb);
  args.num_scalars = static_cast<uint32_t>(ns);
  if (def.check) {
    const std::string why = def.check(args);
    if (!why.empty()) raise(ErrorCode::InvalidArgument, where() + ": " + why);
  }
  if (!resolve_launch) return;

  // The device's backend picks its implementation and resolves the launch.
  const Backend& backend = *device.backend;
  rec.impl = backend.implementation(def);
  if (!rec.impl) {
    const std::optional<BackendEntry> entry = find_backend(kind);
    raise(ErrorCode::Unsupported, "kernel '" + def.name + "' has no " +
                                      (entry ? entry->title : std::string(backend_name(kind))) +
                                      " implementation");
  }
  rec.launch = backend.resolve_launch(def, *rec.impl, args, launch);
  if (rec.launch.grid.count() == 0)
    raise(ErrorCode::InvalidArgument, where() + ": empty launch grid");
}

void CommandEncoder::dispatch(KernelId kernel, const Binding* bindings, size_t nb,
                              const Scalar* scalars, size_t ns,
                              const std::optional<Launch>& launch) {
  State& st = *st_;
  RangeAccess acc[kMaxBindings];
  if (st.capturing) {
    DispatchRecord rec{};
    resolve_dispatch(*dev_, st.kind, kernel, bindings, nb, scalars, ns, launch, false, rec, acc);
    CaptureNode node;
    node.kind = CaptureNode::Kind::Dispatch;
    node.dispatch.kernel = kernel;
    node.dispatch.launch = launch;
    node.dispatch.scalars.assign(rec.args.s, rec.args.s + ns);
    node.dispatch.bindings.assign(bindings, bindings + nb);
    st.capture_tracker.order(st.captured, acc, nb, st.force_serial, st.hazard_tracking,
                             node.dispatch.deps);
    ++st.captured;
    st.graph.mutable_nodes().push_back(std::move(node));
    return;
  }

  ensure_not_finished("dispatch");
  CommandBuffer& cb = *cb_;
  const auto index = static_cast<uint32_t>(cb.dispatches.size());
  // Resolved in place (value-initialised, so unused argument slots are zero); an invalid
  // dispatch is taken back out and records nothing.
  DispatchRecord& rec = cb.dispatches.emplace_back();
  try {
    resolve_dispatch(*dev_, st.kind, kernel, bindings, nb, scalars, ns, launch, true, rec, acc);
  } catch (...) {
    cb.dispatches.pop_back();
    throw;
  }

  st.load_replayed_hazards();
  auto& deps = st.deps;
  const size_t ordered_by_barrier =
      st.tracker.order(index, acc, nb, st.force_serial, st.hazard_tracking, deps);

  // last_cb is only a hint against retaining twice: one thread records a buffer, so seeing this
  // buffer's id means this buffer already holds the allocation.
  if (!dev_->unretained) {
    for (size_t i = 0; i < nb; ++i) {
      const auto& a = bindings[i].buffer.allocation();
      if (a->last_cb.load(std::memory_order_relaxed) != cb.id) {
        a->last_cb.store(cb.id, std::memory_order_relaxed);
        cb.retained.push_back(a);
      }
    }
  } else {
    for (size_t i = 0; i < nb; ++i) {
      const auto& a = bindings[i].buffer.allocation();
      if (a->tracker && a->last_cb.load(std::memory_order_relaxed) != cb.id) {
        a->last_cb.store(cb.id, std::memory_order_relaxed);
        cb.tracked.push_back(a->tracker);
      }
    }
  }

  rec.dep_begin = static_cast<uint32_t>(cb.deps.size());
  rec.dep_count = static_cast<uint32_t>(deps.size());
  cb.deps.insert(cb.deps.end(), deps.begin(), deps.end());
  cb.replay_id = 0;

  auto& c = detail::counters();
  detail::bump(c.dispatches);
  if (!deps.empty()) detail::bump(c.dependencies, deps.size());
  if (deps.empty() && index > 0) detail::bump(c.concurrent_dispatches);
  if (deps.size() > ordered_by_barrier) detail::bump(c.barriers_auto);
}

void CommandEncoder::barrier() {
  State& st = *st_;
  if (st.capturing) {
    if (st.capture_tracker.barrier()) {
      CaptureNode node;
      node.kind = CaptureNode::Kind::Barrier;
      st.graph.mutable_nodes().push_back(std::move(node));
    }
    return;
  }
  ensure_not_finished("barrier");
  st.load_replayed_hazards();
  if (st.tracker.barrier()) detail::bump(detail::counters().barriers_explicit);
}

void CommandEncoder::set_label(std::string_view label) {
  cb_->label = std::string(label);
}
const std::string& CommandEncoder::label() const {
  return cb_->label;
}

void CommandEncoder::set_stage_marks(StageMarks marks) {
  ensure_not_finished("set_stage_marks");
  if (marks)
    for (size_t i = 1; i < marks->size(); ++i)
      if ((*marks)[i].first_dispatch < (*marks)[i - 1].first_dispatch)
        raise(ErrorCode::InvalidArgument,
              "set_stage_marks on " + cb_->display_name() + ": stage '" + (*marks)[i].label +
                  "' starts at dispatch " + std::to_string((*marks)[i].first_dispatch) +
                  ", before stage '" + (*marks)[i - 1].label + "' (marks must not go back)");
  cb_->stages = std::move(marks);
}

void CommandEncoder::wait_for(const Fence& fence, uint64_t value) {
  ensure_not_finished("wait_for");
  if (!fence.valid()) raise(ErrorCode::InvalidArgument, "wait_for: empty Fence");
  cb_->waits.push_back({fence.state(), value});
  detail::bump(detail::counters().waits_encoded);
}

void CommandEncoder::signal(const Fence& fence, uint64_t value) {
  ensure_not_finished("signal");
  if (!fence.valid()) raise(ErrorCode::InvalidArgument, "signal: empty Fence");
  cb_->signals.push_back({fence.state(), value});
  detail::bump(detail::counters().fences_signalled);
}

void CommandEncoder::commit() {
  if (cb_->status != CommandBuffer::Status::Recording) return;
  if (st_->capturing)
    raise(ErrorCode::State,
          "commit of " + cb_->display_name() + " while capturing; end_capture() first");
  if (dev_->lost())
    raise(ErrorCode::DeviceLost, "cannot submit " + cb_->display_name() + ": " +
                                     dev_->lost_reason() + "; reopen the device");
  if (cb_->stages && !cb_->stages->empty() &&
      cb_->stages->back().first_dispatch >= cb_->dispatches.size())
    raise(ErrorCode::InvalidArgument,
          "commit of " + cb_->display_name() + ": stage '" + cb_->stages->back().label +
              "' starts at dispatch " + std::to_string(cb_->stages->back().first_dispatch) +
              " but the buffer holds " + std::to_string(cb_->dispatches.size()) + " dispatches");
  dev_->residency->flush();  // may throw BudgetExceeded: the buffer stays uncommitted
  for (auto& t : cb_->tracked) t->begin_use();
  st_->replayed.reset();  // no more recording: what it holds is the buffer's to release
  cb_->committed_at = std::chrono::steady_clock::now();
  {
    std::lock_guard<std::mutex> lock(cb_->mu);
    cb_->status = CommandBuffer::Status::Committed;
  }
  detail::bump(detail::counters().commits);
  if (detail::trace_on()) detail::trace_encoded(*cb_);
  {
    detail::NvtxRange range(cb_->label.empty() ? "stagefence commit" : cb_->label.c_str());
    queue_->impl->submit(cb_);
  }
  queue_->note_submitted(cb_);
}

void CommandEncoder::commit_and_wait(WaitTimeout timeout) {
  commit();
  detail::bump(detail::counters().syncs);
  cb_->wait_or_throw(timeout);
}

void CommandEncoder::wait(WaitTimeout timeout) {
  if (cb_->status == CommandBuffer::Status::Recording)
    raise(ErrorCode::State,
          "wait on command buffer " + cb_->display_name() + " that was never committed");
  detail::bump(detail::counters().syncs);
  cb_->wait_or_throw(timeout);
}

bool CommandEncoder::is_committed() const {
  return cb_->status != CommandBuffer::Status::Recording;
}
bool CommandEncoder::is_completed() const {
  return cb_->finished();
}
bool CommandEncoder::has_dispatches() const {
  return !cb_->dispatches.empty();
}
uint64_t CommandEncoder::dispatch_count() const {
  return cb_->dispatches.size();
}
uint64_t CommandEncoder::dependency_count() const {
  return cb_->deps.size();
}

void CommandEncoder::reset() {
  if (st_->capturing) raise(ErrorCode::State, "reset while capturing; end_capture() first");
  open_buffer();
}

void CommandEncoder::begin_capture() {
  if (st_->capturing) raise(ErrorCode::State, "begin_capture: already capturing");
  st_->capturing = true;
  st_->graph = CaptureGraph();
  st_->capture_tracker.reset();
  st_->captured = 0;
}

CaptureGraph CommandEncoder::end_capture() {
  if (!st_->capturing) raise(ErrorCode::State, "end_capture without begin_capture");
  st_->capturing = false;
  st_->capture_tracker.reset();
  return std::move(st_->graph);
}

bool CommandEncoder::is_capturing() const {
  return st_->capturing;
}

bool CommandEncoder::replay_in_bulk(const CaptureGraph& graph) {
  State& st = *st_;
  CommandBuffer& cb = *cb_;
  // Compiled forms hold what re-recording into an empty buffer gives; anything else (capture,
  // a committed buffer that must raise, earlier dispatches to order against) re-records.
  if (st.capturing || cb.status != CommandBuffer::Status::Recording || !cb.dispatches.empty())
    return false;
  const detail::ReplayConfig config{dev_->pool.get(), st.kind, st.force_serial, st.hazard_tracking};
  std::shared_ptr<const detail::CompiledReplay> form =
      detail::compiled_replay(graph, *dev_, config);
  if (!form) return false;
  if (form->records.empty()) return true;

  try {
    cb.dispatches = form->records;
    cb.deps = form->deps;
    if (!dev_->unretained) {
      cb.retained_replays.push_back(form);
    } else {
      for (const auto& a : form->allocations) {
        if (a->tracker && a->last_cb.load(std::memory_order_relaxed) != cb.id) {
          a->last_cb.store(cb.id, std::memory_order_relaxed);
          cb.tracked.push_back(a->tracker);
        }
      }
    }
  } catch (...) {  // out of memory: the buffer stays empty
    cb.dispatches.clear();
    cb.deps.clear();
    throw;
  }
  cb.replay_id = form->id;

  auto& c = detail::counters();
  detail::bump(c.dispatches, form->records.size());
  if (form->dependencies) detail::bump(c.dependencies, form->dependencies);
  if (form->concurrent_dispatches)
    detail::bump(c.concurrent_dispatches, form->concurrent_dispatches);
  if (form->barriers_auto) detail::bump(c.barriers_auto, form->barriers_auto);
  if (form->barriers_explicit) detail::bump(c.barriers_explicit, form->barriers_explicit);
  st.replayed = std::move(form);
  return true;
}

void CommandEncoder::replay(const CaptureGraph& graph) {
  if (replay_in_bulk(graph)) return;
  for (const CaptureNode& node : graph.nodes()) {
    if (node.kind == CaptureNode::Kind::Barrier) {
      barrier();
      continue;
    }
    const CapturedDispatch& d = node.dispatch;
    Scalar scalars[kMaxScalars];
    for (size_t i = 0; i < d.scalars.size() && i < static_cast<size_t>(kMaxScalars); ++i)
      scalars[i].word = d.scalars[i];
    dispatch(d.kernel, d.bindings.data(), d.bindings.size(), scalars, d.scalars.size(), d.launch);
  }
}

void CommandEncoder::enable_timestamps(bool on) {
  st_->timestamps = on;
  if (cb_->status == CommandBuffer::Status::Recording) cb_->timestamps = on || env::timestamps();
}

CommandBufferTimes CommandEncoder::times() const {
  std::lock_guard<std::mutex> lock(cb_->mu);
  return cb_->times;
}

}  // namespace stagefence
