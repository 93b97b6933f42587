// Faults: a failing stage in a fenced chain fails its waiter with its label, poisons the fences
// after it, and nothing hangs; host waits time out naming what they waited for.
#include "core/command_buffer.hpp"
#include "test_support.hpp"

using namespace sftest;

// Stage k of N fails: the wait names stage k; every later stage fails with FencePoisoned.
TEST(Faults, FailingStagePoisonsTheRestOfTheChain) {
  auto dev = sf::Device::open({sf::BackendKind::Cpu});
  constexpr int kStages = 6, kFailing = 2;
  auto out = dev.alloc(sf::DType::F32, {kStages});
  auto s = dev.encoder_session();
  ASSERT_TRUE(s);
  std::vector<std::shared_ptr<sf::CommandBuffer>> buffers;
  for (int k = 0; k < kStages; ++k) {
    s->begin_stage("layer." + std::to_string(k));
    s->dispatch("fail", {}, {k == kFailing ? 7 : 0});
    s->barrier();  // the stage's real work comes after the check that fails
    fill(s->encoder(), out.view(k * 4, 4).as(sf::DType::F32, {1}), float(k + 1));
    s->fence_stage();
    buffers.push_back(s->encoder().current());
    if (k + 1 < kStages) s->reset_for_next_stage();
  }
  try {
    s->wait(std::chrono::seconds(10));
    FAIL() << "the last stage must fail";
  } catch (const sf::Error& e) {
    EXPECT_EQ(e.code(), sf::ErrorCode::FencePoisoned) << e.what();
    EXPECT_NE(std::string(e.what()).find("layer.2"), std::string::npos) << e.what();
  }
  for (int k = 0; k < kStages; ++k) {
    auto& cb = buffers[k];
    if (k < kFailing) {
      EXPECT_NO_THROW(cb->wait_or_throw(std::chrono::seconds(10)));
    } else if (k == kFailing) {
      try {
        cb->wait_or_throw(std::chrono::seconds(10));
        FAIL();
      } catch (const sf::Error& e) {
        EXPECT_EQ(e.code(), sf::ErrorCode::KernelFault);
        EXPECT_NE(std::string(e.what()).find("'layer.2'"), std::string::npos) << e.what();
      }
    } else {
      EXPECT_THROW(cb->wait_or_throw(std::chrono::seconds(10)), sf::Error);
    }
  }
  auto v = read_f32(out);
  EXPECT_EQ(v[0], 1.0f);
  EXPECT_EQ(v[1], 2.0f);
  for (int k = kFailing; k < kStages; ++k) EXPECT_EQ(v[k], 0.0f) << "stage " << k << " ran";
  EXPECT_TRUE(s->fence().poisoned());
  EXPECT_THROW(s->fence().wait(kStages, std::chrono::seconds(1)), sf::Error);
  // The device still works.
  auto enc = dev.command_encoder();
  fill(enc, out, 9.0f);
  enc.commit_and_wait();
  EXPECT_EQ(read_f32(out)[5], 9.0f);
}

TEST(Faults, HostWaitTimesOutNamingFenceAndValue) {
  auto dev = sf::Device::open({sf::BackendKind::Cpu});
  auto f = dev.new_fence("kv.ready");
  try {
    f.wait(3, std::chrono::milliseconds(50));
    FAIL();
  } catch (const sf::Error& e) {
    EXPECT_EQ(e.code(), sf::ErrorCode::Timeout);
    EXPECT_NE(std::string(e.what()).find("kv.ready"), std::string::npos);
    EXPECT_NE(std::string(e.what()).find("value 3"), std::string::npos);
  }
  f.signal(3);
  EXPECT_NO_THROW(f.wait(3, std::chrono::milliseconds(50)));
  EXPECT_NO_THROW(f.wait(2, std::chrono::milliseconds(50)));
}

TEST(Faults, BufferWaitingOnAFenceNobodySignalsTimesOutInsteadOfHanging) {
  auto dev = sf::Device::open({sf::BackendKind::Cpu});
  auto f = dev.new_fence("never");
  auto q = dev.new_queue("side");
  auto enc = dev.command_encoder(q);
  enc.set_label("blocked");
  enc.wait_for(f, 1);
  try {
    enc.commit_and_wait(std::chrono::milliseconds(100));
    FAIL();
  } catch (const sf::Error& e) {
    EXPECT_EQ(e.code(), sf::ErrorCode::Timeout);
    EXPECT_NE(std::string(e.what()).find("blocked"), std::string::npos);
  }
  f.signal(1);  // releases the queue
  enc.wait(std::chrono::seconds(10));
}

TEST(Faults, WaitOnUncommittedBufferIsAStateError) {
  auto dev = sf::Device::open({sf::BackendKind::Cpu});
  auto enc = dev.command_encoder();
  try {
    enc.wait();
    FAIL();
  } catch (const sf::Error& e) {
    EXPECT_EQ(e.code(), sf::ErrorCode::State);
  }
}
