// Long runs: thousands of decoded tokens through fenced stages leave the runtime's live objects
// (command buffers, fences, allocations, pool bytes, CUDA graph execs) where they started.
// 10,000 tokens on a GPU; 100 on the CPU backend, where each token costs milliseconds.
#include <gtest/gtest.h>

#include <cstdint>

#include "llama_test_model.hpp"
#include "model/builtin_model.hpp"
#include "model/llama/generator.hpp"

namespace {

using namespace llama_test;
namespace llama = sf::llama;

class LongRun : public ::testing::TestWithParam<sf::BackendKind> {};

TEST_P(LongRun, DecodedTokensLeaveLiveObjectsAtBaseline) {
  auto dev = try_open(GetParam());
  if (!dev) GTEST_SKIP() << "no " << sf::backend_name(GetParam()) << " device on this machine";
  const int total = GetParam() == sf::BackendKind::Cuda ? 10000 : 100;
  const auto model = llama::load_builtin_model(*dev);
  llama::Generator gen(*dev, model);
  const auto prompt = llama::builtin_prompt();
  llama::GenerateOptions go;
  go.mode = llama::SubmissionMode::Session;
  go.sampling = {0.9f, 50, 0.95f, 7};  // sampled, so the tokens keep changing
  // Each call fills at most the cache (1024 positions); the next starts over from the prompt.
  const int per_call = 1024 - int(prompt.size()) - 8;

  auto run = [&](int tokens) {
    int done = 0;
    while (done < tokens) {
      go.max_new_tokens = std::min(per_call, tokens - done);
      go.sampling.seed += 1;
      const auto r = gen.generate(prompt, go);
      ASSERT_EQ(int(r.tokens.size()), go.max_new_tokens);
      done += go.max_new_tokens;
    }
  };
  run(16);  // warm: pool blocks and graph execs of a decode step exist from here on
  dev->synchronize();
  const auto base = sf::counters::snapshot();
  run(total);
  dev->synchronize();
  const auto end = sf::counters::snapshot();
  const auto used = end - base;
  EXPECT_EQ(end.live_command_buffers, base.live_command_buffers);
  EXPECT_EQ(end.live_fences, base.live_fences);
  EXPECT_EQ(end.live_allocations, base.live_allocations);
  EXPECT_EQ(end.pool_bytes_in_use, base.pool_bytes_in_use);
  EXPECT_LE(end.live_graph_execs, base.live_graph_execs);
  EXPECT_GE(used.syncs, uint64_t(total) - 1);  // one wait per token, at least
  if (GetParam() == sf::BackendKind::Cuda) {
    // Identical decode steps replay cached graphs: no instantiation per token.
    EXPECT_LT(used.graph_instantiations, uint64_t(total) / 100);
  }
}

INSTANTIATE_TEST_SUITE_P(Backends, LongRun,
                         ::testing::Values(sf::BackendKind::Cpu, sf::BackendKind::Cuda),
                         [](const auto& info) {
                           return std::string(sf::backend_name(info.param));
                         });

}  // namespace
