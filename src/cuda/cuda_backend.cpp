#include "cuda/cuda_backend.hpp"

#include <algorithm>
#include <cstdint>
#include <cstdio>
#include <cstdlib>
#include <cstring>

#include "core/residency_state.hpp"
#include "cuda/cuda_error.hpp"
#include "cuda/cuda_fence.hpp"
#include "cuda/cuda_queue.hpp"
#include "stagefence/env.hpp"

namespace stagefence {
namespace cuda {

namespace {

int attribute(cudaDeviceAttr attr, int ordinal) {
  int v = 0;
  check(cudaDeviceGetAttribute(&v, attr, ordinal), "cudaDeviceGetAttribute");
  return v;
}

}  // namespace

std::shared_ptr<CudaBackend> CudaBackend::open(int ordinal, std::string* why_not) {
  auto say = [&](const std::string& s) {
    if (why_not) *why_not = s;
    return nullptr;
  };
  int count = 0;
  const cudaError_t e = cudaGetDeviceCount(&count);
  if (e != cudaSuccess) {
    cudaGetLastError();
    return say("cudaGetDeviceCount: " + describe(e));
  }
  if (count == 0) return say("no CUDA device present");
  if (ordinal < 0 || ordinal >= count)
    return say("CUDA device " + std::to_string(ordinal) + " requested but only " +
               std::to_string(count) + " present");
  if (cudaError_t s = cudaSetDevice(ordinal); s != cudaSuccess) {
    cudaGetLastError();
    return say("cudaSetDevice(" + std::to_string(ordinal) + "): " + describe(s));
  }
  if (cudaError_t s = cudaFree(nullptr); s != cudaSuccess) {  // creates the context
    cudaGetLastError();
    return say("creating a CUDA context: " + describe(s));
  }
  DriverApi driver;
  std::string missing;
  if (!driver.load(&missing)) return say(missing);
  try {
    return std::shared_ptr<CudaBackend>(new CudaBackend(ordinal, driver));
  } catch (const Error& err) {
    return say(err.what());
  }
}

CudaBackend::CudaBackend(int ordinal, DriverApi driver) : ordinal_(ordinal), driver_(driver) {
  cudaDeviceProp prop{};
  check(cudaGetDeviceProperties(&prop, ordinal), "cudaGetDeviceProperties");
  info_.backend = BackendKind::Cuda;
  info_.name = prop.name;
  info_.compute_major = prop.major;
  info_.compute_minor = prop.minor;
  info_.memory_bytes = prop.totalGlobalMem;
  info_.multiprocessors = prop.multiProcessorCount;
  info_.cuda_ordinal = ordinal;
  info_.l2_bytes = static_cast<uint64_t>(attribute(cudaDevAttrL2CacheSize, ordinal));
  check(cudaDriverGetVersion(&info_.driver_version), "cudaDriverGetVersion");
  check(cudaRuntimeGetVersion(&info_.runtime_version), "cudaRuntimeGetVersion");
  info_.stream_memops = driver_.memops_supported(ordinal);
  info_.graphs = env::cuda_graphs();
  max_window_bytes_ = attribute(cudaDevAttrMaxAccessPolicyWindowSize, ordinal);
  max_persisting_bytes_ = attribute(cudaDevAttrMaxPersistingL2CacheSize, ordinal);

  // Auto picks events: on the H100 an event fence costs nothing measurable within a queue
  // (4.03 vs 4.03 us per stage unfenced) and 0.2 us across queues, where a stream-memop fence
  // costs 0.8 and 1.5 us (bench/runtime_costs; docs/PERFORMANCE.md).
  const std::string wanted = env::fence_kind();
  if (wanted == "event" || wanted == "auto") {
    fence_kind_ = FenceKind::Event;
  } else if (wanted == "memop") {
    fence_kind_ = info_.stream_memops ? FenceKind::Memop : FenceKind::Event;
    if (!info_.stream_memops)
      std::fprintf(stderr,
                   "stagefence: STAGEFENCE_FENCE_KIND=memop but this device has no 64-bit stream "
                   "memory operations; using events\n");
  } else {
    raise(ErrorCode::InvalidArgument,
          "STAGEFENCE_FENCE_KIND='" + wanted + "': expected auto, memop or event");
  }
  info_.fence_kind = fence_kind_ == FenceKind::Memop ? "memop" : "event";
  check(cudaStreamCreateWithFlags(&copy_stream_, cudaStreamNonBlocking),
        "creating the copy stream");
}

CudaBackend::~CudaBackend() {
  bind();
  if (copy_stream_) cudaStreamDestroy(copy_stream_);
}

void CudaBackend::bind() const {
  int current = -1;
  if (cudaGetDevice(&current) != cudaSuccess || current != ordinal_) cudaSetDevice(ordinal_);
}

std::string CudaBackend::lost_reason() const {
  std::lock_guard<std::mutex> lock(lost_mu_);
  return lost_reason_;
}

void CudaBackend::mark_lost(const std::string& reason, bool blamed) {
  std::lock_guard<std::mutex> lock(lost_mu_);
  if (lost_.load(std::memory_order_relaxed) && (lost_blamed_ || !blamed)) return;
  lost_reason_ = reason + "; the CUDA context is unusable, reopen the device in a new process";
  lost_blamed_ = blamed;
  lost_.store(true, std::memory_order_release);
}

void CudaBackend::throw_if_lost(const std::string& what) const {
  if (lost()) raise(ErrorCode::DeviceLost, what + " on a lost device: " + lost_reason());
}

void CudaBackend::fail(cudaError_t e, const std::string& what, ErrorCode code) {
  cudaGetLastError();
  if (is_sticky(e)) mark_lost(what + " failed: " + describe(e));
  check(e, what, code);
}

void* CudaBackend::allocate(uint64_t bytes) {
  throw_if_lost("cudaMalloc");
  bind();
  void* p = nullptr;
  const cudaError_t e = cudaMalloc(&p, bytes);
  if (e != cudaSuccess)
    fail(e, "cudaMalloc of " + std::to_string(bytes) + " bytes", ErrorCode::OutOfRange);
  return p;
}

void CudaBackend::release(void* ptr) noexcept {
  if (!ptr) return;
  bind();
  cudaFree(ptr);  // after a device loss this fails; there is nothing left to free
}

void* CudaBackend::allocate_mapped(uint64_t bytes, uint64_t* device_address) {
  throw_if_lost("cudaHostAlloc");
  bind();
  void* host = nullptr;
  cudaError_t e = cudaHostAlloc(&host, bytes, cudaHostAllocMapped | cudaHostAllocPortable);
  if (e != cudaSuccess)
    fail(e, "cudaHostAlloc (mapped) of " + std::to_string(bytes) + " bytes", ErrorCode::OutOfRange);
  std::memset(host, 0, bytes);
  void* dev = nullptr;
  e = cudaHostGetDevicePointer(&dev, host, 0);
  if (e != cudaSuccess) {
    cudaFreeHost(host);
    fail(e, "cudaHostGetDevicePointer of a mapped allocation", ErrorCode::Internal);
  }
  *device_address = reinterpret_cast<uint64_t>(dev);
  return host;
}

void CudaBackend::release_mapped(void* host) noexcept {
  if (!host) return;
  bind();
  cudaFreeHost(host);
}

void CudaBackend::zero(void* ptr, uint64_t bytes) {
  throw_if_lost("zeroing memory");
  bind();
  cudaError_t e = cudaMemsetAsync(ptr, 0, bytes, copy_stream_);
  if (e == cudaSuccess) e = cudaStreamSynchronize(copy_stream_);
  if (e != cudaSuccess) fail(e, "zeroing " + std::to_string(bytes) + " bytes", ErrorCode::Internal);
}

void CudaBackend::copy_in(void* dst, const void* src, uint64_t bytes) {
  throw_if_lost("upload");
  bind();
  cudaError_t e = cudaMemcpyAsync(dst, src, bytes, cudaMemcpyHostToDevice, copy_stream_);
  if (e == cudaSuccess) e = cudaStreamSynchronize(copy_stream_);
  if (e != cudaSuccess)
    fail(e, "upload of " + std::to_string(bytes) + " bytes", ErrorCode::Internal);
}

void CudaBackend::copy_out(void* dst, const void* src, uint64_t bytes) {
  throw_if_lost("download");
  bind();
  cudaError_t e = cudaMemcpyAsync(dst, src, bytes, cudaMemcpyDeviceToHost, copy_stream_);
  if (e == cudaSuccess) e = cudaStreamSynchronize(copy_stream_);
  if (e != cudaSuccess)
    fail(e, "download of " + std::to_string(bytes) + " bytes", ErrorCode::Internal);
}

std::unique_ptr<QueueImpl> CudaBackend::create_queue(const std::string& name) {
  throw_if_lost("creating queue '" + name + "'");
  return std::make_unique<CudaQueue>(shared_from_this(), name);
}

std::unique_ptr<BackendFence> CudaBackend::create_fence(FenceState& state) {
  bind();
  return std::make_unique<CudaFence>(shared_from_this(), state);
}

L2Window CudaBackend::l2_window() const {
  std::lock_guard<std::mutex> lock(l2_mu_);
  return l2_;
}

void CudaBackend::apply_residency(const ResidencyState& state) {
  if (!state.hot_dirty || lost()) return;
  bind();
  L2Window w;
  if (!state.hot.empty() && max_window_bytes_ > 0 && max_persisting_bytes_ > 0) {
    // One window per stream and kernel: the span of all hot allocations when it fits, else the
    // largest hot allocation (truncated to the device's maximum window).
    uintptr_t lo = UINTPTR_MAX, hi = 0;
    const ResidencyState::Entry* largest = nullptr;
    for (const auto& [id, e] : state.hot) {
      const auto p = reinterpret_cast<uintptr_t>(e.ptr);
      lo = std::min(lo, p);
      hi = std::max<uintptr_t>(hi, p + e.bytes);
      if (!largest || e.bytes > largest->bytes) largest = &e;
    }
    const uint64_t max_window = static_cast<uint64_t>(max_window_bytes_);
    if (hi - lo <= max_window) {
      w.base = reinterpret_cast<void*>(lo);
      w.bytes = hi - lo;
    } else {
      w.base = largest->ptr;
      w.bytes = std::min<uint64_t>(largest->bytes, max_window);
    }
    const uint64_t persist =
        std::min<uint64_t>(w.bytes, static_cast<uint64_t>(max_persisting_bytes_));
    check(cudaDeviceSetLimit(cudaLimitPersistingL2CacheSize, persist),
          "cudaDeviceSetLimit(cudaLimitPersistingL2CacheSize)");
    w.hit_ratio = std::min(1.0f, float(double(persist) / double(w.bytes)));
  } else {
    check(cudaDeviceSetLimit(cudaLimitPersistingL2CacheSize, 0),
          "cudaDeviceSetLimit(cudaLimitPersistingL2CacheSize)");
    check(cudaCtxResetPersistingL2Cache(), "cudaCtxResetPersistingL2Cache");
  }
  std::lock_guard<std::mutex> lock(l2_mu_);
  w.epoch = l2_.epoch + 1;
  l2_ = w;
  l2_epoch_.store(w.epoch, std::memory_order_release);
}

}  // namespace cuda

std::shared_ptr<Backend> make_cuda_backend(int ordinal, std::string* why_not) {
  // Lazy module loading loads a kernel's module at its first launch and synchronises the
  // context to do so: with a stream already blocked on a fence that this very kernel is to
  // signal, that deadlocks. Load every module when the context is created instead (a user's
  // explicit setting wins).
  setenv("CUDA_MODULE_LOADING", "EAGER", /*overwrite=*/0);
  return cuda::CudaBackend::open(ordinal, why_not);
}

}  // namespace stagefence
