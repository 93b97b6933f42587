// Fences across queues and from the host.
#include <cstdint>

#include "test_support.hpp"

using namespace sftest;

class Fences : public BackendTest {};
SF_INSTANTIATE_BACKENDS(Fences);

TEST_P(Fences, OrderWorkAcrossQueues) {
  auto producer_q = dev().new_queue("producer");
  auto consumer_q = dev().new_queue("consumer");
  auto fence = dev().new_fence("handoff");
  const int64_t n = 1 << 18;
  auto a = dev().alloc(sf::DType::F32, {n});
  auto b = dev().alloc(sf::DType::F32, {n});
  auto consumer = dev().command_encoder(consumer_q);
  consumer.wait_for(fence, 1);
  add(consumer, a, a, b);
  consumer.commit();  // submitted first: must still wait for the producer
  auto producer = dev().command_encoder(producer_q);
  if (is_cpu()) {
    auto stamps = dev().alloc(16);
    producer.dispatch("test.stamp", {sf::writes(stamps)}, {20000});
    producer.barrier();
  }
  fill(producer, a, 1.25f);
  producer.signal(fence, 1);
  producer.commit();
  consumer.wait(std::chrono::seconds(30));
  auto v = read_f32(b);
  EXPECT_EQ(v[0], 2.5f);
  EXPECT_EQ(v[n - 1], 2.5f);
  EXPECT_EQ(fence.completed_value(), 1u);
}

TEST_P(Fences, HostSignalReleasesAGpuWaiter) {
  auto fence = dev().new_fence("host");
  auto out = dev().alloc(sf::DType::F32, {4});
  auto enc = dev().command_encoder();
  enc.wait_for(fence, 5);
  fill(enc, out, 6.0f);
  enc.commit();
  EXPECT_FALSE(enc.is_completed());
  fence.signal(5);
  enc.wait(std::chrono::seconds(30));
  EXPECT_EQ(read_f32(out)[0], 6.0f);
}

TEST_P(Fences, ValuesNeverGoDown) {
  auto fence = dev().new_fence("mono");
  fence.signal(7);
  fence.signal(3);
  EXPECT_EQ(fence.completed_value(), 7u);
}

TEST(FencePoison, FailedProducerPoisonsCrossQueueWaiters) {
  auto dev = sf::Device::open({sf::BackendKind::Cpu});
  auto fence = dev.new_fence("cross");
  auto q1 = dev.new_queue("q1"), q2 = dev.new_queue("q2");
  auto out = dev.alloc(sf::DType::F32, {4});
  auto consumer = dev.command_encoder(q2);
  consumer.set_label("consumer");
  consumer.wait_for(fence, 1);
  fill(consumer, out, 3.0f);
  consumer.commit();
  auto producer = dev.command_encoder(q1);
  producer.set_label("producer");
  producer.dispatch("fail", {}, {1});
  producer.signal(fence, 1);
  producer.commit();
  try {
    consumer.wait(std::chrono::seconds(10));
    FAIL();
  } catch (const sf::Error& e) {
    EXPECT_EQ(e.code(), sf::ErrorCode::FencePoisoned);
    EXPECT_NE(std::string(e.what()).find("producer"), std::string::npos) << e.what();
    EXPECT_NE(std::string(e.what()).find("cross"), std::string::npos) << e.what();
  }
  EXPECT_EQ(read_f32(out)[0], 0.0f);
  EXPECT_THROW(fence.wait(1, std::chrono::seconds(1)), sf::Error);
  EXPECT_NE(fence.poison_message().find("failed on purpose"), std::string::npos);
}
