// What the forward pass refuses before it allocates or records anything (issue 15, items 3 and
// 9): a context past the model's, a KV cache larger than the device, and hazard tracking off.
#include <gtest/gtest.h>

#include <cstdint>
#include <string>

#include "llama_test_model.hpp"
#include "model/llama/forward.hpp"
#include "model/llama/kv_cache.hpp"
#include "model/llama/model.hpp"
#include "scoped_env.hpp"

namespace {

using namespace llama_test;
namespace llama = sf::llama;

// The message of the sf::Error f() throws (with the expected code), or "" when it throws none.
template <typename F>
std::string error_of(F&& f, sf::ErrorCode code) {
  try {
    f();
  } catch (const sf::Error& e) {
    EXPECT_EQ(e.code(), code) << e.what();
    return e.what();
  }
  return "";
}

void expect_contains(const std::string& message, const std::string& needle) {
  EXPECT_NE(message.find(needle), std::string::npos) << "'" << needle << "' not in: " << message;
}

TEST(ForwardLimits, ContextPastTheModelsIsRefusedNamingFlagValueAndLimit) {
  sf::Device dev = sf::Device::open({sf::BackendKind::Cpu});
  const llama::LlamaModel model =
      llama::random_model(dev, tiny_llama(), WeightTypes::all(sf::DType::F32), 5);
  llama::ForwardOptions fo;
  fo.context = model.config.context_length + 1;
  const std::string m =
      error_of([&] { llama::LlamaForward(dev, model, fo); }, sf::ErrorCode::InvalidArgument);
  expect_contains(m, "--context");
  expect_contains(m, std::to_string(fo.context));
  expect_contains(m, "context length of " + std::to_string(model.config.context_length));
  fo.context = model.config.context_length;  // the model's own length is allowed
  EXPECT_EQ(llama::LlamaForward(dev, model, fo).capacity(), model.config.context_length);
}

TEST(ForwardLimits, KvCacheLargerThanTheDeviceFailsBeforeAllocating) {
  sf::Device dev = sf::Device::open({sf::BackendKind::Cpu});
  LlamaConfig c = tiny_llama();
  c.layers = 1 << 20;
  c.context_length = 1 << 30;
  const uint64_t live = sf::counters::snapshot().live_allocations;
  const std::string m = error_of([&] { llama::KvCache::allocate(dev, c, c.context_length); },
                                 sf::ErrorCode::OutOfRange);
  expect_contains(m, "--context");
  expect_contains(m, std::to_string(c.context_length) + " positions");
  expect_contains(m, "GiB");
  EXPECT_EQ(sf::counters::snapshot().live_allocations, live);
  // A cache that fits is allocated, its size as estimated.
  const llama::KvCache small = llama::KvCache::allocate(dev, tiny_llama(), 8);
  EXPECT_EQ(double(small.bytes()), llama::KvCache::estimate_bytes(tiny_llama(), 8));
}

TEST(ForwardLimits, HazardTrackingOffIsRefusedNamingTheFlag) {
  sf::Device dev = sf::Device::open({sf::BackendKind::Cpu});
  const llama::LlamaModel model =
      llama::random_model(dev, tiny_llama(), WeightTypes::all(sf::DType::F32), 5);
  const sftest::ScopedEnv env("STAGEFENCE_AUTO_BARRIER", "0");
  const std::string m =
      error_of([&] { llama::LlamaForward(dev, model); }, sf::ErrorCode::InvalidArgument);
  expect_contains(m, "STAGEFENCE_AUTO_BARRIER = '0'");
  expect_contains(m, "hazard tracking");
}

}  // namespace
