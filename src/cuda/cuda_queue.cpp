#include "cuda/cuda_queue.hpp"

#include <chrono>
#include <cstdint>
#include <string>

#include "core/command_buffer.hpp"
#include "core/counters_internal.hpp"
#include "core/fence_state.hpp"
#include "core/host_spin.hpp"
#include "core/nvtx_range.hpp"
#include "cuda/cuda_dispatch.hpp"
#include "cuda/cuda_error.hpp"
#include "cuda/cuda_fence.hpp"

namespace stagefence::cuda {

namespace {

std::atomic<uint64_t> g_next_queue_id{1};

using Clock = std::chrono::steady_clock;

// An Error's message without the "<Code>: " prefix its what() carries.
std::string message_of(const Error& e) {
  const std::string what = e.what();
  const std::string prefix = std::string(error_code_name(e.code())) + ": ";
  return what.rfind(prefix, 0) == 0 ? what.substr(prefix.size()) : what;
}

CudaFence* cuda_fence(const FenceOp& op) {
  return dynamic_cast<CudaFence*>(op.fence->backend.get());
}

std::string dispatch_name(const CommandBuffer& cb, const DispatchRecord& d, size_t i) {
  return "kernel '" + d.def->name + "' (dispatch " + std::to_string(i) + ")" + cb.stage_suffix(i);
}

double elapsed_us(cudaEvent_t a, cudaEvent_t b) {
  float ms = 0;
  return cudaEventElapsedTime(&ms, a, b) == cudaSuccess ? double(ms) * 1000.0 : 0.0;
}

}  // namespace

CudaQueue::CudaQueue(std::shared_ptr<CudaBackend> backend, std::string name)
    : backend_(std::move(backend)), name_(std::move(name)), id_(g_next_queue_id.fetch_add(1)) {
  backend_->bind();
  try {
    check(cudaStreamCreateWithFlags(&stream_, cudaStreamNonBlocking),
          "creating the stream of queue '" + name_ + "'");
    check(cudaStreamCreateWithFlags(&capture_stream_, cudaStreamNonBlocking),
          "creating the capture stream of queue '" + name_ + "'");
    if (backend_->memops()) progress_ = backend_->host_words().acquire();
  } catch (...) {
    if (stream_) cudaStreamDestroy(stream_);
    if (capture_stream_) cudaStreamDestroy(capture_stream_);
    throw;
  }
  graphs_ = std::make_unique<GraphCache>(capture_stream_);
  submit_thread_ = std::thread([this] { submit_loop(); });
  completion_thread_ = std::thread([this] { completion_loop(); });
}

CudaQueue::~CudaQueue() {
  {
    std::lock_guard<std::mutex> lock(mu_);
    stop_ = true;
  }
  cancel_.store(true, std::memory_order_release);
  cv_.notify_all();
  submit_thread_.join();
  completion_thread_.join();
  graphs_.reset();
  backend_->host_words().release(progress_);
  cudaStreamDestroy(capture_stream_);
  cudaStreamDestroy(stream_);
}

void CudaQueue::submit(std::shared_ptr<CommandBuffer> cb) {
  {
    // Promises are made under the queue lock so sequence numbers follow FIFO order.
    std::lock_guard<std::mutex> lock(mu_);
    const uint64_t seq = ++next_seq_;
    for (const FenceOp& s : cb->signals)
      if (CudaFence* f = cuda_fence(s)) f->promise(s.value, id_, seq);
    pending_.emplace_back(std::move(cb), seq);
    ++outstanding_;
    submitted_seq_.store(seq, std::memory_order_release);
  }
  cv_.notify_all();
}

void CudaQueue::cancel_waits() {
  cancel_.store(true, std::memory_order_release);
}

void CudaQueue::drain() {
  std::unique_lock<std::mutex> lock(mu_);
  cv_.wait(lock, [&] { return outstanding_ == 0; });
}

void CudaQueue::submit_loop() {
  backend_->bind();
  uint64_t taken = 0;
  for (;;) {
    std::shared_ptr<CommandBuffer> cb;
    uint64_t seq = 0;
    // A commit that follows soon (the next stage, the next token) is taken without a wake-up.
    spin_for([&] { return submitted_seq_.load(std::memory_order_acquire) > taken; },
             host_spin_window());
    {
      std::unique_lock<std::mutex> lock(mu_);
      cv_.wait(lock, [&] { return stop_ || !pending_.empty(); });
      if (pending_.empty()) break;
      cb = std::move(pending_.front().first);
      seq = pending_.front().second;
      pending_.pop_front();
    }
    taken = seq;
    Inflight f = process(std::move(cb), seq);
    {
      std::lock_guard<std::mutex> lock(mu_);
      inflight_.push_back(std::move(f));
      processed_seq_.store(seq, std::memory_order_release);
    }
    cv_.notify_all();
  }
  {
    std::lock_guard<std::mutex> lock(mu_);
    submit_done_ = true;
  }
  cv_.notify_all();
}

void CudaQueue::completion_loop() {
  backend_->bind();
  uint64_t finished = 0;
  for (;;) {
    Inflight f;
    spin_for([&] { return processed_seq_.load(std::memory_order_acquire) > finished; },
             host_spin_window());
    {
      std::unique_lock<std::mutex> lock(mu_);
      cv_.wait(lock, [&] { return submit_done_ || !inflight_.empty(); });
      if (inflight_.empty()) break;
      f = std::move(inflight_.front());
      inflight_.pop_front();
    }
    finished = f.seq;
    finish(f);
    recycle(f);
    f.cb.reset();
    {
      std::lock_guard<std::mutex> lock(mu_);
      --outstanding_;
    }
    cv_.notify_all();
  }
}

CudaQueue::Inflight CudaQueue::process(std::shared_ptr<CommandBuffer> cb_ptr, uint64_t seq) {
  Inflight f;
  f.cb = std::move(cb_ptr);
  f.seq = seq;
  CommandBuffer& cb = *f.cb;
  if (backend_->lost()) {
    f.error = Error(ErrorCode::DeviceLost, "command buffer " + cb.display_name() +
                                               " was not run: " + backend_->lost_reason());
    return f;
  }
  detail::NvtxRange range(cb.label.empty() ? "stagefence command buffer" : cb.label.c_str());
  auto record_failure = [&](const Error& e) {
    if (e.code() == ErrorCode::DeviceLost) backend_->mark_lost(message_of(e));
    if (!f.error)
      f.error = Error(e.code(), "command buffer " + cb.display_name() + ": " + message_of(e));
  };
  try {
    f.error = encode_waits(cb, f);
    if (!f.error) {
      cb.started.store(true, std::memory_order_release);  // the stream owns it from here on
      launch_work(cb, f);
    }
  } catch (const Error& e) {
    record_failure(e);
  }
  try {
    append_signals_and_marker(cb, f);
  } catch (const Error& e) {
    record_failure(e);
  }
  return f;
}

std::optional<Error> CudaQueue::encode_waits(CommandBuffer& cb, Inflight& f) {
  for (size_t i = 0; i < cb.waits.size(); ++i) {
    const FenceOp& w = cb.waits[i];
    CudaFence::WaitOutcome r;
    if (CudaFence* cf = cuda_fence(w)) {
      r = cf->encode_wait(stream_, id_, f.seq, w.value, cancel_);
    } else {  // a fence of another backend: hold the buffer until the host sees the value
      switch (w.fence->wait(w.value, std::chrono::hours(24 * 365), &cancel_)) {
        case FenceState::WaitResult::Reached:
          r = CudaFence::WaitOutcome::Satisfied;
          break;
        case FenceState::WaitResult::Poisoned:
          r = CudaFence::WaitOutcome::Poisoned;
          break;
        default:
          r = CudaFence::WaitOutcome::Cancelled;
          break;
      }
    }
    switch (r) {
      case CudaFence::WaitOutcome::Satisfied:
        break;
      case CudaFence::WaitOutcome::Ordered:
      case CudaFence::WaitOutcome::Encoded:
        f.confirm.push_back(i);
        break;
      case CudaFence::WaitOutcome::Poisoned:
        return Error(ErrorCode::FencePoisoned,
                     "command buffer " + cb.display_name() +
                         " did not run: " + w.fence->poison_error_for(w.value));
      case CudaFence::WaitOutcome::Cancelled:
        return Error(ErrorCode::State, "queue '" + name_ + "' shut down while command buffer " +
                                           cb.display_name() + " waited for fence '" +
                                           w.fence->name + "' value " + std::to_string(w.value));
    }
  }
  return std::nullopt;
}

void CudaQueue::apply_l2_window() {
  const uint64_t epoch = backend_->l2_epoch();
  if (epoch == applied_l2_epoch_) return;
  l2_ = backend_->l2_window();
  cudaStreamAttrValue v{};
  v.accessPolicyWindow.base_ptr = l2_.base;
  v.accessPolicyWindow.num_bytes = l2_.bytes;
  v.accessPolicyWindow.hitRatio = l2_.bytes ? l2_.hit_ratio : 0.0f;
  v.accessPolicyWindow.hitProp =
      l2_.bytes ? cudaAccessPropertyPersisting : cudaAccessPropertyNormal;
  v.accessPolicyWindow.missProp =
      l2_.bytes ? cudaAccessPropertyStreaming : cudaAccessPropertyNormal;
  check(cudaStreamSetAttribute(stream_, cudaStreamAttributeAccessPolicyWindow, &v),
        "setting the L2 window on queue '" + name_ + "'");
  applied_l2_epoch_ = l2_.epoch;
}

void CudaQueue::launch_work(CommandBuffer& cb, Inflight& f) {
  apply_l2_window();
  const bool profile = cb.profile_dispatches;
  const bool timing = cb.timestamps || profile;
  if (timing) {
    f.t_start = backend_->timing_events().acquire();
    check(cudaEventRecord(f.t_start, stream_), "cudaEventRecord (timestamp)");
  }
  if (cb.loop) {
    launch_loop(cb);
  } else if (!cb.dispatches.empty()) {
    if (profile || !backend_->use_graphs()) {
      launch_eager(cb, f, profile);
    } else {
      cudaGraphExec_t exec = graphs_->prepare(cb, l2_);
      check(cudaGraphLaunch(exec, stream_), "cudaGraphLaunch", ErrorCode::KernelFault);
      detail::bump(detail::counters().graph_launches);
    }
  }
  if (timing) {
    f.t_end = backend_->timing_events().acquire();
    check(cudaEventRecord(f.t_end, stream_), "cudaEventRecord (timestamp)");
  }
}

void CudaQueue::launch_loop(CommandBuffer& cb) {
  // The loop's iterations are decided on the device, so it always runs as one graph (with
  // per-dispatch profiling too; graphs off refuses it rather than loop on the host).
  if (!backend_->use_graphs())
    raise(ErrorCode::Unsupported, "command buffer " + cb.display_name() +
                                      " is a device-side loop, which needs CUDA graphs "
                                      "(STAGEFENCE_CUDA_GRAPHS is off)");
  cudaGraphExec_t exec = graphs_->prepare_loop(cb, l2_);  // the queue's graph cache owns it
  check(cudaGraphLaunch(exec, stream_), "cudaGraphLaunch (loop)", ErrorCode::KernelFault);
  detail::bump(detail::counters().graph_launches);
}

void CudaQueue::launch_eager(CommandBuffer& cb, Inflight& f, bool profile) {
  auto mark = [&] {
    cudaEvent_t e = backend_->timing_events().acquire();
    f.dispatch_events.push_back(e);
    check(cudaEventRecord(e, stream_), "cudaEventRecord (dispatch profile)");
  };
  // Dispatches are recorded after everything they depend on: program order is topological.
  for (size_t i = 0; i < cb.dispatches.size(); ++i) {
    DispatchRecord& d = cb.dispatches[i];
    if (profile) mark();
    if (is_enqueue(d)) {
      try {
        enqueue_fn(d)(d.args, stream_);
      } catch (const std::exception& ex) {
        raise(ErrorCode::KernelFault, dispatch_name(cb, d, i) + " failed to enqueue: " + ex.what());
      }
      check(cudaGetLastError(), "enqueueing " + dispatch_name(cb, d, i), ErrorCode::KernelFault);
    } else {
      void* params[1] = {&d.args};
      const dim3 grid(d.launch.grid.x, d.launch.grid.y, d.launch.grid.z);
      const dim3 block(d.launch.block.x, d.launch.block.y, d.launch.block.z);
      const cudaError_t e =
          cudaLaunchKernel(d.impl->entry, grid, block, params, d.launch.shared_bytes, stream_);
      if (e != cudaSuccess)
        check(e, "launching " + dispatch_name(cb, d, i), ErrorCode::KernelFault);
    }
    if (profile) mark();
  }
}

void CudaQueue::append_signals_and_marker(CommandBuffer& cb, Inflight& f) {
  if (backend_->lost()) return;
  CUstreamBatchMemOpParams ops[64];
  unsigned n = 0;
  auto flush = [&] {
    if (n == 0) return;
    const CUresult r = backend_->driver().stream_batch_mem_op(stream_, n, ops, 0);
    n = 0;
    if (r != CUDA_SUCCESS)
      raise(ErrorCode::Internal, "cuStreamBatchMemOp (fence signals) on queue '" + name_ +
                                     "' failed: " + backend_->driver().describe(r));
  };
  for (const FenceOp& s : cb.signals) {
    CudaFence* cf = cuda_fence(s);
    if (!cf) continue;  // another backend's fence: signalled on the host at completion
    if (cf->kind() == FenceKind::Memop) {
      if (n == 63) flush();
      ops[n++] = cf->signal_op(s.value);
    } else {
      cf->record_signal(stream_, s.value);
    }
  }
  if (progress_) {
    CUstreamBatchMemOpParams& op = ops[n++];
    op = CUstreamBatchMemOpParams{};
    op.writeValue.operation = CU_STREAM_MEM_OP_WRITE_VALUE_64;
    op.writeValue.address = progress_.device;
    op.writeValue.value64 = f.seq;
    op.writeValue.flags = CU_STREAM_WRITE_VALUE_DEFAULT;
  }
  flush();
  for (const FenceOp& s : cb.signals)
    if (CudaFence* cf = cuda_fence(s); cf && cf->kind() == FenceKind::Memop)
      cf->mark_enqueued(s.value);
  f.done = backend_->sync_events().acquire();
  check(cudaEventRecord(f.done, stream_), "cudaEventRecord (completion)");
}

std::optional<Error> CudaQueue::confirm_waits(const Inflight& f, std::chrono::nanoseconds timeout) {
  const CommandBuffer& cb = *f.cb;
  for (size_t i : f.confirm) {
    const FenceOp& w = cb.waits[i];
    switch (w.fence->wait(w.value, timeout)) {
      case FenceState::WaitResult::Reached:
        break;
      case FenceState::WaitResult::Poisoned:
        return Error(ErrorCode::FencePoisoned,
                     "command buffer " + cb.display_name() +
                         " waited on a failed producer: " + w.fence->poison_error_for(w.value));
      default:
        return Error(ErrorCode::Timeout, "command buffer " + cb.display_name() +
                                             " ran, but fence '" + w.fence->name + "' value " +
                                             std::to_string(w.value) +
                                             " was not confirmed on the host in time");
    }
  }
  return std::nullopt;
}

std::optional<Error> CudaQueue::poisoned_wait(const CommandBuffer& cb) {
  for (const FenceOp& w : cb.waits) {
    // Wait for the fence's producer to report only where a queue promised one.
    CudaFence* cf = cuda_fence(w);
    const bool pending = cf && cf->producer_pending(w.value);
    const auto timeout =
        pending ? std::chrono::nanoseconds(std::chrono::seconds(10)) : std::chrono::nanoseconds(0);
    if (w.fence->wait(w.value, timeout) == FenceState::WaitResult::Poisoned)
      return Error(ErrorCode::FencePoisoned,
                   "command buffer " + cb.display_name() +
                       " waited on a failed producer: " + w.fence->poison_error_for(w.value));
  }
  return std::nullopt;
}

void CudaQueue::finish(Inflight& f) {
  CommandBuffer& cb = *f.cb;
  std::optional<Error> error = f.error;
  const cudaError_t e = f.done ? cudaEventSynchronize(f.done) : cudaSuccess;
  const bool device_failed = e != cudaSuccess || (error && error->code() == ErrorCode::DeviceLost);
  bool ran = false;
  if (!device_failed) {
    ran = !error;
    if (ran) error = confirm_waits(f, std::chrono::seconds(60));
  } else if (!error && progress_ && progress_.load() >= f.seq) {
    error = confirm_waits(f, std::chrono::seconds(60));  // done before the fault
  } else if (auto poisoned = poisoned_wait(cb)) {
    error = poisoned;  // a failed producer explains this buffer's failure best
  } else if (!error) {
    // This buffer was on the GPU when the device failed. The first such buffer of the queue
    // takes the blame; with several queues, a buffer running beside the culprit can too.
    const std::string what = "command buffer " + cb.display_name() + cb.stages_suffix() +
                             " failed on the GPU: " + describe(e);
    if (is_sticky(e)) backend_->mark_lost(what, !fault_blamed_);
    if (!fault_blamed_) {
      fault_blamed_ = true;
      error = Error(ErrorCode::KernelFault, what);
    } else {
      error = Error(ErrorCode::DeviceLost, "command buffer " + cb.display_name() +
                                               " did not complete: " + backend_->lost_reason());
    }
  }

  CommandBufferTimes times;
  if (ran && !error && f.t_start && f.t_end) {
    times.valid = true;
    times.gpu_us = elapsed_us(f.t_start, f.t_end);
    times.submit_to_done_us =
        std::chrono::duration<double, std::micro>(Clock::now() - cb.committed_at).count();
    for (size_t i = 0; i + 1 < f.dispatch_events.size(); i += 2) {
      DispatchTime t;
      t.kernel = cb.dispatches[i / 2].kernel;
      t.start_us = elapsed_us(f.t_start, f.dispatch_events[i]);
      t.end_us = elapsed_us(f.t_start, f.dispatch_events[i + 1]);
      times.dispatches.push_back(t);
    }
  }
  complete_command_buffer(cb, error, times.valid ? &times : nullptr);
}

void CudaQueue::recycle(Inflight& f) noexcept {
  backend_->sync_events().release(f.done);
  backend_->timing_events().release(f.t_start);
  backend_->timing_events().release(f.t_end);
  for (cudaEvent_t e : f.dispatch_events) backend_->timing_events().release(e);
  f.done = f.t_start = f.t_end = nullptr;
  f.dispatch_events.clear();
}

}  // namespace stagefence::cuda
