// The CPU backend: host memory, a shared worker pool, one CpuQueue per queue.
#include <cstdint>
#include <cstdlib>
#include <cstring>
#include <new>
#include <string>

#include "core/backend.hpp"
#include "cpu/cpu_queue.hpp"
#include "stagefence/env.hpp"
#include "stagefence/error.hpp"

namespace stagefence {
namespace {

class CpuBackend final : public Backend {
 public:
  CpuBackend() : workers_(std::make_shared<cpu::WorkerPool>(env::cpu_workers())) {
    info_.backend = BackendKind::Cpu;
    info_.cpu_workers = workers_->size();
    info_.name = "CPU (" + std::to_string(info_.cpu_workers) + " workers)";
    info_.fence_kind = "host-timeline";
  }

  BackendKind kind() const override { return BackendKind::Cpu; }
  DeviceInfo& info() override { return info_; }

  void* allocate(uint64_t bytes) override {
    const uint64_t rounded = (bytes + 63) / 64 * 64;
    void* p = std::aligned_alloc(64, rounded);
    if (!p)
      raise(ErrorCode::OutOfRange, "host allocation of " + std::to_string(bytes) + " bytes failed");
    return p;
  }
  void release(void* ptr) noexcept override { std::free(ptr); }
  void zero(void* ptr, uint64_t bytes) override { std::memset(ptr, 0, bytes); }
  bool host_visible() const override { return true; }
  void* allocate_mapped(uint64_t bytes, uint64_t* device_address) override {
    void* p = allocate(bytes);  // host memory is the device's
    std::memset(p, 0, bytes);
    *device_address = reinterpret_cast<uint64_t>(p);
    return p;
  }
  void release_mapped(void* host) noexcept override { std::free(host); }
  void copy_in(void* dst, const void* src, uint64_t bytes) override {
    std::memcpy(dst, src, bytes);
  }
  void copy_out(void* dst, const void* src, uint64_t bytes) override {
    std::memcpy(dst, src, bytes);
  }

  std::unique_ptr<QueueImpl> create_queue(const std::string& name) override {
    return std::make_unique<cpu::CpuQueue>(workers_, name);
  }

 private:
  DeviceInfo info_;
  std::shared_ptr<cpu::WorkerPool> workers_;
};

}  // namespace

std::shared_ptr<Backend> make_cpu_backend() {
  return std::make_shared<CpuBackend>();
}

}  // namespace stagefence
