// Gemma 3 270M from its real GGUF (skipped unless scripts/install_model.sh gemma3 put it in the
// model directory): the configuration, the prompts' token ids, the first greedy tokens against
// those of an independent forward pass, and CUDA against the CPU.
//
// The expected tokens were produced by scripts/check_reference_model.py, whose numpy forward
// (weights dequantized by llama.cpp's gguf-py) shares no code with stagefence:
//   python3 scripts/check_reference_model.py --model <dir>/gemma-3-270m-q4_k_m.gguf
// The prompt ids are stagefence's own encoding (the reference was given these ids).
#include <gtest/gtest.h>

#include <cmath>
#include <cstdint>
#include <filesystem>
#include <optional>
#include <string>
#include <vector>

#include "model/gguf/gguf_file.hpp"
#include "model/llama/generator.hpp"
#include "model/llama/model.hpp"
#include "model/model_locator.hpp"
#include "model/tokenizer/gguf_tokenizer_data.hpp"
#include "model/tokenizer/tokenizer.hpp"
#include "model_file_fixture.hpp"
#include "scoped_env.hpp"
#include "stagefence/stagefence.hpp"

namespace {

namespace sf = stagefence;
namespace llama = sf::llama;

struct ReferencePrompt {
  std::string text;
  std::vector<int32_t> ids;       // the ids the reference run was given (BOS first)
  std::vector<int32_t> expected;  // the reference's first greedy tokens after them
};

// "\n\nThe capital of France is Paris.\n\nWhat is the capital of France?"
const ReferencePrompt kCapital{
    "What is the capital of France?",
    {2, 3689, 563, 506, 5279, 529, 7001, 236881},
    {108, 818, 5279, 529, 7001, 563, 9079, 236761, 108, 3689, 563, 506, 5279, 529, 7001, 236881}};
const ReferencePrompt kColors{"The three primary colors are",
                              {2, 818, 1806, 5905, 7913, 659},
                              {2604, 236764, 3730, 236764, 532, 7070, 236761, 108, 818, 5905, 7913,
                               659, 2604, 236764, 3730, 236764}};

class Gemma3FileTest : public sftest::ModelFileTest<Gemma3FileTest> {
 public:
  static std::optional<std::filesystem::path> path() {
    const std::optional<std::filesystem::path> dir =
        sf::model::model_directory(sf::model::LocatorInputs::from_environment());
    if (!dir) return std::nullopt;
    return *dir / "gemma-3-270m-q4_k_m.gguf";
  }
  static const char* install_hint() {
    return "Gemma 3 270M is not installed (scripts/install_model.sh gemma3)";
  }

 protected:
  static std::vector<int32_t> greedy(sf::BackendKind backend, const ReferencePrompt& p, int n) {
    sf::DeviceOptions options;
    options.backend = backend;
    sf::Device device = sf::Device::open(options);
    const llama::LlamaModel model = llama::load_model(device, *file_);
    llama::Generator generator(device, model);
    llama::GenerateOptions go;
    go.max_new_tokens = n;
    generator.forward().token().upload(std::vector<int32_t>{-1});  // poisoned
    return generator.generate(p.ids, go).tokens;
  }
};

TEST_F(Gemma3FileTest, ConfigurationIsGemma3) {
  const llama::LlamaConfig c = llama::config_from_gguf(*file_);
  EXPECT_EQ(c.architecture, "gemma3");
  EXPECT_EQ(c.layers, 18);
  EXPECT_EQ(c.dim, 640);
  EXPECT_EQ(c.heads, 4);
  EXPECT_EQ(c.kv_heads, 1);
  EXPECT_EQ(c.head_dim, 256);
  EXPECT_EQ(c.vocab, 262144);
  EXPECT_EQ(c.sliding_window, 512);
  EXPECT_TRUE(c.qk_norm);
  EXPECT_TRUE(c.post_norms);
  EXPECT_TRUE(c.tied_output);
  EXPECT_EQ(c.ffn_act, sf::kernels::ops::Activation::GeluTanh);
  EXPECT_EQ(c.layer_attention(5).window, 0);
  EXPECT_EQ(c.layer_attention(4).window, 512);
  EXPECT_FLOAT_EQ(c.layer_attention(5).rope_theta, 1e6f);
  EXPECT_FLOAT_EQ(c.layer_attention(4).rope_theta, 1e4f);
  EXPECT_FLOAT_EQ(c.embed_scale, std::sqrt(640.0f));
}

TEST_F(Gemma3FileTest, TokenizerEncodesThePromptsAsTheReferenceRunWasGiven) {
  for (const ReferencePrompt* p : {&kCapital, &kColors}) {
    EXPECT_EQ(tokenizer_->encode(p->text), p->ids) << p->text;
    EXPECT_EQ(tokenizer_->decode(p->ids), p->text);
  }
  EXPECT_EQ(tokenizer_->decode(kCapital.expected),
            "\n\nThe capital of France is Paris.\n\nWhat is the capital of France?");
}

// The numpy reference keeps f32 activations, so this runs the f32-activation path.
TEST_F(Gemma3FileTest, GreedyTokensMatchTheIndependentReference) {
  const sftest::ScopedEnv f32_activations("STAGEFENCE_ACTIVATIONS", "f32");
  for (const ReferencePrompt* p : {&kCapital, &kColors}) {
    SCOPED_TRACE(p->text);
    EXPECT_EQ(greedy(sf::BackendKind::Cpu, *p, int(p->expected.size())), p->expected);
  }
}

TEST_F(Gemma3FileTest, CudaMatchesCpu) {
  try {
    sf::DeviceOptions o;
    o.backend = sf::BackendKind::Cuda;
    sf::Device::open(o);
  } catch (const sf::Error& e) {
    if (e.code() == sf::ErrorCode::Unsupported) GTEST_SKIP() << "no CUDA device: " << e.what();
    throw;
  }
  for (const char* activations : {"f32", "q8"}) {
    const sftest::ScopedEnv env("STAGEFENCE_ACTIVATIONS", activations);
    SCOPED_TRACE(activations);
    const std::vector<int32_t> cpu = greedy(sf::BackendKind::Cpu, kCapital, 32);
    EXPECT_EQ(greedy(sf::BackendKind::Cuda, kCapital, 32), cpu);
    if (std::string(activations) == "f32") {
      EXPECT_EQ(std::vector<int32_t>(cpu.begin(), cpu.begin() + 16), kCapital.expected);
    }
  }
}

}  // namespace
