// Kernel registry: one name, one implementation per backend, one launch-geometry rule per backend.
#pragma once
#include <atomic>
#include <cstdint>
#include <mutex>
#include <string>
#include <string_view>
#include <vector>

#include "stagefence/kernel_args.hpp"

namespace stagefence {

enum class BackendKind { Cpu, Cuda };
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

struct KernelDef {
  std::string name;
  CpuKernelFn cpu = nullptr;
  LaunchFn cpu_launch = nullptr;   // default: grid (1,1,1)
  const void* cuda = nullptr;      // a __global__ void f(stagefence::KernelArgs)
  LaunchFn cuda_launch = nullptr;  // required when cuda is set and the dispatch gives no launch
  CudaEnqueueFn cuda_enqueue = nullptr;  // used instead of `cuda` when set
  // The CUDA kernel calls cudaGridDependencySynchronize() (griddepcontrol.wait) before it reads
  // anything an earlier kernel wrote or writes anything an earlier kernel reads, so a graph may
  // start it early through a programmatic edge (Hopper's programmatic dependent launch).
  bool cuda_programmatic = false;
  KernelCheckFn check = nullptr;  // none: every argument is accepted
};

// Process-wide table of kernels. Thread-safe to add; lookups by id are lock-free reads of
// entries that never move (ids are stable for the life of the process).
class KernelRegistry {
 public:
  static KernelRegistry& global();

  // Creates or updates the entry `name` with a CPU implementation.
  KernelId add_cpu(std::string_view name, CpuKernelFn fn, LaunchFn launch = nullptr);
  // Creates or updates the entry `name` with a CUDA implementation.
  KernelId add_cuda(std::string_view name, const void* fn, LaunchFn launch,
                    bool programmatic = false);
  // Creates or updates the entry `name` with a CUDA enqueue function.
  KernelId add_cuda_enqueue(std::string_view name, CudaEnqueueFn fn);
  // Creates or updates the entry `name` with its shape contract.
  KernelId set_check(std::string_view name, KernelCheckFn fn);

  // Throws InvalidArgument naming the kernel when it is unknown.
  KernelId id(std::string_view name) const;
  bool contains(std::string_view name) const;
  const KernelDef& def(KernelId id) const;
  std::vector<std::string> names() const;

 private:
  KernelRegistry() = default;
  KernelId find_or_create(std::string_view name);
  static constexpr uint32_t kMaxKernels = 4096;
  mutable std::mutex mu_;              // serialises additions; lookups by id take no lock
  KernelDef* defs_[kMaxKernels] = {};  // owned; never freed so references stay valid
  std::atomic<uint32_t> count_{0};
};

}  // namespace stagefence
