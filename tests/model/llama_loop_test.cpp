// Loop mode (the device-side decode loop): it stops at N tokens, at a stop id and when the
// host stops or cancels it, with the tokens of replay mode and a cache state that the next
// generate() can reuse.
#include <gtest/gtest.h>

#include <cstdint>

#include "llama_test_model.hpp"
#include "model/llama/generator.hpp"
#include "model/llama/model.hpp"
#include "stagefence/counters.hpp"

namespace {

using namespace llama_test;
namespace llama = sf::llama;

class LlamaLoopTest : public ::testing::TestWithParam<sf::BackendKind> {
 protected:
  void SetUp() override {
    dev_ = try_open(GetParam());
    if (!dev_) GTEST_SKIP() << "no " << sf::backend_name(GetParam()) << " device on this machine";
    LlamaConfig c = tiny_llama();
    c.layers = 2;
    file_.emplace(sf::gguf::GgufFile::from_bytes(write_model(c, mixed_types(), 5)));
    model_.emplace(llama::load_model(*dev_, *file_));
  }
  std::vector<int32_t> run(llama::SubmissionMode mode, llama::GenerateOptions go) {
    go.mode = mode;
    llama::Generator gen(*dev_, *model_);
    return gen.generate(kPrompt, go).tokens;
  }
  // A generator over a 64-position cache, and loop options for up to `max_new_tokens`.
  llama::Generator small_generator() {
    llama::ForwardOptions fo;
    fo.context = 64;
    return llama::Generator(*dev_, *model_, fo);
  }
  static llama::GenerateOptions loop_options(int max_new_tokens) {
    llama::GenerateOptions go;
    go.max_new_tokens = max_new_tokens;
    go.mode = llama::SubmissionMode::Loop;
    return go;
  }
  const std::vector<int32_t> kPrompt = {7, 90, 14, 150, 33, 2, 61};
  std::optional<sf::Device> dev_;
  std::optional<sf::gguf::GgufFile> file_;
  std::optional<llama::LlamaModel> model_;
};

TEST_P(LlamaLoopTest, StopsAfterMaxNewTokens) {
  llama::GenerateOptions go;
  go.max_new_tokens = 20;
  const std::vector<int32_t> want = run(llama::SubmissionMode::Replay, go);
  ASSERT_EQ(want.size(), 20u);
  for (int n : {1, 2, 5, 20}) {
    go.max_new_tokens = n;
    const std::vector<int32_t> got = run(llama::SubmissionMode::Loop, go);
    EXPECT_EQ(got, std::vector<int32_t>(want.begin(), want.begin() + n)) << n;
  }
}

// A second loop of the same generator (another length, so other loop bounds and parameters)
// runs with the first call's tokens; on CUDA it updates the queue's loop graph in place rather
// than instantiating another.
TEST_P(LlamaLoopTest, ALaterCallReusesTheLoopGraph) {
  llama::Generator gen = small_generator();
  const std::vector<int32_t> first = gen.generate(kPrompt, loop_options(20)).tokens;
  ASSERT_EQ(first.size(), 20u);
  const sf::CounterSnapshot before = sf::counters::snapshot();
  const std::vector<int32_t> again = gen.generate(kPrompt, loop_options(12)).tokens;
  const sf::CounterSnapshot delta = sf::counters::snapshot() - before;
  EXPECT_EQ(again, std::vector<int32_t>(first.begin(), first.begin() + 12));
  if (GetParam() == sf::BackendKind::Cuda) {
    EXPECT_EQ(delta.graph_instantiations, 0u);
    EXPECT_GE(delta.graph_updates, 1u);
  }
}

TEST_P(LlamaLoopTest, StopsOnTheDeviceAtAStopId) {
  llama::GenerateOptions go;
  go.max_new_tokens = 20;
  const std::vector<int32_t> all = run(llama::SubmissionMode::Replay, go);
  const int32_t stop = all[6];
  const size_t first = size_t(std::find(all.begin(), all.end(), stop) - all.begin());
  go.stop_ids = {-5, stop};
  const std::vector<int32_t> want(all.begin(), all.begin() + long(first) + 1);
  EXPECT_EQ(run(llama::SubmissionMode::Replay, go), want);
  llama::Generator gen(*dev_, *model_);
  go.mode = llama::SubmissionMode::Loop;
  const llama::GenerationResult r = gen.generate(kPrompt, go);
  EXPECT_EQ(r.tokens, want);
  EXPECT_EQ(r.decode.device_overrun, 0);  // the device stopped itself at the stop id
  go.stop_ids.assign(sf::LoopControlParams::kMaxStopIds + 1, 1);
  EXPECT_THROW(gen.generate(kPrompt, go), sf::Error);
}

TEST_P(LlamaLoopTest, HostStopKeepsACacheTheNextCallReuses) {
  llama::Generator gen = small_generator();
  llama::GenerateOptions go = loop_options(50);
  int calls = 0;
  go.stop_after = [&](int32_t) { return ++calls == 4; };
  const llama::GenerationResult r = gen.generate(kPrompt, go);
  ASSERT_EQ(r.tokens.size(), 4u);
  // The device ran at most to N (the tiny model may finish before the host's first poll; the
  // cancel word itself is tested deterministically in tests/core/loop_test.cpp).
  EXPECT_LE(3 + r.decode.device_overrun, 49);  // 3 of the 49 loop tokens reported
  go.stop_after = nullptr;
  go.max_new_tokens = 4;
  EXPECT_EQ(run(llama::SubmissionMode::Replay, go), r.tokens);
  // The cache holds the prompt and the tokens reported (not those the device ran past).
  std::vector<int32_t> cached = kPrompt;
  cached.insert(cached.end(), r.tokens.begin(), r.tokens.end() - 1);
  EXPECT_EQ(gen.cached_tokens(), cached);
  std::vector<int32_t> longer = cached;
  longer.push_back(r.tokens.back());
  go.reuse_cached_prefix = true;
  go.max_new_tokens = 6;
  const llama::GenerationResult again = gen.generate(longer, go);
  EXPECT_EQ(again.cached_prompt_tokens, int(cached.size()));
  llama::Generator fresh = small_generator();
  go.reuse_cached_prefix = false;
  EXPECT_EQ(fresh.generate(longer, go).tokens, again.tokens);
}

TEST_P(LlamaLoopTest, HostCancelEndsTheLoop) {
  llama::Generator gen = small_generator();
  llama::GenerateOptions go = loop_options(50);
  int seen = 0;
  go.on_token = [&](int, int32_t) { ++seen; };
  go.cancelled = [&] { return seen >= 3; };
  const llama::GenerationResult r = gen.generate(kPrompt, go);
  EXPECT_TRUE(r.cancelled);
  EXPECT_EQ(r.tokens.size(), 3u);
  EXPECT_LE(2 + r.decode.device_overrun, 49);
  go.cancelled = nullptr;
  go.on_token = nullptr;
  go.max_new_tokens = 3;
  EXPECT_EQ(run(llama::SubmissionMode::Replay, go), r.tokens);
}

LLAMA_INSTANTIATE_BACKENDS(LlamaLoopTest);

}  // namespace
