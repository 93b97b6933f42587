#include <cstdint>
#include <string>

#include "stagefence/error.hpp"
#include "stagefence/kernel.hpp"

namespace stagefence {

const char* backend_name(BackendKind k) {
  return k == BackendKind::Cuda ? "cuda" : "cpu";
}

KernelRegistry& KernelRegistry::global() {
  static KernelRegistry* r = new KernelRegistry();  // never destroyed: ids outlive static teardown
  return *r;
}

KernelId KernelRegistry::find_or_create(std::string_view name) {
  const uint32_t n = count_.load(std::memory_order_acquire);
  for (uint32_t i = 0; i < n; ++i)
    if (defs_[i]->name == name) return i;
  if (n == kMaxKernels) raise(ErrorCode::OutOfRange, "kernel registry is full");
  auto* d = new KernelDef();
  d->name = std::string(name);
  defs_[n] = d;
  count_.store(n + 1, std::memory_order_release);
  return n;
}

KernelId KernelRegistry::add_cpu(std::string_view name, CpuKernelFn fn, LaunchFn launch) {
  if (!fn)
    raise(ErrorCode::InvalidArgument, "kernel '" + std::string(name) + "': null CPU function");
  std::lock_guard<std::mutex> lock(mu_);
  KernelId id = find_or_create(name);
  defs_[id]->cpu = fn;
  defs_[id]->cpu_launch = launch;
  return id;
}

KernelId KernelRegistry::add_cuda(std::string_view name, const void* fn, LaunchFn launch,
                                  bool programmatic) {
  if (!fn || !launch)
    raise(ErrorCode::InvalidArgument,
          "kernel '" + std::string(name) + "': CUDA function and launch rule are required");
  std::lock_guard<std::mutex> lock(mu_);
  KernelId id = find_or_create(name);
  defs_[id]->cuda = fn;
  defs_[id]->cuda_launch = launch;
  defs_[id]->cuda_programmatic = programmatic;
  return id;
}

KernelId KernelRegistry::add_cuda_enqueue(std::string_view name, CudaEnqueueFn fn) {
  if (!fn)
    raise(ErrorCode::InvalidArgument,
          "kernel '" + std::string(name) + "': null CUDA enqueue function");
  std::lock_guard<std::mutex> lock(mu_);
  KernelId id = find_or_create(name);
  defs_[id]->cuda_enqueue = fn;
  return id;
}

KernelId KernelRegistry::set_check(std::string_view name, KernelCheckFn fn) {
  if (!fn)
    raise(ErrorCode::InvalidArgument, "kernel '" + std::string(name) + "': null check function");
  std::lock_guard<std::mutex> lock(mu_);
  KernelId id = find_or_create(name);
  defs_[id]->check = fn;
  return id;
}

KernelId KernelRegistry::id(std::string_view name) const {
  const uint32_t n = count_.load(std::memory_order_acquire);
  for (uint32_t i = 0; i < n; ++i)
    if (defs_[i]->name == name) return i;
  raise(ErrorCode::InvalidArgument, "unknown kernel '" + std::string(name) + "'");
}

bool KernelRegistry::contains(std::string_view name) const {
  const uint32_t n = count_.load(std::memory_order_acquire);
  for (uint32_t i = 0; i < n; ++i)
    if (defs_[i]->name == name) return true;
  return false;
}

const KernelDef& KernelRegistry::def(KernelId id) const {
  if (id >= count_.load(std::memory_order_acquire))
    raise(ErrorCode::InvalidArgument, "unknown kernel id " + std::to_string(id));
  return *defs_[id];
}

std::vector<std::string> KernelRegistry::names() const {
  const uint32_t n = count_.load(std::memory_order_acquire);
  std::vector<std::string> out;
  for (uint32_t i = 0; i < n; ++i) out.push_back(defs_[i]->name);
  return out;
}

}  // namespace stagefence
