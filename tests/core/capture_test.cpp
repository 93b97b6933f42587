// Capture: record into a portable graph, dump it, replay it (twice, and on another device).
#include <cstdint>

#include "test_support.hpp"

using namespace sftest;

class Capture : public BackendTest {};
SF_INSTANTIATE_BACKENDS(Capture);

TEST_P(Capture, CaptureDumpAndReplay) {
  auto a = dev().alloc(sf::DType::F32, {128});
  auto b = dev().alloc(sf::DType::F32, {128});
  auto c = dev().alloc(sf::DType::F32, {128});
  auto enc = dev().command_encoder();
  enc.begin_capture();
  fill(enc, a, 2.0f);
  fill(enc, b, 3.0f);
  mul(enc, a, b, c);
  add(enc, c, a, c);
  auto graph = enc.end_capture();
  EXPECT_EQ(enc.dispatch_count(), 0u);  // nothing went into the buffer
  ASSERT_EQ(graph.dispatch_count(), 4u);
  EXPECT_EQ(graph.nodes()[2].dispatch.deps, (std::vector<uint32_t>{0, 1}));
  EXPECT_EQ(graph.nodes()[3].dispatch.deps, (std::vector<uint32_t>{0, 2}));
  const std::string text = graph.to_text();
  EXPECT_NE(text.find("mul_f32"), std::string::npos) << text;
  EXPECT_NE(text.find("deps=[0,1]"), std::string::npos) << text;
  EXPECT_NE(text.find("write:alloc" + std::to_string(c.allocation_id())), std::string::npos)
      << text;

  for (int i = 0; i < 2; ++i) {
    enc.replay(graph);
    enc.commit_and_wait();
    EXPECT_EQ(read_f32(c)[127], 8.0f);
    enc.reset();
  }
}

TEST_P(Capture, ReplayOnAnotherDeviceAfterRebinding) {
  auto cpu = sf::Device::open({sf::BackendKind::Cpu});
  auto a = cpu.alloc(sf::DType::F32, {64});
  auto b = cpu.alloc(sf::DType::F32, {64});
  auto enc = cpu.command_encoder();
  enc.begin_capture();
  fill(enc, a, 1.5f);
  add(enc, a, a, b);
  auto graph = enc.end_capture();

  auto a2 = dev().alloc(sf::DType::F32, {64});
  auto b2 = dev().alloc(sf::DType::F32, {64});
  auto moved = graph.rebind({{a, a2}, {b, b2}});
  auto enc2 = dev().command_encoder();
  enc2.replay(moved);
  enc2.commit_and_wait();
  EXPECT_EQ(read_f32(b2)[63], 3.0f);
  EXPECT_EQ(read_f32(b)[0], 0.0f);
  EXPECT_THROW(graph.rebind({{a, a2}}), sf::Error);  // b has no replacement
}
