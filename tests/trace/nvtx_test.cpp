// Command-buffer labels reach the profiler API: the static NVTX injection in nvtx_injection.cpp
// records every range pushed, and committing labelled buffers must push their labels.
#include <gtest/gtest.h>

#include <algorithm>

#include "nvtx_injection.hpp"
#include "stagefence/stagefence.hpp"

namespace sf = stagefence;

TEST(Nvtx, CommandBufferLabelsReachTheProfilerApi) {
  if (!nvtx_probe::available()) GTEST_SKIP() << "built without the CUDA toolkit: no NVTX";
  auto dev = sf::Device::open({sf::BackendKind::Cpu});
  auto out = dev.alloc(sf::DType::F32, {64});
  auto s = dev.encoder_session();
  ASSERT_TRUE(s);
  s->begin_stage("layer.3.attn");
  s->dispatch("fill_f32", {sf::writes(out)}, {64u, 1.0f});
  s->fence_stage();
  s->reset_for_next_stage();
  s->begin_stage("layer.3.ffn");
  s->dispatch("fill_f32", {sf::writes(out)}, {64u, 2.0f});
  s->commit_and_wait();
  const auto pushed = nvtx_probe::pushed();
  const auto has = [&](const char* label) {
    return std::find(pushed.begin(), pushed.end(), label) != pushed.end();
  };
  EXPECT_TRUE(has("layer.3.attn")) << pushed.size() << " ranges seen";
  EXPECT_TRUE(has("layer.3.ffn")) << pushed.size() << " ranges seen";
  EXPECT_EQ(nvtx_probe::depth(), 0);  // every push popped
}
