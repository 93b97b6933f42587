// Counter semantics: what each call costs in command buffers, commits, syncs and barriers.
#include "test_support.hpp"

using namespace sftest;

class Counters : public BackendTest {};
SF_INSTANTIATE_BACKENDS(Counters);

TEST_P(Counters, NewEncoderAddsOneCommandBufferAndNoCommitOrSync) {
  const auto before = sf::counters::snapshot();
  auto enc = dev().command_encoder();
  const auto d = sf::counters::snapshot() - before;
  EXPECT_EQ(d.command_buffers, 1u);
  EXPECT_EQ(d.commits, 0u);
  EXPECT_EQ(d.syncs, 0u);
}

TEST_P(Counters, AsyncCommitAddsOneCommitAndNoSync) {
  auto enc = dev().command_encoder();
  auto out = dev().alloc(sf::DType::F32, {8});
  fill(enc, out, 1.0f);
  const auto before = sf::counters::snapshot();
  enc.commit();
  const auto d = sf::counters::snapshot() - before;
  EXPECT_EQ(d.commits, 1u);
  EXPECT_EQ(d.syncs, 0u);
  dev().synchronize();
}

// The seed's headline figure: five attention+FFN pairs.
TEST_P(Counters, FivePairsCostTenBuffersPlainAndFiveInSession) {
  auto x = dev().alloc(sf::DType::F32, {256});
  auto y = dev().alloc(sf::DType::F32, {256});
  auto before = sf::counters::snapshot();
  for (int layer = 0; layer < 5; ++layer) {
    auto attn = dev().command_encoder();
    fill(attn, x, float(layer));
    attn.commit();
    auto ffn = dev().command_encoder();
    add(ffn, x, x, y);
    ffn.commit();
  }
  dev().synchronize();
  auto d = sf::counters::snapshot() - before;
  EXPECT_EQ(d.command_buffers, 10u);
  EXPECT_EQ(d.commits, 10u);

  before = sf::counters::snapshot();
  auto s = dev().encoder_session();
  for (int layer = 0; layer < 5; ++layer) {
    fill(s->encoder(), x, float(layer));
    add(s->encoder(), x, x, y);
    s->fence_stage("layer." + std::to_string(layer));
    if (layer < 4) s->reset_for_next_stage();
  }
  s->wait();
  d = sf::counters::snapshot() - before;
  EXPECT_EQ(d.command_buffers, 5u);
  EXPECT_EQ(d.commits, 5u);
  EXPECT_EQ(d.syncs, 1u);
  EXPECT_EQ(d.fences_signalled, 5u);
  EXPECT_EQ(d.waits_encoded, 4u);
  EXPECT_EQ(read_f32(y)[0], 8.0f);
}

TEST_P(Counters, FenceStageAddsNoSyncAndNoBufferResetAddsOneBuffer) {
  auto s = dev().encoder_session();
  auto x = dev().alloc(sf::DType::F32, {8});
  fill(s->encoder(), x, 1.0f);
  auto before = sf::counters::snapshot();
  s->fence_stage();
  auto d = sf::counters::snapshot() - before;
  EXPECT_EQ(d.syncs, 0u);
  EXPECT_EQ(d.command_buffers, 0u);
  before = sf::counters::snapshot();
  s->reset_for_next_stage();
  d = sf::counters::snapshot() - before;
  EXPECT_EQ(d.command_buffers, 1u);
  EXPECT_EQ(d.syncs, 0u);
  s->commit_and_wait();
}

TEST_P(Counters, BarrierBeforeFirstDispatchIsNotCounted) {
  auto enc = dev().command_encoder();
  auto x = dev().alloc(sf::DType::F32, {8});
  auto before = sf::counters::snapshot();
  enc.barrier();
  enc.barrier();
  EXPECT_EQ((sf::counters::snapshot() - before).barriers_explicit, 0u);
  fill(enc, x, 1.0f);
  enc.barrier();
  enc.barrier();  // nothing new to order
  EXPECT_EQ((sf::counters::snapshot() - before).barriers_explicit, 1u);
  enc.commit_and_wait();
}

// Capture records barriers into the graph without counting them; replay counts them like any
// barrier recorded live.
TEST_P(Counters, BarriersDuringCaptureCountAtReplay) {
  auto enc = dev().command_encoder();
  auto x = dev().alloc(sf::DType::F32, {8});
  auto y = dev().alloc(sf::DType::F32, {8});
  auto before = sf::counters::snapshot();
  enc.begin_capture();
  enc.barrier();  // before any dispatch: not recorded
  fill(enc, x, 1.0f);
  enc.barrier();
  fill(enc, y, 2.0f);
  enc.barrier();
  add(enc, x, y, y);
  auto graph = enc.end_capture();
  auto d = sf::counters::snapshot() - before;
  EXPECT_EQ(graph.barrier_count(), 2u);
  EXPECT_EQ(graph.dispatch_count(), 3u);
  EXPECT_EQ(d.barriers_explicit, 0u);
  EXPECT_EQ(d.dispatches, 0u);
  enc.replay(graph);
  d = sf::counters::snapshot() - before;
  EXPECT_EQ(d.barriers_explicit, 2u);
  EXPECT_EQ(d.dispatches, 3u);
  enc.commit_and_wait();
  EXPECT_EQ(read_f32(y)[3], 3.0f);
}

TEST_P(Counters, AutomaticBarriersAndConcurrentDispatchesAreCounted) {
  auto enc = dev().command_encoder();
  auto a = dev().alloc(sf::DType::F32, {8});
  auto b = dev().alloc(sf::DType::F32, {8});
  auto c = dev().alloc(sf::DType::F32, {8});
  auto before = sf::counters::snapshot();
  fill(enc, a, 1.0f);  // first: neither
  fill(enc, b, 2.0f);  // independent: concurrent
  add(enc, a, b, c);   // RAW on a and b: one automatic barrier, two dependencies
  auto d = sf::counters::snapshot() - before;
  EXPECT_EQ(d.concurrent_dispatches, 1u);
  EXPECT_EQ(d.barriers_auto, 1u);
  EXPECT_EQ(d.dependencies, 2u);
  enc.commit_and_wait();
}
