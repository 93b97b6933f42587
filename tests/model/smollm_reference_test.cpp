// SmolLM2-135M-Instruct from its real GGUF (skipped unless the model locator finds it): the
// configuration, the tokenizer round trip of a chat prompt, and the first greedy tokens against
// those of an independent forward pass.
//
// The expected tokens were produced by scripts/check_reference_model.py, whose numpy forward
// (weights dequantized by llama.cpp's gguf-py) shares no code with stagefence:
//   python3 scripts/check_reference_model.py --cli build/app/stagefence
#include <gtest/gtest.h>

#include <cstdint>
#include <filesystem>
#include <optional>
#include <string>
#include <vector>

#include "model/gguf/gguf_file.hpp"
#include "model/llama/generator.hpp"
#include "model/llama/model.hpp"
#include "model/model_locator.hpp"
#include "model/tokenizer/chat_template.hpp"
#include "model/tokenizer/gguf_tokenizer_data.hpp"
#include "model/tokenizer/incremental_decoder.hpp"
#include "model/tokenizer/tokenizer.hpp"
#include "model_file_fixture.hpp"
#include "scoped_env.hpp"
#include "stagefence/stagefence.hpp"

namespace {

namespace sf = stagefence;
namespace llama = sf::llama;

struct ReferencePrompt {
  std::string text;
  bool chat;
  std::vector<int32_t> ids;       // the ids the reference run was given
  std::vector<int32_t> expected;  // the reference's first greedy tokens after them
};

// From the reference run (first 16 of its 32 tokens, generated past the end of turn).
const ReferencePrompt kCapital{
    "What is the capital of France?",
    true,
    {1,   9690, 198, 2683, 359,   253,  5356, 5646, 11173, 3365, 3511, 308,  34519,
     28,  7018, 411, 407,  19712, 8182, 2,    198,  1,     4093, 198,  1780, 314,
     260, 3575, 282, 4649, 47,    2,    198,  1,    520,   9531, 198},
    {504, 3575, 282, 4649, 314, 7042, 30, 2, 198, 2, 1, 9690, 198, 2, 198, 1}};
const ReferencePrompt kColors{
    "The three primary colors are",
    false,
    {504, 1296, 3003, 4683, 359},
    {260, 3003, 4683, 282, 260, 35526, 2380, 1743, 42, 2382, 28, 4461, 28, 284, 2654, 30}};

class SmolLmTest : public sftest::ModelFileTest<SmolLmTest> {
 public:
  static std::optional<std::filesystem::path> path() {
    return sf::model::locate_model(sf::model::LocatorInputs::from_environment()).path;
  }
  static const char* install_hint() {
    return "SmolLM2 is not installed (scripts/install_model.sh) and STAGEFENCE_MODEL_GGUF is not "
           "set";
  }

 protected:
  std::vector<int32_t> encode(const ReferencePrompt& p) const {
    if (!p.chat) return tokenizer_->encode(p.text);
    const sf::tok::ChatTemplate chat(tokenizer_->data().chat_template);
    return tokenizer_->encode(chat.apply({{"user", p.text}}, true), true, true);
  }
};

TEST_F(SmolLmTest, ConfigurationIsSmolLm2) {
  const llama::LlamaConfig c = llama::config_from_gguf(*file_);
  EXPECT_EQ(c.architecture, "llama");
  EXPECT_EQ(c.layers, 30);
  EXPECT_EQ(c.dim, 576);
  EXPECT_EQ(c.heads, 9);
  EXPECT_EQ(c.kv_heads, 3);
  EXPECT_EQ(c.head_dim, 64);
  EXPECT_EQ(c.ffn_dim, 1536);
  EXPECT_EQ(c.vocab, 49152);
  EXPECT_EQ(c.rope_theta, 100000.0f);
  EXPECT_EQ(c.rope_mode, sf::kernels::ops::RopeMode::Adjacent);
  EXPECT_TRUE(c.tied_output);
  EXPECT_EQ(file_->tensor("token_embd.weight").dtype, sf::DType::Q8_0);
  EXPECT_EQ(file_->tensor("blk.0.attn_q.weight").dtype, sf::DType::Q4_1);
}

TEST_F(SmolLmTest, TokenizerRoundTripsThePrompts) {
  const sf::tok::ChatTemplate chat(tokenizer_->data().chat_template);
  const std::string formatted = chat.apply({{"user", kCapital.text}}, true);
  ASSERT_NE(formatted.find(kCapital.text), std::string::npos);
  const std::vector<int32_t> capital = encode(kCapital);
  EXPECT_EQ(capital, kCapital.ids) << "the chat prompt encodes differently from the reference run";
  EXPECT_EQ(tokenizer_->decode(capital, /*render_special=*/true), formatted);
  const std::vector<int32_t> colors = encode(kColors);
  EXPECT_EQ(colors, kColors.ids);
  EXPECT_EQ(tokenizer_->decode(colors), kColors.text);
}

// The numpy reference keeps f32 activations, so this runs the f32-activation path; the default
// 8-bit path answers the chat question below.
TEST_F(SmolLmTest, GreedyTokensMatchTheIndependentReference) {
  const sftest::ScopedEnv f32_activations("STAGEFENCE_ACTIVATIONS", "f32");
  sf::DeviceOptions options;
  options.backend = sf::BackendKind::Cpu;
  sf::Device device = sf::Device::open(options);
  const llama::LlamaModel model = llama::load_model(device, *file_);
  llama::Generator generator(device, model);
  for (const ReferencePrompt* p : {&kCapital, &kColors}) {
    SCOPED_TRACE(p->text);
    llama::GenerateOptions go;
    go.max_new_tokens = int(p->expected.size());
    generator.forward().token().upload(std::vector<int32_t>{-1});  // poisoned
    const llama::GenerationResult r = generator.generate(p->ids, go);
    EXPECT_EQ(r.tokens, p->expected);
  }
}

TEST_F(SmolLmTest, ChatAnswerStopsAtTheEndOfTurnAndStreamsAsText) {
  sf::DeviceOptions options;
  options.backend = sf::BackendKind::Cpu;
  sf::Device device = sf::Device::open(options);
  const llama::LlamaModel model = llama::load_model(device, *file_);
  llama::Generator generator(device, model);
  sf::tok::IncrementalDecoder decoder(*tokenizer_);
  std::string streamed;
  llama::GenerateOptions go;
  go.max_new_tokens = 32;
  go.on_token = [&](int, int32_t token) { streamed += decoder.push(token); };
  go.stop_after = [&](int32_t token) { return tokenizer_->is_end_of_generation(token); };
  const llama::GenerationResult r = generator.generate(kCapital.ids, go);
  streamed += decoder.finish();
  // The reference's answer ends its turn with <|im_end|> (id 2) as its 8th token.
  const std::vector<int32_t> answer(kCapital.expected.begin(), kCapital.expected.begin() + 8);
  ASSERT_TRUE(tokenizer_->is_end_of_generation(answer.back()));
  EXPECT_EQ(r.tokens, answer);
  EXPECT_EQ(r.decode.steps, 7);
  EXPECT_EQ(streamed, tokenizer_->decode(answer));
  EXPECT_EQ(streamed, "The capital of France is Paris.");
}

}  // namespace
