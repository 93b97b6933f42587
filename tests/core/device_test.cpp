// Device basics: backend choice, zero-initialised allocation, views, host copies, pool reuse.
#include "scoped_env.hpp"
#include "test_support.hpp"

using namespace sftest;

class DeviceBasics : public BackendTest {};
SF_INSTANTIATE_BACKENDS(DeviceBasics);

TEST_P(DeviceBasics, ZeroBytesIsInvalidArgument) {
  try {
    dev().alloc(0);
    FAIL();
  } catch (const sf::Error& e) {
    EXPECT_EQ(e.code(), sf::ErrorCode::InvalidArgument);
    EXPECT_NE(std::string(e.what()).find("zero bytes"), std::string::npos);
  }
}

TEST_P(DeviceBasics, RecycledMemoryIsZeroed) {
  for (int round = 0; round < 3; ++round) {
    auto b = dev().alloc(sf::DType::F32, {1000});
    for (float v : read_f32(b)) ASSERT_EQ(v, 0.0f) << "round " << round;
    b.upload(std::vector<float>(1000, 123.0f));
    auto enc = dev().command_encoder();
    fill(enc, b, -5.0f);
    enc.commit_and_wait();
  }  // each round's block returns to the pool and is handed out again
}

TEST_P(DeviceBasics, ViewsShareOneAllocation) {
  auto b = dev().alloc(sf::DType::F32, {256});
  auto lo = b.view(0, 512).as(sf::DType::F32, {128});
  auto hi = b.view(512, 512).as(sf::DType::F32, {128});
  EXPECT_EQ(lo.allocation_id(), hi.allocation_id());
  EXPECT_EQ(hi.offset(), 512u);
  auto enc = dev().command_encoder();
  fill(enc, lo, 1.0f);
  fill(enc, hi, 2.0f);
  EXPECT_EQ(enc.dependency_count(), 0u);  // disjoint views run concurrently
  enc.commit_and_wait();
  auto v = read_f32(b);
  EXPECT_EQ(v[127], 1.0f);
  EXPECT_EQ(v[128], 2.0f);
  EXPECT_THROW(b.as(sf::DType::F32, {257}), sf::Error);
}

TEST_P(DeviceBasics, UploadDownloadRoundTripAndBoundsChecks) {
  std::vector<float> src(777);
  for (size_t i = 0; i < src.size(); ++i) src[i] = float(i) * 0.5f - 100.0f;
  auto b = make_f32(dev(), src);
  EXPECT_EQ(read_f32(b), src);
  std::vector<float> tail(10);
  b.download(tail.data(), 40, 767 * 4);
  EXPECT_EQ(tail[9], src[776]);
  EXPECT_THROW(b.upload(src.data(), 8, 777 * 4 - 4), sf::Error);
  EXPECT_EQ(is_cpu(), b.host_ptr() != nullptr);
}

TEST(DeviceChoice, ExplicitCpuAndReason) {
  auto dev = sf::Device::open({sf::BackendKind::Cpu});
  EXPECT_EQ(dev.backend(), sf::BackendKind::Cpu);
  EXPECT_FALSE(dev.info().backend_reason.empty());
  EXPECT_GE(dev.info().cpu_workers, 2);
  {
    sftest::ScopedEnv backend("STAGEFENCE_BACKEND", "tpu");
    EXPECT_THROW(sf::Device::open(), sf::Error);
  }
}

#ifndef NDEBUG
// With unretained references the caller owns lifetimes; the debug build catches a buffer freed
// while a command buffer still uses it and quarantines its memory instead of reusing it.
TEST(Unretained, DebugBuildDetectsEarlyFree) {
  register_test_kernels();
  auto dev = [] {
    sftest::ScopedEnv unretained("STAGEFENCE_UNRETAINED_REFS", "1");
    return sf::Device::open({sf::BackendKind::Cpu});
  }();
  auto gate = dev.new_fence("gate");
  auto out = dev.alloc(sf::DType::F32, {64});
  auto enc = dev.command_encoder();
  {
    auto scratch = dev.alloc(sf::DType::F32, {64});
    enc.wait_for(gate, 1);
    fill(enc, scratch, 3.0f);
    add(enc, scratch, scratch, out);
    enc.commit();
  }  // freed while the buffer has not even started
  const auto in_use = sf::counters::snapshot().pool_bytes_in_use;  // the quarantined block too
  auto reuse = dev.alloc(sf::DType::F32, {64});
  reuse.upload(std::vector<float>(64, -1.0f));
  gate.signal(1);
  enc.wait();
  EXPECT_EQ(read_f32(out)[0], 6.0f);  // quarantined memory was not handed to `reuse`
  // Once the buffer completed, the quarantined block went back to the pool.
  // (`reuse` took a block of the same size class, so the total is unchanged.)
  EXPECT_EQ(sf::counters::snapshot().pool_bytes_in_use, in_use);
}
#endif
