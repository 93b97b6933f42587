// Environment flags (issue 15, item 12): a value that is not allowed is an error naming the
// variable, its value and what is allowed, never a silent fall-back to the default.
#include "stagefence/env.hpp"

#include <gtest/gtest.h>

#include <string>

#include "scoped_env.hpp"
#include "stagefence/device.hpp"
#include "stagefence/error.hpp"

namespace {

namespace sf = stagefence;
using sftest::ScopedEnv;

// The InvalidArgument message of f(), or "" when it does not throw one.
template <typename F>
std::string error_of(F&& f) {
  try {
    f();
  } catch (const sf::Error& e) {
    EXPECT_EQ(e.code(), sf::ErrorCode::InvalidArgument) << e.what();
    return e.what();
  }
  return "";
}

void expect_names(const std::string& message, const char* name, const std::string& value,
                  const char* allowed) {
  ASSERT_FALSE(message.empty()) << name << "=" << value << " was accepted";
  EXPECT_NE(message.find(name), std::string::npos) << message;
  EXPECT_NE(message.find("'" + value + "'"), std::string::npos) << message;
  EXPECT_NE(message.find(allowed), std::string::npos) << message;
}

TEST(EnvFlags, CpuWorkersMustBeAWholeNumberInRange) {
  for (const char* bad : {"abc", "0", "-1", "2x", "257", " 4"}) {
    const ScopedEnv env("STAGEFENCE_CPU_WORKERS", bad);
    expect_names(error_of([] { sf::env::cpu_workers(); }), "STAGEFENCE_CPU_WORKERS", bad,
                 "from 1 to 256");
    // Opening a device fails on it too, before any worker starts.
    expect_names(error_of([] { sf::Device::open({sf::BackendKind::Cpu}); }),
                 "STAGEFENCE_CPU_WORKERS", bad, "from 1 to 256");
  }
  const ScopedEnv env("STAGEFENCE_CPU_WORKERS", "3");
  EXPECT_EQ(sf::env::cpu_workers(), 3);
  EXPECT_EQ(sf::Device::open({sf::BackendKind::Cpu}).info().cpu_workers, 3);
}

TEST(EnvFlags, BooleansAcceptOnlyTheDocumentedSpellings) {
  for (const char* flag : {"STAGEFENCE_AUTO_BARRIER", "STAGEFENCE_FORCE_SERIAL",
                           "STAGEFENCE_TIMESTAMPS", "STAGEFENCE_CUDA_GRAPHS", "STAGEFENCE_PDL"}) {
    for (const char* bad : {"2", "maybe", "enabled"}) {
      const ScopedEnv env(flag, bad);
      expect_names(error_of([] { sf::env::check_all(); }), flag, bad, "0, false, off or no");
    }
  }
  {
    const ScopedEnv env("STAGEFENCE_AUTO_BARRIER", "OFF");
    EXPECT_FALSE(sf::env::hazard_tracking());
  }
  {
    const ScopedEnv env("STAGEFENCE_AUTO_BARRIER", "");  // empty: the default
    EXPECT_TRUE(sf::env::hazard_tracking());
  }
  const ScopedEnv env("STAGEFENCE_TIMESTAMPS", "maybe");
  expect_names(error_of([] { sf::Device::open({sf::BackendKind::Cpu}); }), "STAGEFENCE_TIMESTAMPS",
               "maybe", "1, true, on or yes");
}

TEST(EnvFlags, ChoicesNameWhatIsAllowed) {
  {
    const ScopedEnv env("STAGEFENCE_FENCE_KIND", "foo");
    expect_names(error_of([] { sf::env::fence_kind(); }), "STAGEFENCE_FENCE_KIND", "foo",
                 "auto, memop, event");
    // Even on the CPU backend, which has no fence kinds to pick from.
    expect_names(error_of([] { sf::Device::open({sf::BackendKind::Cpu}); }),
                 "STAGEFENCE_FENCE_KIND", "foo", "auto, memop, event");
  }
  {
    const ScopedEnv env("STAGEFENCE_ACTIVATIONS", "f16");
    expect_names(error_of([] { sf::env::quantised_activations(); }), "STAGEFENCE_ACTIVATIONS",
                 "f16", "q8, f32");
  }
  {
    const ScopedEnv env("STAGEFENCE_BACKEND", "tpu");
    expect_names(error_of([] { sf::env::backend(); }), "STAGEFENCE_BACKEND", "tpu", "auto, cpu");
    expect_names(error_of([] { sf::env::backend(); }), "STAGEFENCE_BACKEND", "tpu", "cuda");
  }
  const ScopedEnv env("STAGEFENCE_FENCE_KIND", "memop");
  EXPECT_EQ(sf::env::fence_kind(), "memop");
}

TEST(EnvFlags, EveryCheckedFlagIsDocumented) {
  std::string names;
  for (const auto& f : sf::env::all_flags()) names += f.name + " ";
  for (const char* flag : {"STAGEFENCE_PDL", "STAGEFENCE_ACTIVATIONS", "STAGEFENCE_CPU_WORKERS"})
    EXPECT_NE(names.find(flag), std::string::npos) << flag;
}

}  // namespace
