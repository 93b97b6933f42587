// The generator's prompt cache and cancellation hook: a prompt that extends the previous
// sequence prefills only its new tokens (and the count is validated), and a cancelled
// generation stops before its next pass.
#include <gtest/gtest.h>

#include <cstdint>

#include "llama_test_model.hpp"
#include "model/llama/generator.hpp"
#include "model/llama/model.hpp"
#include "stagefence/error.hpp"

namespace {

using namespace llama_test;
namespace llama = sf::llama;

class PromptCacheTest : public ::testing::Test {
 protected:
  void SetUp() override {
    dev_.emplace(sf::Device::open({sf::BackendKind::Cpu}));
    file_.emplace(sf::gguf::GgufFile::from_bytes(write_model(tiny_llama(), mixed_types(), 5)));
    model_.emplace(llama::load_model(*dev_, *file_));
  }
  std::optional<sf::Device> dev_;
  std::optional<sf::gguf::GgufFile> file_;
  std::optional<llama::LlamaModel> model_;
};

const std::vector<int32_t> kPrompt = {7, 90, 14, 150, 33, 2, 61};

TEST_F(PromptCacheTest, ASecondTurnPrefillsOnlyWhatIsNew) {
  llama::ForwardOptions fo;
  fo.prefill_chunk = 4;
  llama::Generator gen(*dev_, *model_, fo);
  llama::GenerateOptions go;
  go.max_new_tokens = 5;
  go.reuse_cached_prefix = true;
  const llama::GenerationResult first = gen.generate(kPrompt, go);
  EXPECT_EQ(first.cached_prompt_tokens, 0);
  // The cache now holds the prompt and every generated token but the last.
  std::vector<int32_t> held = kPrompt;
  held.insert(held.end(), first.tokens.begin(), first.tokens.end() - 1);
  EXPECT_EQ(gen.cached_tokens(), held);

  std::vector<int32_t> next = held;
  next.insert(next.end(), {first.tokens.back(), 11, 12});
  EXPECT_EQ(gen.reusable_prefix(next), int(held.size()));
  const llama::GenerationResult second = gen.generate(next, go);
  EXPECT_EQ(second.cached_prompt_tokens, int(held.size()));
  EXPECT_EQ(second.prefill_passes, 1);  // three new tokens, one chunk

  // The same prompt again reuses all but its last token; a different one reuses nothing.
  EXPECT_EQ(gen.reusable_prefix(kPrompt), int(kPrompt.size()) - 1);
  EXPECT_EQ(gen.reusable_prefix(std::vector<int32_t>{8, 90, 14}), 0);
  go.reuse_cached_prefix = false;
  EXPECT_EQ(gen.generate(next, go).cached_prompt_tokens, 0);
}

TEST_F(PromptCacheTest, StartSequenceRejectsACachedLengthOutsideThePrompt) {
  llama::LlamaForward f(*dev_, *model_, {});
  for (int cached : {-1, int(kPrompt.size()), int(kPrompt.size()) + 3})
    EXPECT_THROW(f.start_sequence(kPrompt, 2, 0, cached), sf::Error) << cached;
  EXPECT_NO_THROW(f.start_sequence(kPrompt, 2, 0, int(kPrompt.size()) - 1));
}

TEST_F(PromptCacheTest, CancellationStopsBeforeTheNextPass) {
  llama::Generator gen(*dev_, *model_, {});
  llama::GenerateOptions go;
  go.max_new_tokens = 20;
  int produced = 0;
  go.on_token = [&](int, int32_t) { ++produced; };
  go.cancelled = [&] { return produced >= 3; };
  const llama::GenerationResult r = gen.generate(kPrompt, go);
  EXPECT_TRUE(r.cancelled);
  EXPECT_EQ(r.tokens.size(), 3u);
  // Cancelled in the prefill: no token, and only the prefilled prefix stays cached.
  llama::ForwardOptions fo;
  fo.prefill_chunk = 2;
  llama::Generator chunked(*dev_, *model_, fo);
  int checks = 0;
  go.on_token = nullptr;
  go.cancelled = [&] { return ++checks > 2; };
  const llama::GenerationResult early = chunked.generate(kPrompt, go);
  EXPECT_TRUE(early.cancelled);
  EXPECT_TRUE(early.tokens.empty());
  EXPECT_EQ(chunked.cached_tokens(), std::vector<int32_t>(kPrompt.begin(), kPrompt.begin() + 4));
}

}  // namespace
