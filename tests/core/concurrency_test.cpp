// The CPU backend really runs independent dispatches at the same time, and orders dependent
// (or force-serialised) ones.
#include <cstdint>

#include "scoped_env.hpp"
#include "test_support.hpp"

using namespace sftest;

namespace {
sf::Device cpu_device() {
  register_test_kernels();
  return sf::Device::open({sf::BackendKind::Cpu});
}
}  // namespace

// Each rendezvous dispatch can only finish once the other has started: a serialising executor
// makes the first one time out (and the buffer fail) instead of hanging.
TEST(Concurrency, IndependentDispatchesOverlap) {
  auto dev = cpu_device();
  auto out1 = dev.alloc(sf::DType::I32, {1});
  auto out2 = dev.alloc(sf::DType::I32, {1});
  auto enc = dev.command_encoder();
  enc.dispatch("test.rendezvous", {sf::writes(out1)}, {1001, 2});
  enc.dispatch("test.rendezvous", {sf::writes(out2)}, {1001, 2});
  EXPECT_EQ(enc.dependency_count(), 0u);
  enc.commit_and_wait(std::chrono::seconds(20));
  EXPECT_EQ(out1.to_vector<int32_t>()[0], 1);
  EXPECT_EQ(out2.to_vector<int32_t>()[0], 1);
}

TEST(Concurrency, ForceSerialOrdersTheSamePair) {
  auto dev = cpu_device();
  auto s1 = dev.alloc(sf::DType::I64, {2});
  auto s2 = dev.alloc(sf::DType::I64, {2});
  auto enc = [&] {
    sftest::ScopedEnv serial("STAGEFENCE_FORCE_SERIAL", "1");
    return dev.command_encoder();
  }();
  enc.dispatch("test.stamp", {sf::writes(s1)}, {30000});
  enc.dispatch("test.stamp", {sf::writes(s2)}, {30000});
  enc.commit_and_wait(std::chrono::seconds(20));
  auto a = s1.to_vector<int64_t>(), b = s2.to_vector<int64_t>();
  EXPECT_LE(a[1], b[0]) << "second dispatch started before the first ended";
}

TEST(Concurrency, WithoutForceSerialTheSamePairOverlaps) {
  auto dev = cpu_device();
  auto s1 = dev.alloc(sf::DType::I64, {2});
  auto s2 = dev.alloc(sf::DType::I64, {2});
  auto enc = dev.command_encoder();
  enc.dispatch("test.stamp", {sf::writes(s1)}, {50000});
  enc.dispatch("test.stamp", {sf::writes(s2)}, {50000});
  enc.commit_and_wait(std::chrono::seconds(20));
  auto a = s1.to_vector<int64_t>(), b = s2.to_vector<int64_t>();
  EXPECT_LT(b[0], a[1]);
  EXPECT_LT(a[0], b[1]);
}

TEST(Concurrency, DependentDispatchesNeverOverlap) {
  auto dev = cpu_device();
  auto s = dev.alloc(sf::DType::I64, {2});
  auto t = dev.alloc(sf::DType::I64, {2});
  auto enc = dev.command_encoder();
  enc.dispatch("test.stamp", {sf::writes(s)}, {20000});
  enc.dispatch("test.stamp", {sf::writes(t), sf::reads(s)}, {20000});  // RAW on s
  enc.commit_and_wait(std::chrono::seconds(20));
  EXPECT_LE(s.to_vector<int64_t>()[1], t.to_vector<int64_t>()[0]);
}

// A dispatch's grid is split across the workers: a big fill is computed correctly whatever the
// split.
TEST(Concurrency, LargeDispatchSplitsAcrossWorkers) {
  auto dev = cpu_device();
  const int64_t n = (1 << 20) + 3;
  auto x = dev.alloc(sf::DType::F32, {n});
  auto enc = dev.command_encoder();
  fill(enc, x, 0.5f);
  enc.commit_and_wait();
  auto v = read_f32(x);
  for (int64_t i = 0; i < n; i += 4099) ASSERT_EQ(v[i], 0.5f);
  EXPECT_EQ(v[n - 1], 0.5f);
}
