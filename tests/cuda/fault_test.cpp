// GPU faults: an illegal address or a trap surfaces at the next wait as KernelFault naming the
// buffer's label; the fences it would have signalled are poisoned, so later stages and a waiter
// on another queue fail with FencePoisoned; the device reports itself lost and every later
// submission throws DeviceLost; nothing hangs. Each test needs its own process (ctest runs them
// so): a CUDA fault ends the process's context.
#include <cstdint>
#include <functional>

#include "core/command_buffer.hpp"
#include "cuda_test_support.hpp"

using namespace cudatest;

namespace {

void expect_error(const std::function<void()>& f, sf::ErrorCode code, const std::string& mention) {
  try {
    f();
    ADD_FAILURE() << "expected " << sf::error_code_name(code);
  } catch (const sf::Error& e) {
    EXPECT_EQ(e.code(), code) << e.what();
    EXPECT_NE(std::string(e.what()).find(mention), std::string::npos) << e.what();
  }
}

void fault_surfaces_naming_label(const char* kernel, const char* label) {
  SF_OPEN_CUDA_OR_SKIP(dev);
  auto healthy = poisoned_f32(dev, 64);
  {
    auto enc = dev.command_encoder();
    enc.set_label("healthy");
    enc.dispatch("fill_f32", {sf::writes(healthy)}, {uint64_t(64), 2.5f});
    enc.commit_and_wait();
    EXPECT_EQ(healthy.to_vector<float>()[63], 2.5f);
  }
  auto enc = dev.command_encoder();
  enc.set_label(label);
  enc.dispatch(kernel, {}, {1});  // "fail" traps only when asked (s0 != 0)
  expect_error([&] { enc.commit_and_wait(std::chrono::seconds(30)); }, sf::ErrorCode::KernelFault,
               std::string("'") + label + "'");
  EXPECT_TRUE(dev.lost());
  EXPECT_NE(dev.lost_reason().find(label), std::string::npos) << dev.lost_reason();
  auto later = dev.command_encoder();
  later.dispatch("fill_f32", {sf::writes(healthy)}, {uint64_t(64), 1.0f});
  expect_error([&] { later.commit(); }, sf::ErrorCode::DeviceLost, "reopen");
  expect_error([&] { dev.alloc(64); }, sf::ErrorCode::DeviceLost, label);
}

}  // namespace

TEST(CudaFaults, IllegalAddressSurfacesAtTheWaitNamingTheLabel) {
  fault_surfaces_naming_label("fault.illegal_address", "boom.illegal_address");
}

TEST(CudaFaults, TrapSurfacesAtTheWaitNamingTheLabel) {
  fault_surfaces_naming_label("fault.trap", "boom.trap");
}

TEST(CudaFaults, FailKernelTrapsWhenAsked) {
  fault_surfaces_naming_label("fail", "boom.fail");
}

// Stage 1 of a fenced session chain traps; stage 2 on the same queue and a consumer on another
// queue both waited on the trapping stage's fence value and fail with FencePoisoned.
TEST(CudaFaults, FaultPoisonsLaterStagesAndACrossQueueWaiter) {
  SF_OPEN_CUDA_OR_SKIP(dev);
  auto out = poisoned_f32(dev, 1024);
  auto s = dev.encoder_session();
  ASSERT_TRUE(s);
  s->begin_stage("layer.0");
  s->dispatch("fill_f32", {sf::writes(out)}, {uint64_t(1024), 1.0f});
  s->fence_stage();
  auto stage0 = s->encoder().current();
  s->fence().wait(1, std::chrono::seconds(30));  // stage 0 is done before anything faults

  auto side = dev.new_queue("side");
  auto consumer = dev.command_encoder(side);
  consumer.set_label("consumer");
  consumer.wait_for(s->fence(), 2);
  consumer.dispatch("fill_f32", {sf::writes(out)}, {uint64_t(1024), 3.0f});
  consumer.commit();  // before its producer

  s->reset_for_next_stage();
  s->begin_stage("layer.1");
  s->dispatch("fault.trap", {}, {});
  s->fence_stage();
  auto stage1 = s->encoder().current();
  s->reset_for_next_stage();
  s->begin_stage("layer.2");
  s->dispatch("fill_f32", {sf::writes(out)}, {uint64_t(1024), 2.0f});
  s->fence_stage();
  auto stage2 = s->encoder().current();

  EXPECT_NO_THROW(stage0->wait_or_throw(std::chrono::seconds(30)));
  expect_error([&] { stage1->wait_or_throw(std::chrono::seconds(30)); }, sf::ErrorCode::KernelFault,
               "'layer.1'");
  expect_error([&] { stage2->wait_or_throw(std::chrono::seconds(30)); },
               sf::ErrorCode::FencePoisoned, "layer.1");
  expect_error([&] { consumer.wait(std::chrono::seconds(30)); }, sf::ErrorCode::FencePoisoned,
               "layer.1");
  EXPECT_TRUE(s->fence().poisoned());
  expect_error([&] { s->fence().wait(3, std::chrono::seconds(5)); }, sf::ErrorCode::FencePoisoned,
               "layer.1");
  EXPECT_TRUE(dev.lost());
  dev.synchronize();  // returns: nothing is left hanging
  auto later = dev.command_encoder();
  expect_error([&] { later.commit(); }, sf::ErrorCode::DeviceLost, "layer.1");
}

// A buffer held for a fence that its producer's failure poisons fails without running.
TEST(CudaFaults, HeldBufferFailsWhenItsProducerFails) {
  SF_OPEN_CUDA_OR_SKIP(dev);
  auto fence = dev.new_fence("handoff");
  auto out = poisoned_f32(dev, 16);
  auto q = dev.new_queue("late");
  auto consumer = dev.command_encoder(q);
  consumer.set_label("consumer");
  consumer.wait_for(fence, 5);  // nothing promises 5 yet: the buffer is held on the host
  consumer.dispatch("fill_f32", {sf::writes(out)}, {uint64_t(16), 3.0f});
  consumer.commit();
  auto producer = dev.command_encoder();
  producer.set_label("producer");
  producer.dispatch("fault.illegal_address", {}, {});
  producer.signal(fence, 5);
  producer.commit();
  expect_error([&] { producer.wait(std::chrono::seconds(30)); }, sf::ErrorCode::KernelFault,
               "'producer'");
  expect_error([&] { consumer.wait(std::chrono::seconds(30)); }, sf::ErrorCode::FencePoisoned,
               "producer");
  expect_error([&] { fence.wait(5, std::chrono::seconds(5)); }, sf::ErrorCode::FencePoisoned,
               "handoff");
}
