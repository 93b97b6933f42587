// EncoderSession single-stage lifecycle: gate, labels, idempotent commits, safe destruction,
// blocking commits and their error reporting.
#include <cstdlib>

#include "test_support.hpp"

using namespace sftest;

// Runs in two processes: with the gate at its default (on) and with STAGEFENCE_ENCODER_SESSION=0.
TEST(SessionGate, FactoryAgreesWithGate) {
  const char* v = std::getenv("STAGEFENCE_ENCODER_SESSION");
  const bool expect_on = !(v && std::string(v) == "0");
  EXPECT_EQ(sf::env::encoder_session_enabled(), expect_on);
  auto dev = sf::Device::open({sf::BackendKind::Cpu});
  auto session = dev.encoder_session();
  EXPECT_EQ(session.has_value(), expect_on);
  // Plain encoders work either way: the fallback path.
  auto enc = dev.command_encoder();
  auto out = dev.alloc(sf::DType::F32, {16});
  fill(enc, out, 3.0f);
  enc.commit_and_wait();
  EXPECT_EQ(read_f32(out)[15], 3.0f);
}

class SessionLifecycle : public BackendTest {};
SF_INSTANTIATE_BACKENDS(SessionLifecycle);

TEST_P(SessionLifecycle, StartsEmptyAndEncodesOnFirstDispatch) {
  auto s = dev().encoder_session();
  ASSERT_TRUE(s);
  EXPECT_EQ(s->state(), sf::SessionState::Empty);
  EXPECT_FALSE(s->has_event());
  auto out = dev().alloc(sf::DType::F32, {8});
  fill(s->encoder(), out, 1.0f);
  EXPECT_EQ(s->state(), sf::SessionState::Encoding);
}

TEST_P(SessionLifecycle, BeginStageAndCommitStageDrainWithLabel) {
  auto s = dev().encoder_session();
  auto out = dev().alloc(sf::DType::F32, {64});
  s->begin_stage("layer.0.attn");
  EXPECT_EQ(s->label(), "layer.0.attn");
  fill(s->encoder(), out, 2.5f);
  s->commit_stage();
  EXPECT_TRUE(s->is_drained());
  EXPECT_FALSE(s->is_fence_pending());
  EXPECT_EQ(s->state(), sf::SessionState::Drained);
  EXPECT_EQ(s->encoder().label(), "layer.0.attn");
  s->wait();
  EXPECT_EQ(read_f32(out)[63], 2.5f);
}

TEST_P(SessionLifecycle, SecondCommitIsANoOpThatSucceeds) {
  auto s = dev().encoder_session();
  auto out = dev().alloc(sf::DType::F32, {4});
  fill(s->encoder(), out, 1.0f);
  s->commit_stage();
  const auto before = sf::counters::snapshot();
  EXPECT_NO_THROW(s->commit_stage());
  EXPECT_NO_THROW(s->commit_and_wait());
  EXPECT_NO_THROW(s->fence_stage("ignored"));
  const auto d = sf::counters::snapshot() - before;
  EXPECT_EQ(d.commits, 0u);
  EXPECT_EQ(d.syncs, 0u);
  EXPECT_FALSE(s->is_fence_pending());
  EXPECT_EQ(s->fence_value(), 0u);
}

TEST_P(SessionLifecycle, DestroyMidEncodingIsSafeAndDeviceStillWorks) {
  auto out = dev().alloc(sf::DType::F32, {32});
  {
    auto s = dev().encoder_session();
    fill(s->encoder(), out, 9.0f);
    EXPECT_EQ(s->state(), sf::SessionState::Encoding);
  }  // discarded, never committed
  auto enc = dev().command_encoder();
  auto other = dev().alloc(sf::DType::F32, {32});
  fill(enc, other, 4.0f);
  enc.commit_and_wait();
  EXPECT_EQ(read_f32(other)[0], 4.0f);
  EXPECT_EQ(read_f32(out)[0], 0.0f);  // the discarded work never ran
}

TEST_P(SessionLifecycle, CommitAndWaitBlocksAndAddsExactlyOneSync) {
  auto s = dev().encoder_session();
  auto a = make_f32(dev(), std::vector<float>(1000, 1.5f));
  auto b = make_f32(dev(), std::vector<float>(1000, 2.0f));
  auto out = dev().alloc(sf::DType::F32, {1000});
  mul(s->encoder(), a, b, out);
  const auto before = sf::counters::snapshot();
  s->commit_and_wait();
  const auto d = sf::counters::snapshot() - before;
  EXPECT_EQ(d.syncs, 1u);
  EXPECT_EQ(d.commits, 1u);
  EXPECT_TRUE(s->encoder().is_completed());  // it blocked until done
  EXPECT_EQ(read_f32(out)[999], 3.0f);
}

TEST_P(SessionLifecycle, CommitAndWaitReportsKernelFailureNamingTheStage) {
  if (!is_cpu()) GTEST_SKIP() << "CUDA faults are sticky; covered by the CUDA fault tests";
  auto s = dev().encoder_session();
  s->begin_stage("layer.7.ffn");
  s->dispatch("fail", {}, {42});
  try {
    s->commit_and_wait();
    FAIL() << "expected a KernelFault";
  } catch (const sf::Error& e) {
    EXPECT_EQ(e.code(), sf::ErrorCode::KernelFault);
    EXPECT_NE(std::string(e.what()).find("layer.7.ffn"), std::string::npos) << e.what();
    EXPECT_NE(std::string(e.what()).find("fail"), std::string::npos) << e.what();
  }
  EXPECT_TRUE(s->is_drained());
  // The error stays with the buffer: waiting again reports it again.
  EXPECT_THROW(s->wait(), sf::Error);
}

// The fence bookkeeping EncoderSession and a session-less chain share: each fenced stage signals
// N+1, the next stage's buffer waits for N, an unfenced commit makes the next stage wait for
// nothing, and the stages run in order.
TEST_P(SessionLifecycle, FencedStagesChainAPlainEncoder) {
  auto enc = dev().command_encoder();
  sf::Fence fence = dev().new_fence("chain");
  sf::FencedStages stages;
  EXPECT_FALSE(stages.next(enc, fence));  // nothing committed yet
  auto a = dev().alloc(sf::DType::F32, {64});
  auto b = dev().alloc(sf::DType::F32, {64});
  fill(enc, a, 2.0f);
  stages.fence_and_commit(enc, fence);
  EXPECT_EQ(stages.value(), 1u);
  EXPECT_TRUE(stages.drained());
  EXPECT_TRUE(stages.fence_pending());
  EXPECT_TRUE(stages.next(enc, fence));  // waits for value 1
  EXPECT_FALSE(stages.drained());
  add(enc, a, a, b);  // 4
  stages.fence_and_commit(enc, fence);
  EXPECT_EQ(stages.value(), 2u);
  EXPECT_TRUE(stages.next(enc, fence));
  mul(enc, b, b, a);  // 16
  stages.commit(enc);
  EXPECT_FALSE(stages.fence_pending());
  enc.wait();
  EXPECT_EQ(read_f32(a)[63], 16.0f);
  EXPECT_EQ(fence.completed_value(), 2u);
  EXPECT_TRUE(stages.drained());
  EXPECT_FALSE(stages.next(enc, fence));  // the last commit was unfenced: no wait
}
