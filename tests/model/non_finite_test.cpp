// Non-finite values (issue 15, item 8): NaN or Inf in the weights makes generation fail naming the
// stage whose output first held them (every stage with STAGEFENCE_CHECK_FINITE=1, else the
// logits), instead of exiting 0 with tokens sampled from NaN; infinite eps or theta is a Format
// error when the model loads.
#include <gtest/gtest.h>

#include <cstdint>
#include <cstring>
#include <limits>
#include <string>

#include "llama_test_model.hpp"
#include "model/llama/generator.hpp"
#include "model/llama/model.hpp"
#include "model/llama/tensor_layout.hpp"
#include "scoped_env.hpp"

namespace {

using namespace llama_test;
namespace llama = sf::llama;

constexpr float kInf = std::numeric_limits<float>::infinity();
const std::vector<int32_t> kPrompt = {3, 141, 59, 26, 100};

// tiny_llama in f32 with element `index` of `poisoned` set to `value` and, when `key` is given,
// that metadata key written as the f32 `key_value`.
std::vector<std::byte> write_poisoned(const std::string& poisoned, float value, size_t index = 37,
                                      const std::string& key = "", float key_value = 0) {
  const LlamaConfig c = tiny_llama();
  sf::gguf::GgufWriter w;
  for (auto& [k, v] : llama::config_metadata(c))
    if (k == key)
      w.add_f32(k, key_value);
    else
      w.add(k, v);
  for (const llama::TensorSpec& spec : llama::tensor_layout(c)) {
    std::vector<uint8_t> bytes = llama::random_tensor_bytes(spec, sf::DType::F32, 11, 0, spec.rows);
    if (spec.name == poisoned)
      std::memcpy(bytes.data() + index * sizeof(float), &value, sizeof value);
    w.add_tensor(spec.name, sf::DType::F32, spec.gguf_dims(),
                 std::as_bytes(std::span<const uint8_t>(bytes)));
  }
  return w.to_bytes();
}

// The Format message generation fails with, or "" when it succeeds.
std::string generation_error(sf::Device& dev, const std::vector<std::byte>& bytes,
                             int layers_per_stage = 1,
                             llama::SubmissionMode mode = llama::SubmissionMode::Session) {
  const sf::gguf::GgufFile file = sf::gguf::GgufFile::from_bytes(bytes);
  const llama::LlamaModel model = llama::load_model(dev, file);
  llama::Generator gen(dev, model);
  llama::GenerateOptions go;
  go.max_new_tokens = 4;
  go.mode = mode;
  go.layers_per_stage = layers_per_stage;
  try {
    gen.generate(kPrompt, go);
  } catch (const sf::Error& e) {
    EXPECT_EQ(e.code(), sf::ErrorCode::Format) << e.what();
    return e.what();
  }
  return "";
}

void expect_contains(const std::string& message, const std::string& needle) {
  EXPECT_NE(message.find(needle), std::string::npos)
      << "'" << needle << "' not in: '" << message << "'";
}

class NonFinite : public ::testing::TestWithParam<sf::BackendKind> {
 protected:
  void SetUp() override {
    dev_ = try_open(GetParam());
    if (!dev_) GTEST_SKIP() << "no " << sf::backend_name(GetParam()) << " device on this machine";
  }
  std::optional<sf::Device> dev_;
};
LLAMA_INSTANTIATE_BACKENDS(NonFinite);

TEST_P(NonFinite, NanWeightFailsAtTheHeadNamingTheSwitch) {
  const std::string m = generation_error(*dev_, write_poisoned("blk.1.ffn_down.weight", NAN));
  expect_contains(m, "non-finite values");
  expect_contains(m, "head (the logits)");
  expect_contains(m, "STAGEFENCE_CHECK_FINITE=1");
}

TEST_P(NonFinite, CheckingEveryStageNamesTheFirstBadOne) {
  const sftest::ScopedEnv env("STAGEFENCE_CHECK_FINITE", "1");
  for (llama::SubmissionMode mode : llama::kAllModes) {
    SCOPED_TRACE(llama::mode_name(mode));
    expect_contains(generation_error(*dev_, write_poisoned("blk.1.ffn_down.weight", NAN), 1, mode),
                    "stage layer.1.ffn:");
    expect_contains(generation_error(*dev_, write_poisoned("blk.0.attn_q.weight", kInf), 1, mode),
                    "stage layer.0.attn:");
    expect_contains(
        generation_error(*dev_, write_poisoned("token_embd.weight", -kInf, kPrompt[0] * 64 + 5), 1,
                         mode),
        "stage embed:");
  }
  // Every layer in one stage: the check inside the stage still names the layer.
  expect_contains(generation_error(*dev_, write_poisoned("blk.1.attn_v.weight", NAN), 0),
                  "stage layer.1.attn:");
}

TEST_P(NonFinite, FiniteModelsPassEveryCheckWithTheSameTokens) {
  const std::vector<std::byte> bytes = write_poisoned("", 0);
  const sf::gguf::GgufFile file = sf::gguf::GgufFile::from_bytes(bytes);
  const llama::LlamaModel model = llama::load_model(*dev_, file);
  auto tokens = [&] {
    llama::Generator gen(*dev_, model);
    llama::GenerateOptions go;
    go.max_new_tokens = 8;
    return gen.generate(kPrompt, go).tokens;
  };
  const std::vector<int32_t> unchecked = tokens();
  const sftest::ScopedEnv env("STAGEFENCE_CHECK_FINITE", "1");
  EXPECT_EQ(tokens(), unchecked);
}

TEST(NonFiniteMetadata, InfiniteEpsOrThetaIsAFormatErrorAtLoad) {
  sf::Device dev = sf::Device::open({sf::BackendKind::Cpu});
  for (const auto& [key, field] :
       {std::pair{"llama.attention.layer_norm_rms_epsilon", "rms_eps = inf"},
        std::pair{"llama.rope.freq_base", "rope_theta = inf"}}) {
    const sf::gguf::GgufFile file =
        sf::gguf::GgufFile::from_bytes(write_poisoned("", 0, 0, key, kInf));
    try {
      llama::load_model(dev, file);
      ADD_FAILURE() << key << " = inf was accepted";
    } catch (const sf::Error& e) {
      EXPECT_EQ(e.code(), sf::ErrorCode::Format) << e.what();
      expect_contains(e.what(), field);
      expect_contains(e.what(), "must be positive and finite");
    }
  }
}

}  // namespace
