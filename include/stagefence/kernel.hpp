// Kernel registry: one name, one implementation per backend, one launch-geometry rule per backend.
#pragma once
#include <array>
#include <atomic>
#include <cstdint>
#include <mutex>
#include <string>
#include <string_view>
#include <vector>

#include "stagefence/kernel_args.hpp"

namespace stagefence {

// A backend's slot. Cpu and Cuda are built in; other values belong to backends registered at
// run time (core/backend_registry.hpp), at most kMaxBackends in all.
enum class BackendKind : uint8_t { Cpu = 0, Cuda = 1 };
inline constexpr int kMaxBackends = 8;
// The registered name ("cpu", "cuda", ...); "backend <n>" for a slot nothing registered.
const char* backend_name(BackendKind k);

// Launch geometry. On the CPU backend only `grid` matters: its blocks are split across workers.
struct Launch {
  Dim3 grid;
  Dim3 block;
  uint32_t shared_bytes = 0;
};

// A CPU kernel runs the blocks [block_begin, block_end) of the linearised grid.
// It reports failure by throwing (any exception); the executor turns that into a KernelFault.
using CpuKernelFn = void (*)(const KernelArgs& args, const Launch& launch, uint64_t block_begin,
                             uint64_t block_end);
// Computes a launch from the arguments (problem sizes travel in the scalars).
using LaunchFn = Launch (*)(const KernelArgs& args);

using KernelId = uint32_t;

// A CUDA implementation that is not one __global__ function (a cuBLAS call, several launches):
// it enqueues its work on `stream` (a cudaStream_t). Graph builds capture it as a child graph.
using CudaEnqueueFn = void (*)(const KernelArgs& args, void* stream);

// The kernel's shape contract, backend-neutral: returns what is wrong with the arguments (the
// value and the bound it breaks), or an empty string when every backend can run them. Runs when
// a dispatch is recorded or captured, so an unsupported shape never reaches a device.
using KernelCheckFn = std::string (*)(const KernelArgs& args);

// One backend's implementation of a kernel. `entry` is what that backend runs, in its own terms
// (the CPU backend: a CpuKernelFn; CUDA: a __global__ void f(stagefence::KernelArgs), or with
// kEnqueue a CudaEnqueueFn); `launch` computes the launch when a dispatch gives none.
struct KernelImpl {
  static constexpr uint32_t kEnqueue = 1;  // entry enqueues its own work (CUDA: a cuBLAS call)
  // The kernel calls cudaGridDependencySynchronize() (griddepcontrol.wait) before it reads
  // anything an earlier kernel wrote or writes anything an earlier kernel reads, so a graph may
  // start it early through a programmatic edge (Hopper's programmatic dependent launch).
  static constexpr uint32_t kProgrammatic = 2;

  const void* entry = nullptr;
  LaunchFn launch = nullptr;
  uint32_t flags = 0;

  bool present() const { return entry != nullptr; }
  // The entry as the function type its backend registered it with.
  template <typename Fn>
  Fn entry_as() const {
    return reinterpret_cast<Fn>(const_cast<void*>(entry));
  }
  bool has(uint32_t flag) const { return (flags & flag) != 0; }
  bool operator==(const KernelImpl&) const = default;
};

// A kernel: its name, its implementations keyed by backend, and its shape contract.
struct KernelDef {
  std::string name;
  std::array<KernelImpl, kMaxBackends> impl{};
  KernelCheckFn check = nullptr;  // none: every argument is accepted

  const KernelImpl& on(BackendKind k) const { return impl[static_cast<size_t>(k)]; }
};

// Process-wide table of kernels. Thread-safe to add; lookups by id are lock-free reads of
// entries that never move (ids are stable for the life of the process).
class KernelRegistry {
 public:
  static KernelRegistry& global();

  // Creates or updates the entry `name` with backend `kind`'s implementation (entry required).
  KernelId add_impl(std::string_view name, BackendKind kind, KernelImpl impl);
  // The built-in backends' forms of add_impl.
  // A CPU implementation; without a launch rule the grid is (1,1,1).
  KernelId add_cpu(std::string_view name, CpuKernelFn fn, LaunchFn launch = nullptr);
  // A CUDA __global__ function with its launch rule (required).
  KernelId add_cuda(std::string_view name, const void* fn, LaunchFn launch,
                    bool programmatic = false);
  // A CUDA enqueue function.
  KernelId add_cuda_enqueue(std::string_view name, CudaEnqueueFn fn);
  // Creates or updates the entry `name` with its shape contract.
  KernelId set_check(std::string_view name, KernelCheckFn fn);
  // The shape contract of a family: every kernel named `name` (or, with prefix, starting with
  // it) gets `fn`, those registered so far and those registered later by any backend.
  void set_check_rule(std::string_view name, bool prefix, KernelCheckFn fn);

  // Throws InvalidArgument naming the kernel when it is unknown.
  KernelId id(std::string_view name) const;
  bool contains(std::string_view name) const;
  const KernelDef& def(KernelId id) const;
  std::vector<std::string> names() const;

 private:
  KernelRegistry() = default;
  KernelId find_or_create(std::string_view name);
  struct CheckRule {
    std::string name;
    bool prefix;
    KernelCheckFn fn;
    bool matches(std::string_view kernel) const {
      return prefix ? kernel.starts_with(name) : kernel == name;
    }
  };
  static constexpr uint32_t kMaxKernels = 4096;
  std::vector<CheckRule> rules_;       // guarded by mu_
  mutable std::mutex mu_;              // serialises additions; lookups by id take no lock
  KernelDef* defs_[kMaxKernels] = {};  // owned; never freed so references stay valid
  std::atomic<uint32_t> count_{0};
};

}  // namespace stagefence
