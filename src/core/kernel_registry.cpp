#include <cstdint>
#include <string>

#include "stagefence/error.hpp"
#include "stagefence/kernel.hpp"

namespace stagefence {

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
  for (const CheckRule& r : rules_)
    if (r.matches(d->name)) d->check = r.fn;
  defs_[n] = d;
  count_.store(n + 1, std::memory_order_release);
  return n;
}

KernelId KernelRegistry::add_impl(std::string_view name, BackendKind kind, KernelImpl impl) {
  if (static_cast<int>(kind) >= kMaxBackends)
    raise(ErrorCode::InvalidArgument, "kernel '" + std::string(name) + "': backend slot " +
                                          std::to_string(static_cast<int>(kind)) + " is past " +
                                          std::to_string(kMaxBackends));
  if (!impl.entry)
    raise(ErrorCode::InvalidArgument,
          "kernel '" + std::string(name) + "': null " + backend_name(kind) + " implementation");
  std::lock_guard<std::mutex> lock(mu_);
  KernelId id = find_or_create(name);
  defs_[id]->impl[static_cast<size_t>(kind)] = impl;
  return id;
}

KernelId KernelRegistry::add_cpu(std::string_view name, CpuKernelFn fn, LaunchFn launch) {
  if (!fn)
    raise(ErrorCode::InvalidArgument, "kernel '" + std::string(name) + "': null CPU function");
  return add_impl(name, BackendKind::Cpu, {reinterpret_cast<const void*>(fn), launch, 0});
}

KernelId KernelRegistry::add_cuda(std::string_view name, const void* fn, LaunchFn launch,
                                  bool programmatic) {
  if (!fn || !launch)
    raise(ErrorCode::InvalidArgument,
          "kernel '" + std::string(name) + "': CUDA function and launch rule are required");
  return add_impl(name, BackendKind::Cuda,
                  {fn, launch, programmatic ? KernelImpl::kProgrammatic : 0u});
}

KernelId KernelRegistry::add_cuda_enqueue(std::string_view name, CudaEnqueueFn fn) {
  if (!fn)
    raise(ErrorCode::InvalidArgument,
          "kernel '" + std::string(name) + "': null CUDA enqueue function");
  return add_impl(name, BackendKind::Cuda,
                  {reinterpret_cast<const void*>(fn), nullptr, KernelImpl::kEnqueue});
}

KernelId KernelRegistry::set_check(std::string_view name, KernelCheckFn fn) {
  if (!fn)
    raise(ErrorCode::InvalidArgument, "kernel '" + std::string(name) + "': null check function");
  std::lock_guard<std::mutex> lock(mu_);
  KernelId id = find_or_create(name);
  defs_[id]->check = fn;
  return id;
}

void KernelRegistry::set_check_rule(std::string_view name, bool prefix, KernelCheckFn fn) {
  if (!fn)
    raise(ErrorCode::InvalidArgument, "kernel family '" + std::string(name) + "': null check");
  std::lock_guard<std::mutex> lock(mu_);
  rules_.push_back({std::string(name), prefix, fn});
  const uint32_t n = count_.load(std::memory_order_acquire);
  for (uint32_t i = 0; i < n; ++i)
    if (rules_.back().matches(defs_[i]->name)) defs_[i]->check = fn;
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
