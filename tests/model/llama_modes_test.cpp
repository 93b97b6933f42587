// Submission modes and stage grouping: every mode and layers_per_stage give the same greedy
// tokens, and the counters show the syncs and command buffers each mode promises per token.
#include <gtest/gtest.h>

#include <cstdint>

#include "llama_test_model.hpp"
#include "model/llama/generator.hpp"
#include "model/llama/model.hpp"
#include "model/staged/stage_plan.hpp"

namespace {

using namespace llama_test;
namespace llama = sf::llama;

class LlamaModesTest : public ::testing::TestWithParam<sf::BackendKind> {
 protected:
  void SetUp() override {
    dev_ = try_open(GetParam());
    if (!dev_) GTEST_SKIP() << "no " << sf::backend_name(GetParam()) << " device on this machine";
    LlamaConfig c = tiny_llama();
    c.layers = 4;
    file_.emplace(sf::gguf::GgufFile::from_bytes(write_model(c, mixed_types(), 5)));
    model_.emplace(llama::load_model(*dev_, *file_));
  }
  std::optional<sf::Device> dev_;
  std::optional<sf::gguf::GgufFile> file_;
  std::optional<llama::LlamaModel> model_;
};

constexpr int kTokens = 18;
const std::vector<int32_t> kPrompt = {7, 90, 14, 150, 33, 2, 61};

TEST_P(LlamaModesTest, EveryModeAndGroupingGivesTheSameTokensAndPromisedCounters) {
  llama::ForwardOptions fo;
  fo.prefill_chunk = 3;
  llama::Generator gen(*dev_, *model_, fo);
  std::vector<int32_t> want;
  for (int per_stage : {1, 2, 0}) {
    const size_t stages = llama::StagePlan::make(model_->config.layers, per_stage).size();
    EXPECT_EQ(stages, per_stage == 1 ? 10u : per_stage == 2 ? 4u : 3u);
    for (llama::SubmissionMode mode : llama::kAllModes) {
      for (bool prefer_session : {true, false}) {
        const bool looped = mode == llama::SubmissionMode::Loop;
        const bool fenced_mode = mode == llama::SubmissionMode::Session ||
                                 mode == llama::SubmissionMode::Replay || looped;
        if (!prefer_session && !fenced_mode) continue;
        SCOPED_TRACE(std::string(llama::mode_name(mode)) + " layers_per_stage " +
                     std::to_string(per_stage) + (prefer_session ? "" : " (no session)"));
        llama::GenerateOptions go;
        go.mode = mode;
        go.layers_per_stage = per_stage;
        go.max_new_tokens = kTokens;
        go.prefer_session = prefer_session;
        gen.forward().token().upload(std::vector<int32_t>{-1});  // poisoned
        const llama::GenerationResult r = gen.generate(kPrompt, go);
        if (want.empty()) want = r.tokens;
        EXPECT_EQ(r.tokens, want);
        EXPECT_EQ(r.session_fallback,
                  fenced_mode && (!prefer_session || !sf::env::encoder_session_enabled()));

        const llama::DecodeFigures& d = r.decode;
        ASSERT_EQ(d.steps, kTokens - 1);
        const uint64_t n = uint64_t(d.steps);
        const uint64_t per_token = 1 + 6 * uint64_t(model_->config.layers) + 5;
        if (looped) {
          // Every decode token in one buffer, one launch and one host wait (at the loop's end);
          // the buffer records the token once and the loop's control kernel.
          EXPECT_EQ(d.total.syncs, 1u);
          EXPECT_EQ(d.total.command_buffers, 1u);
          EXPECT_EQ(d.total.commits, 1u);
          EXPECT_DOUBLE_EQ(d.tokens_per_commit, double(n));
          if (dev_->info().graphs) {
            EXPECT_EQ(d.total.graph_launches, 1u);
          }
          EXPECT_EQ(d.total.fences_signalled, 0u);
          EXPECT_EQ(d.total.dispatches, per_token + 1);
          EXPECT_EQ(d.device_overrun, 0);
          continue;
        }
        const bool blocking = mode == llama::SubmissionMode::Blocking;
        // One launch per token: single records the token into one buffer, replay replays the
        // captured token (its stages joined by barriers) into one.
        const bool one_launch =
            mode == llama::SubmissionMode::Single || mode == llama::SubmissionMode::Replay;
        // Syncs: one per stage when blocking, else one per token (the head's).
        EXPECT_EQ(d.total.syncs, n * (blocking ? stages : 1));
        // Command buffers: one per token in the one-launch modes, else one per stage.
        EXPECT_EQ(d.total.command_buffers, n * (one_launch ? 1 : stages));
        EXPECT_EQ(d.total.commits, d.total.command_buffers);
        // On a GPU with graphs each command buffer is one graph launch: one per token when
        // one_launch.
        if (dev_->info().graphs) {
          EXPECT_EQ(d.total.graph_launches, d.total.command_buffers);
        }
        // Session chains stages with one signal and one wait between neighbours.
        const uint64_t fenced = mode == llama::SubmissionMode::Session ? stages - 1 : 0;
        EXPECT_EQ(d.total.fences_signalled, n * fenced);
        EXPECT_EQ(d.total.waits_encoded, n * fenced);
        // Same dispatches every token, whatever the grouping: embed; per layer 4 for attention
        // (the fused norm+QKV+RoPE+cache write, split, merge: head_dim 16 has no one-launch
        // attention, output) and 2 for the FFN (fused norm+gate/up+SwiGLU, down); head 5
        // (norm, output with f32 activations, the logits' finite check, sample, step_advance).
        EXPECT_EQ(d.total.dispatches, n * per_token);
      }
    }
  }
}

TEST_P(LlamaModesTest, SampledTokensFollowTheSeedInEveryMode) {
  llama::Generator gen(*dev_, *model_);
  llama::GenerateOptions go;
  go.max_new_tokens = 12;
  go.sampling = {0.9f, 40, 0.95f, 1234};
  std::vector<int32_t> first;
  for (llama::SubmissionMode mode : llama::kAllModes) {
    go.mode = mode;
    const std::vector<int32_t> tokens = gen.generate(kPrompt, go).tokens;
    if (first.empty()) first = tokens;
    EXPECT_EQ(tokens, first) << llama::mode_name(mode);
  }
  go.sampling.seed = 99;
  EXPECT_NE(gen.generate(kPrompt, go).tokens, first);
  go.sampling = {};
  EXPECT_NE(gen.generate(kPrompt, go).tokens, first);
}

TEST_P(LlamaModesTest, SequenceLongerThanTheContextIsRejectedBeforeAnyWork) {
  llama::ForwardOptions fo;
  fo.context = 16;
  llama::Generator gen(*dev_, *model_, fo);
  llama::GenerateOptions go;
  go.max_new_tokens = 11;  // 7 prompt + 10 fed back = 17 positions
  try {
    gen.generate(kPrompt, go);
    FAIL() << "expected InvalidArgument";
  } catch (const sf::Error& e) {
    EXPECT_EQ(e.code(), sf::ErrorCode::InvalidArgument);
    EXPECT_NE(std::string(e.what()).find("context holds 16"), std::string::npos) << e.what();
  }
  go.max_new_tokens = 10;
  EXPECT_EQ(gen.generate(kPrompt, go).tokens.size(), 10u);
  EXPECT_THROW(gen.generate(std::vector<int32_t>{}, go), sf::Error);
  EXPECT_THROW(gen.generate(std::vector<int32_t>{1, 160}, go), sf::Error);  // outside vocab
}

LLAMA_INSTANTIATE_BACKENDS(LlamaModesTest);

TEST(LlamaStagePlan, NamesAndGroupsStages) {
  const llama::StagePlan one = llama::StagePlan::make(3, 1);
  std::vector<std::string> labels;
  for (const auto& s : one.stages) labels.push_back(s.label);
  EXPECT_EQ(labels,
            (std::vector<std::string>{"embed", "layer.0.attn", "layer.0.ffn", "layer.1.attn",
                                      "layer.1.ffn", "layer.2.attn", "layer.2.ffn", "head"}));
  labels.clear();
  for (const auto& s : llama::StagePlan::make(5, 2).stages) labels.push_back(s.label);
  EXPECT_EQ(labels,
            (std::vector<std::string>{"embed", "layers.0-1", "layers.2-3", "layers.4", "head"}));
  EXPECT_EQ(llama::StagePlan::make(5, 0).size(), 3u);
  EXPECT_EQ(llama::StagePlan::make(5, 9).size(), 3u);
  EXPECT_THROW(llama::StagePlan::make(5, -1), sf::Error);
}

}  // namespace
