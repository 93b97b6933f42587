// The backend seam: backends are found by name and slot, kernels are implemented per backend
// slot, and the test-only variant (variant_backend.hpp) is a full backend without core edits.
#include "core/backend_registry.hpp"

#include <gtest/gtest.h>

#include <string>

#include "scoped_env.hpp"
#include "stagefence/backend_kind.hpp"
#include "test_support.hpp"
#include "variant_backend.hpp"

namespace {

using sftest::kVariantBackend;

void write_seven(const sf::KernelArgs& a, const sf::Launch&, uint64_t, uint64_t) {
  static_cast<float*>(a.ptr[0])[0] = 7.0f;
}
void write_eight(const sf::KernelArgs& a, const sf::Launch&, uint64_t, uint64_t) {
  static_cast<float*>(a.ptr[0])[0] = 8.0f;
}

float run_one(sf::Device& dev, const char* kernel) {
  sf::Buffer out = sftest::make_f32(dev, {0.0f});
  auto enc = dev.command_encoder();
  enc.dispatch(kernel, {sf::writes(out)}, {});
  enc.commit_and_wait();
  return sftest::read_f32(out)[0];
}

TEST(BackendRegistry, TheVariantIsNamedParsedAndOpenedOnlyWhenAskedFor) {
  sftest::register_variant_backend();
  EXPECT_STREQ(sf::backend_name(kVariantBackend), sftest::kVariantName);
  EXPECT_EQ(sf::parse_backend(sftest::kVariantName, "--backend"), kVariantBackend);
  EXPECT_NE(std::string(sf::backend_choices()).find(sftest::kVariantName), std::string::npos);
  EXPECT_EQ(sf::backend_choices(), std::string("auto, cpu, cuda or cpu-variant"));
  {
    const sftest::ScopedEnv env("STAGEFENCE_BACKEND", sftest::kVariantName);
    sf::Device dev = sf::Device::open({});
    EXPECT_EQ(dev.info().backend, kVariantBackend);
    EXPECT_EQ(dev.info().backend_reason, "STAGEFENCE_BACKEND=cpu-variant");
  }
  // auto never picks a backend of rank -1.
  const sftest::ScopedEnv env("STAGEFENCE_BACKEND", "auto");
  EXPECT_NE(sf::Device::open({}).info().backend, kVariantBackend);
}

TEST(BackendRegistry, ANameOrSlotThatIsTakenIsRefused) {
  sftest::register_variant_backend();
  const auto open = [](const sf::DeviceOptions&, std::string*) {
    return std::shared_ptr<sf::Backend>();
  };
  try {
    sf::register_backend({"cpu", "Another CPU", sf::BackendKind(5), open, -1});
    FAIL() << "a second 'cpu' must be refused";
  } catch (const sf::Error& e) {
    EXPECT_EQ(e.code(), sf::ErrorCode::InvalidArgument);
    EXPECT_NE(std::string(e.what()).find("clashes with the registered 'cpu'"), std::string::npos)
        << e.what();
  }
  EXPECT_THROW(sf::register_backend({"other", "Other", kVariantBackend, open, -1}), sf::Error);
  EXPECT_THROW(sf::register_backend({"far", "Far", sf::BackendKind(sf::kMaxBackends), open, -1}),
               sf::Error);
  EXPECT_THROW(sf::parse_backend("vulkan", "--backend"), sf::Error);
}

// An implementation lives in one backend's slot: the variant runs its own where it has one and
// the CPU's otherwise; the CPU never runs the variant's.
TEST(BackendRegistry, KernelsAreImplementedPerBackendSlot) {
  sftest::register_variant_backend();
  auto& registry = sf::KernelRegistry::global();
  registry.add_cpu("test.slot_shared", write_seven);
  registry.add_cpu("test.slot_own", write_seven);
  registry.add_impl("test.slot_own", kVariantBackend,
                    {reinterpret_cast<const void*>(&write_eight), nullptr, 0});
  registry.add_impl("test.slot_variant_only", kVariantBackend,
                    {reinterpret_cast<const void*>(&write_eight), nullptr, 0});
  sf::DeviceOptions variant;
  variant.backend = kVariantBackend;
  sf::Device v = sf::Device::open(variant);
  sf::Device cpu = sf::Device::open({sf::BackendKind::Cpu});
  EXPECT_EQ(run_one(v, "test.slot_shared"), 7.0f);
  EXPECT_EQ(run_one(v, "test.slot_own"), 8.0f);
  EXPECT_EQ(run_one(cpu, "test.slot_own"), 7.0f);
  EXPECT_EQ(run_one(v, "test.slot_variant_only"), 8.0f);
  try {
    run_one(cpu, "test.slot_variant_only");
    FAIL() << "the CPU has no implementation of test.slot_variant_only";
  } catch (const sf::Error& e) {
    EXPECT_EQ(e.code(), sf::ErrorCode::Unsupported);
    EXPECT_NE(std::string(e.what()).find("has no CPU implementation"), std::string::npos)
        << e.what();
  }
}

// A family's shape contract reaches a kernel that a backend registers after the rule was set.
TEST(BackendRegistry, CheckRulesReachKernelsRegisteredLater) {
  sftest::register_variant_backend();
  auto& registry = sf::KernelRegistry::global();
  registry.set_check_rule("test.ruled.", true, [](const sf::KernelArgs& a) -> std::string {
    return a.num_bindings == 1 ? "" : "needs one binding";
  });
  registry.add_impl("test.ruled.late", kVariantBackend,
                    {reinterpret_cast<const void*>(&write_eight), nullptr, 0});
  sf::DeviceOptions variant;
  variant.backend = kVariantBackend;
  sf::Device v = sf::Device::open(variant);
  EXPECT_EQ(run_one(v, "test.ruled.late"), 8.0f);
  sf::Buffer a = sftest::make_f32(v, {0.0f}), b = sftest::make_f32(v, {0.0f});
  auto enc = v.command_encoder();
  try {
    enc.dispatch("test.ruled.late", {sf::writes(a), sf::writes(b)}, {});
    FAIL() << "the rule's check must refuse two bindings";
  } catch (const sf::Error& e) {
    EXPECT_EQ(e.code(), sf::ErrorCode::InvalidArgument);
    EXPECT_NE(std::string(e.what()).find("dispatch of 'test.ruled.late': needs one binding"),
              std::string::npos)
        << e.what();
  }
}

}  // namespace
