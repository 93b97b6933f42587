// Float-weight prefill on CUDA (issue 15, item 1): a model whose matrices are all f32 (cuBLAS
// SGEMM), f16 or bf16 (split GEMMs) prefilled in one pass of 12 tokens. Independent matmul nodes
// of a CUDA graph once shared one cuBLAS workspace and split buffer and never finished; every
// mode must now return the CPU backend's greedy tokens, and a run that does not finish within
// the deadline fails the test instead of hanging it.
#include <gtest/gtest.h>

#include <chrono>
#include <cstdint>
#include <cstdio>
#include <cstdlib>
#include <future>
#include <string>

#include "llama_test_model.hpp"
#include "model/llama/generator.hpp"
#include "model/llama/model.hpp"

namespace {

using namespace llama_test;
namespace llama = sf::llama;

constexpr int kNewTokens = 6;
constexpr auto kDeadline = std::chrono::seconds(120);
const std::vector<int32_t> kPrompt = {1, 17, 42, 99, 7, 300, 5, 64, 3, 141, 59, 26};

// The shape that hung on an H200 (scripts/gpu-f32-repro.sh's "tiny" GGUF).
LlamaConfig repro_shape() {
  LlamaConfig c = tiny_llama();
  c.dim = 256;
  c.layers = 4;
  c.heads = 8;
  c.kv_heads = 4;
  c.head_dim = 32;
  c.rope_dim = 32;
  c.ffn_dim = 512;
  c.vocab = 512;
  c.context_length = 2048;
  return c;
}

struct TokenRun {
  std::vector<int32_t> tokens;
  std::vector<float> first_logits;  // the logits the prompt's token was sampled from
};

TokenRun generate(sf::Device& dev, const sf::gguf::GgufFile& file, llama::SubmissionMode mode) {
  const llama::LlamaModel model = llama::load_model(dev, file);
  llama::Generator gen(dev, model);  // the default prefill chunk takes the prompt in one pass
  TokenRun out;
  llama::GenerateOptions go;
  go.mode = mode;
  go.max_new_tokens = kNewTokens;
  go.on_token = [&](int step, int32_t) {
    if (step != 0) return;
    out.first_logits.resize(size_t(model.config.vocab));
    gen.forward().logits().download(out.first_logits.data(), out.first_logits.size() * 4);
  };
  const llama::GenerationResult r = gen.generate(kPrompt, go);
  EXPECT_EQ(r.prefill_passes, 1);
  out.tokens = r.tokens;
  return out;
}

class FloatPrefill : public ::testing::TestWithParam<sf::DType> {};

TEST_P(FloatPrefill, CudaFinishesAndMatchesCpu) {
  const sf::DType t = GetParam();
  if (!try_open(sf::BackendKind::Cuda)) GTEST_SKIP() << "no CUDA device on this machine";
  const WeightTypes types = WeightTypes::all(t);
  const sf::gguf::GgufFile file =
      sf::gguf::GgufFile::from_bytes(write_model(repro_shape(), types, 23));
  sf::Device cpu = sf::Device::open({sf::BackendKind::Cpu});
  const TokenRun want = generate(cpu, file, llama::SubmissionMode::Blocking);
  ASSERT_EQ(want.tokens.size(), size_t(kNewTokens));

  // The GPU work runs on its own thread: a kernel that never finishes cannot be joined, so the
  // process reports it and exits rather than hang until CTest kills it.
  auto on_gpu = std::async(std::launch::async, [&] {
    std::vector<TokenRun> runs;
    sf::Device gpu = sf::Device::open({sf::BackendKind::Cuda});
    for (llama::SubmissionMode mode : llama::kAllModes) runs.push_back(generate(gpu, file, mode));
    return runs;
  });
  if (on_gpu.wait_for(kDeadline) != std::future_status::ready) {
    std::fprintf(stderr,
                 "FloatPrefill: %s prefill of %zu tokens on CUDA still running after %lld s\n",
                 std::string(sf::dtype_name(t)).c_str(), kPrompt.size(),
                 static_cast<long long>(kDeadline.count()));
    std::_Exit(1);
  }
  const std::vector<TokenRun> runs = on_gpu.get();
  for (size_t m = 0; m < runs.size(); ++m) {
    const char* mode = llama::mode_name(llama::kAllModes[m]);
    EXPECT_EQ(runs[m].tokens, want.tokens) << mode;
    ASSERT_EQ(runs[m].first_logits.size(), want.first_logits.size()) << mode;
    for (size_t v = 0; v < want.first_logits.size(); ++v)
      ASSERT_NEAR(runs[m].first_logits[v], want.first_logits[v], 2e-2) << mode << " logit " << v;
  }
}

INSTANTIATE_TEST_SUITE_P(Types, FloatPrefill,
                         ::testing::Values(sf::DType::F32, sf::DType::F16, sf::DType::BF16),
                         [](const auto& info) { return std::string(sf::dtype_name(info.param)); });

}  // namespace
