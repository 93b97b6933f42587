#include "variant_backend.hpp"

#include <memory>
#include <mutex>
#include <string>

#include "core/backend.hpp"
#include "core/backend_registry.hpp"

namespace sftest {
namespace {

namespace sf = stagefence;

// Delegates memory and queues to a CPU backend; runs a kernel's own implementation in the
// variant's slot when it has one, else its CPU implementation.
class VariantBackend final : public sf::Backend {
 public:
  VariantBackend() : cpu_(sf::make_cpu_backend()), info_(cpu_->info()) {
    info_.backend = kVariantBackend;
    info_.name = "CPU variant (test backend, " + std::to_string(info_.cpu_workers) + " workers)";
  }

  sf::BackendKind kind() const override { return kVariantBackend; }
  sf::DeviceInfo& info() override { return info_; }
  void* allocate(uint64_t bytes) override { return cpu_->allocate(bytes); }
  void release(void* ptr) noexcept override { cpu_->release(ptr); }
  void zero(void* ptr, uint64_t bytes) override { cpu_->zero(ptr, bytes); }
  bool host_visible() const override { return cpu_->host_visible(); }
  void copy_in(void* dst, const void* src, uint64_t bytes) override {
    cpu_->copy_in(dst, src, bytes);
  }
  void copy_out(void* dst, const void* src, uint64_t bytes) override {
    cpu_->copy_out(dst, src, bytes);
  }
  void* allocate_mapped(uint64_t bytes, uint64_t* device_address) override {
    return cpu_->allocate_mapped(bytes, device_address);
  }
  void release_mapped(void* host) noexcept override { cpu_->release_mapped(host); }
  std::unique_ptr<sf::QueueImpl> create_queue(const std::string& name) override {
    return cpu_->create_queue(name);
  }
  std::unique_ptr<sf::BackendFence> create_fence(sf::FenceState& f) override {
    return cpu_->create_fence(f);
  }
  void apply_residency(const sf::ResidencyState& r) override { cpu_->apply_residency(r); }
  bool lost() const override { return cpu_->lost(); }
  std::string lost_reason() const override { return cpu_->lost_reason(); }

  const sf::KernelImpl* implementation(const sf::KernelDef& def) const override {
    for (sf::BackendKind k : {kVariantBackend, sf::BackendKind::Cpu})
      if (def.on(k).present()) return &def.on(k);
    return nullptr;
  }

 private:
  std::shared_ptr<sf::Backend> cpu_;
  sf::DeviceInfo info_;
};

}  // namespace

void register_variant_backend() {
  static std::once_flag once;
  std::call_once(once, [] {
    sf::register_backend(
        {kVariantName, "CPU variant", kVariantBackend,
         [](const sf::DeviceOptions&, std::string*) -> std::shared_ptr<sf::Backend> {
           return std::make_shared<VariantBackend>();
         },
         -1});
  });
}

}  // namespace sftest
