// Both fence kinds (stream memory operations and events) order a chain of stages that
// alternates between two queues, committed in reverse so every consumer is submitted before its
// producer; host signals release held buffers; a session chain on one queue stays ordered.
#include <cstdint>
#include <thread>

#include "cuda_test_support.hpp"
#include "scoped_env.hpp"

using namespace cudatest;

class CudaFenceKinds : public ::testing::TestWithParam<const char*> {
 protected:
  void SetUp() override {
    fence_kind_.emplace("STAGEFENCE_FENCE_KIND", GetParam());
    dev_ = open_cuda();
    if (!dev_) GTEST_SKIP() << "no usable CUDA device on this machine";
    if (dev_->info().fence_kind != GetParam())
      GTEST_SKIP() << "this device cannot use " << GetParam() << " fences (it uses "
                   << dev_->info().fence_kind << ")";
  }
  sf::Device& dev() { return *dev_; }
  std::optional<sftest::ScopedEnv> fence_kind_;  // declared first: outlives the device
  std::optional<sf::Device> dev_;
};

INSTANTIATE_TEST_SUITE_P(Kinds, CudaFenceKinds, ::testing::Values("memop", "event"),
                         [](const auto& info) { return std::string(info.param); });

TEST_P(CudaFenceKinds, CrossQueueChainCommittedConsumersFirst) {
  constexpr int kStages = 24;
  const size_t n = 1 << 16;
  const auto x0 = random_floats(n, 5);
  const auto inc = random_floats(n, 6);
  auto x = upload_f32(dev(), x0);
  auto dinc = upload_f32(dev(), inc);
  auto stamp = dev().alloc(16);
  auto fence = dev().new_fence("pingpong");
  sf::Queue queues[2] = {dev().new_queue("even"), dev().new_queue("odd")};
  std::vector<sf::CommandEncoder> stages;
  for (int k = 0; k < kStages; ++k) {
    stages.push_back(dev().command_encoder(queues[k % 2]));
    auto& enc = stages.back();
    enc.set_label("stage." + std::to_string(k));
    if (k > 0) enc.wait_for(fence, k);
    if (k == 0) spin(enc, stamp, 2'000'000);  // the producer of the chain starts late
    enc.barrier();
    enc.dispatch("add_f32", {sf::reads(x), sf::reads(dinc), sf::writes(x)}, {uint64_t(n)});
    enc.signal(fence, k + 1);
  }
  // Every consumer on the odd queue is committed before any producer on the even queue.
  for (int k = 1; k < kStages; k += 2) stages[k].commit();
  for (int k = 0; k < kStages; k += 2) stages[k].commit();
  stages.back().wait(std::chrono::seconds(30));
  EXPECT_EQ(fence.completed_value(), uint64_t(kStages));
  const auto got = x.to_vector<float>();
  for (size_t i = 0; i < n; ++i) {
    float ref = x0[i];
    for (int k = 0; k < kStages; ++k) ref += inc[i];  // the same float additions, in order
    ASSERT_EQ(got[i], ref) << "index " << i;
  }
}

// Committing a cross-queue chain in reverse asks two FIFO queues for an order they cannot run
// (each queue's head waits for work behind the other's head). The runtime must not turn that into
// a GPU deadlock: the wait times out on the host, and tearing the device down does not hang.
TEST_P(CudaFenceKinds, ImpossibleOrderTimesOutInsteadOfHanging) {
  auto fence = dev().new_fence("cycle");
  auto x = upload_f32(dev(), random_floats(1024, 9));
  sf::Queue queues[2] = {dev().new_queue("even"), dev().new_queue("odd")};
  std::vector<sf::CommandEncoder> stages;
  for (int k = 0; k < 6; ++k) {
    stages.push_back(dev().command_encoder(queues[k % 2]));
    auto& enc = stages.back();
    enc.set_label("stage." + std::to_string(k));
    if (k > 0) enc.wait_for(fence, k);
    enc.dispatch("add_f32", {sf::reads(x), sf::reads(x), sf::writes(x)}, {uint64_t(1024)});
    enc.signal(fence, k + 1);
  }
  for (int k = 5; k >= 0; --k) stages[k].commit();
  try {
    stages.back().wait(std::chrono::milliseconds(500));
    FAIL() << "an order FIFO queues cannot run completed";
  } catch (const sf::Error& e) {
    EXPECT_EQ(e.code(), sf::ErrorCode::Timeout) << e.what();
  }
}

TEST_P(CudaFenceKinds, HostSignalReleasesAHeldBuffer) {
  auto fence = dev().new_fence("host");
  const auto v = random_floats(256, 3);
  auto src = upload_f32(dev(), v);
  auto out = poisoned_f32(dev(), 256);
  auto q = dev().new_queue("side");
  auto enc = dev().command_encoder(q);
  enc.wait_for(fence, 9);
  enc.dispatch("copy_bytes", {sf::reads(src), sf::writes(out)}, {uint64_t(256 * 4)});
  enc.commit();
  std::this_thread::sleep_for(std::chrono::milliseconds(50));
  EXPECT_FALSE(enc.is_completed());
  fence.signal(9);
  enc.wait(std::chrono::seconds(30));
  EXPECT_EQ(out.to_vector<float>(), v);
}

TEST_P(CudaFenceKinds, SessionChainOnOneQueueAndHostWait) {
  auto s = dev().encoder_session();
  ASSERT_TRUE(s);
  const size_t n = 4096;
  const auto a = random_floats(n, 8);
  auto da = upload_f32(dev(), a);
  auto acc = upload_f32(dev(), std::vector<float>(n, 0.5f));
  constexpr int kStages = 16;
  for (int k = 0; k < kStages; ++k) {
    s->dispatch("add_f32", {sf::reads(acc), sf::reads(da), sf::writes(acc)}, {uint64_t(n)});
    s->fence_stage("stage");
    s->reset_for_next_stage();
  }
  s->fence().wait(kStages, std::chrono::seconds(30));
  dev().synchronize();
  const auto got = acc.to_vector<float>();
  for (size_t i = 0; i < n; ++i) {
    float ref = 0.5f;
    for (int k = 0; k < kStages; ++k) ref += a[i];
    ASSERT_EQ(got[i], ref) << "index " << i;
  }
}
