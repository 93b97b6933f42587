// Determinism: five runs with the same seed give bitwise-identical tokens and logits, per mode
// and backend (sampling on, so the seeded generator is exercised too).
#include <gtest/gtest.h>

#include <cstdint>
#include <cstring>

#include "llama_test_model.hpp"
#include "model/builtin_model.hpp"
#include "model/llama/generator.hpp"

namespace {

using namespace llama_test;
namespace llama = sf::llama;

struct RunRecord {
  std::vector<int32_t> tokens;
  std::vector<uint32_t> logit_bits;  // every step's logits, as raw bits
};

RunRecord run_once(sf::Device& dev, const llama::LlamaModel& model, llama::SubmissionMode mode) {
  llama::Generator gen(dev, model);
  llama::GenerateOptions go;
  go.mode = mode;
  go.max_new_tokens = 8;
  go.sampling = {0.8f, 40, 0.9f, 1234};
  RunRecord run;
  go.on_token = [&](int, int32_t) {
    const auto v = gen.forward().logits().to_vector<uint32_t>();
    run.logit_bits.insert(run.logit_bits.end(), v.begin(), v.end());
  };
  run.tokens = gen.generate(llama::builtin_prompt(), go).tokens;
  return run;
}

class Determinism : public ::testing::TestWithParam<sf::BackendKind> {};

TEST_P(Determinism, FiveRunsAreBitwiseIdenticalInEveryMode) {
  auto dev = try_open(GetParam());
  if (!dev) GTEST_SKIP() << "no " << sf::backend_name(GetParam()) << " device on this machine";
  const auto model = llama::load_builtin_model(*dev);
  for (llama::SubmissionMode mode : llama::kAllModes) {
    if (mode == llama::SubmissionMode::Loop) continue;  // on_token sees no per-step logits
    SCOPED_TRACE(llama::mode_name(mode));
    const RunRecord first = run_once(*dev, model, mode);
    ASSERT_EQ(first.tokens.size(), 8u);
    ASSERT_FALSE(first.logit_bits.empty());
    for (int i = 1; i < 5; ++i) {
      const RunRecord again = run_once(*dev, model, mode);
      EXPECT_EQ(again.tokens, first.tokens) << "run " << i;
      EXPECT_TRUE(again.logit_bits == first.logit_bits) << "run " << i << ": logits differ";
    }
  }
}

INSTANTIATE_TEST_SUITE_P(Backends, Determinism,
                         ::testing::Values(sf::BackendKind::Cpu, sf::BackendKind::Cuda),
                         [](const auto& info) {
                           return std::string(sf::backend_name(info.param));
                         });

}  // namespace
