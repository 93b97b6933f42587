// Tensor-parallel decode: how the model splits across ranks, and the built-in model decoded by
// 1, 2, 4 and 8 ranks (CPU devices meeting in shared memory, or as many GPUs through NCCL)
// gives the single-device greedy tokens, with logits within rounding of the single-device ones
// (bitwise equal with one rank).
#include "model/llama/tensor_parallel.hpp"

#include <gtest/gtest.h>

#include <cmath>
#include <cstdint>
#include <memory>

#include "model/builtin_model.hpp"
#include "model/gguf/gguf_file.hpp"
#include "model/llama/generator.hpp"
#include "model/llama/model.hpp"
#include "scoped_env.hpp"
#include "stagefence/stagefence.hpp"

namespace {

namespace sf = stagefence;
namespace llama = sf::llama;

TEST(TensorParallelShape, SplitsHeadsKvHeadsFfnBlocksAndVocabulary) {
  const llama::LlamaConfig c = llama::builtin_config();  // 8 heads, 2 kv, ffn 1536, vocab 4096
  const llama::SplitTypes types{sf::DType::Q8_0, sf::DType::Q4_K};
  const llama::ShardShape whole = llama::shard_shape(c, {0, 1}, types);
  EXPECT_EQ(whole.heads, 8);
  EXPECT_EQ(whole.kv_heads, 2);
  EXPECT_EQ(whole.ffn, 1536);
  EXPECT_EQ(whole.vocab, 4096);
  EXPECT_FALSE(whole.split());

  const llama::ShardShape two = llama::shard_shape(c, {1, 2}, types);
  EXPECT_EQ(two.head_begin, 4);
  EXPECT_EQ(two.kv_head_begin, 1);
  EXPECT_EQ(two.kv_heads, 1);
  EXPECT_EQ(two.ffn_begin, 768);
  EXPECT_EQ(two.ffn, 768);
  EXPECT_EQ(two.vocab_begin, 2048);

  // 8 ranks > 2 kv heads: ranks 0-3 share kv head 0, ranks 4-7 kv head 1. The FFN moves in
  // 256-column Q4_K blocks (6 of them), so two ranks get none and every column is covered once.
  int ffn_total = 0, next = 0;
  for (int r = 0; r < 8; ++r) {
    const llama::ShardShape s = llama::shard_shape(c, {r, 8}, types);
    EXPECT_EQ(s.heads, 1);
    EXPECT_EQ(s.kv_heads, 1);
    EXPECT_EQ(s.kv_head_begin, r / 4);
    EXPECT_EQ(s.ffn_begin, next);
    EXPECT_EQ(s.ffn % 256, 0);
    next += s.ffn;
    ffn_total += s.ffn;
  }
  EXPECT_EQ(ffn_total, 1536);
}

TEST(TensorParallelShape, NamesTheConstraintThatFails) {
  const llama::LlamaConfig c = llama::builtin_config();
  auto expect_message = [&](llama::TensorParallel tp, llama::SplitTypes types,
                            const std::string& words) {
    try {
      llama::shard_shape(c, tp, types);
      ADD_FAILURE() << "no error; expected '" << words << "'";
    } catch (const sf::Error& e) {
      EXPECT_EQ(e.code(), sf::ErrorCode::InvalidArgument);
      EXPECT_NE(std::string(e.what()).find(words), std::string::npos) << e.what();
    }
  };
  expect_message({0, 3}, {}, "8 query heads do not split evenly with 3 ranks");
  expect_message({0, 0}, {}, "ranks = 0");
  expect_message({2, 2}, {}, "rank 2 outside [0, 2)");
  // 8 ranks leave each one head (64 columns) of attn_output: not whole Q4_K blocks.
  expect_message({0, 8}, {sf::DType::Q4_K, sf::DType::F32}, "attention-output columns");
  llama::LlamaConfig odd = c;
  odd.vocab = 4097;
  try {
    llama::shard_shape(odd, {0, 2});
    ADD_FAILURE() << "odd vocabulary accepted";
  } catch (const sf::Error& e) {
    EXPECT_NE(std::string(e.what()).find("vocabulary of 4097"), std::string::npos) << e.what();
  }
}

TEST(TensorParallelShape, ColumnSlicesCopyWholeBlocksOfEveryRow) {
  // A Q8_0 matrix of 3 rows x 96 columns (3 blocks of 34 bytes a row); columns [32, 64).
  const llama::TensorSpec spec{"blk.0.attn_output.weight", llama::TensorRole::Matrix, 3, 96, 0};
  std::vector<uint8_t> whole(3 * 3 * 34);
  for (size_t i = 0; i < whole.size(); ++i) whole[i] = uint8_t(i * 7 + 1);
  const llama::TensorSlice slice{llama::TensorSlice::Kind::Cols, 32, 32};
  const std::vector<uint8_t> part = llama::slice_bytes(whole.data(), sf::DType::Q8_0, spec, slice);
  ASSERT_EQ(part.size(), 3u * 34u);
  for (size_t row = 0; row < 3; ++row)
    for (size_t b = 0; b < 34; ++b) EXPECT_EQ(part[row * 34 + b], whole[row * 102 + 34 + b]);
  const llama::TensorSlice rows{llama::TensorSlice::Kind::Rows, 1, 2};
  const std::vector<uint8_t> tail = llama::slice_bytes(whole.data(), sf::DType::Q8_0, spec, rows);
  EXPECT_EQ(tail, std::vector<uint8_t>(whole.begin() + 102, whole.end()));
}

struct Decoded {
  std::vector<int32_t> tokens;
  std::vector<float> logits;  // every step's logits
};

llama::GenerateOptions greedy(llama::SubmissionMode mode, std::vector<float>* logits,
                              const llama::LlamaForward* forward) {
  llama::GenerateOptions go;
  go.mode = mode;
  go.max_new_tokens = 12;
  go.on_token = [logits, forward](int, int32_t) {
    const auto v = forward->logits().to_vector<float>();
    logits->insert(logits->end(), v.begin(), v.end());
  };
  return go;
}

class TensorParallelDecode : public ::testing::TestWithParam<sf::BackendKind> {
 protected:
  // Opens n devices of the parameter's kind; false when this machine has fewer.
  bool open(int n) {
    devices_.clear();
    for (int r = 0; r < n; ++r) {
      sf::DeviceOptions o;
      o.backend = GetParam();
      o.cuda_ordinal = r;
      try {
        devices_.push_back(std::make_unique<sf::Device>(sf::Device::open(o)));
      } catch (const sf::Error& e) {
        if (e.code() == sf::ErrorCode::Unsupported) return false;
        throw;
      }
    }
    return true;
  }

  Decoded single(llama::SubmissionMode mode) {
    const llama::LlamaModel model = llama::load_model(*devices_[0], file_);
    llama::Generator gen(*devices_[0], model);
    Decoded d;
    d.tokens =
        gen.generate(llama::builtin_prompt(), greedy(mode, &d.logits, &gen.forward())).tokens;
    return d;
  }

  Decoded split(int ranks, llama::SubmissionMode mode) {
    std::vector<sf::Device*> raw;
    for (int r = 0; r < ranks; ++r) raw.push_back(devices_[size_t(r)].get());
    const std::vector<sf::Communicator> comms = sf::Communicator::create_group(raw);
    std::vector<llama::LlamaModel> shards;
    for (int r = 0; r < ranks; ++r)
      shards.push_back(llama::load_model_shard(*raw[size_t(r)], file_, {r, ranks}));
    std::vector<const llama::LlamaModel*> ptrs;
    for (const auto& s : shards) ptrs.push_back(&s);
    llama::Generator gen(raw, ptrs, comms);
    EXPECT_EQ(gen.ranks(), ranks);
    Decoded d;
    d.tokens =
        gen.generate(llama::builtin_prompt(), greedy(mode, &d.logits, &gen.forward())).tokens;
    // Every rank ends each step with the same logits.
    for (int r = 1; r < ranks; ++r)
      EXPECT_EQ(gen.forward(r).logits().to_vector<float>(),
                gen.forward().logits().to_vector<float>())
          << "rank " << r;
    return d;
  }

  const sf::gguf::GgufFile file_ = sf::gguf::GgufFile::from_bytes(llama::builtin_model_gguf());
  std::vector<std::unique_ptr<sf::Device>> devices_;
};

TEST_P(TensorParallelDecode, OneRankEqualsTheSingleDevicePathBitForBit) {
  if (!open(1)) GTEST_SKIP() << "no " << sf::backend_name(GetParam()) << " device";
  if (GetParam() == sf::BackendKind::Cuda) {
    std::vector<sf::Device*> raw{devices_[0].get()};
    try {
      sf::Communicator::create_group(raw);
    } catch (const sf::Error& e) {
      GTEST_SKIP() << e.what();  // one GPU without NCCL: nothing to compare
    }
  }
  const Decoded want = single(llama::SubmissionMode::Session);
  const Decoded got = split(1, llama::SubmissionMode::Session);
  EXPECT_EQ(got.tokens, want.tokens);
  EXPECT_TRUE(got.logits == want.logits) << "logits differ with one rank";
}

// With f32 activations the split path only reorders f32 sums (logits within 1e-3 of the scale).
// With the default 8-bit activations a reordered sum can move an activation across a rounding
// boundary of its 8-bit block, which moves logits by up to about 1% of the scale; the greedy
// tokens must agree either way.
TEST_P(TensorParallelDecode, TwoFourAndEightRanksGiveTheSingleDeviceTokens) {
  for (const char* activations : {"f32", "q8"})
    for (int ranks : {2, 4, 8}) {
      const sftest::ScopedEnv env("STAGEFENCE_ACTIVATIONS", activations);
      const double bound = std::string(activations) == "f32" ? 1e-3 : 2e-2;
      SCOPED_TRACE(std::to_string(ranks) + " ranks, " + activations + " activations");
      if (!open(ranks)) {
        if (GetParam() == sf::BackendKind::Cpu) FAIL() << "cannot open CPU devices";
        GTEST_SKIP() << "fewer than " << ranks << " GPUs";
      }
      const Decoded want = single(llama::SubmissionMode::Session);
      const Decoded got = split(ranks, llama::SubmissionMode::Session);
      EXPECT_EQ(got.tokens, want.tokens);
      ASSERT_EQ(got.logits.size(), want.logits.size());
      double worst = 0, scale = 0;
      for (size_t i = 0; i < want.logits.size(); ++i) {
        worst = std::max(worst, std::abs(double(got.logits[i]) - want.logits[i]));
        scale = std::max(scale, std::abs(double(want.logits[i])));
      }
      EXPECT_LE(worst, bound * scale) << "largest logit difference " << worst << " of " << scale;
      // The partial sums really were added in another order (the split path ran).
      EXPECT_GT(worst, 0.0);
    }
}

TEST_P(TensorParallelDecode, EveryModeGivesTheSameTokensAcrossRanks) {
  if (!open(2)) GTEST_SKIP() << "fewer than 2 devices of this kind";
  const Decoded want = single(llama::SubmissionMode::Session);
  for (llama::SubmissionMode mode : llama::kAllModes) {
    if (mode == llama::SubmissionMode::Loop) continue;  // one device only (Unsupported)
    SCOPED_TRACE(llama::mode_name(mode));
    EXPECT_EQ(split(2, mode).tokens, want.tokens);
  }
}

TEST_P(TensorParallelDecode, AShardNeedsTheCommunicatorOfItsRank) {
  if (!open(2)) GTEST_SKIP() << "fewer than 2 devices of this kind";
  std::vector<sf::Device*> raw{devices_[0].get(), devices_[1].get()};
  const std::vector<sf::Communicator> comms = sf::Communicator::create_group(raw);
  const llama::LlamaModel shard1 = llama::load_model_shard(*raw[1], file_, {1, 2});
  try {
    llama::LlamaForward f(*raw[1], shard1, {}, &comms[0]);
    ADD_FAILURE() << "shard 1 accepted rank 0's communicator";
  } catch (const sf::Error& e) {
    EXPECT_NE(std::string(e.what()).find("needs the communicator of that rank"), std::string::npos)
        << e.what();
  }
  EXPECT_THROW(llama::LlamaForward(*raw[1], shard1), sf::Error);
}

INSTANTIATE_TEST_SUITE_P(Backends, TensorParallelDecode,
                         ::testing::Values(sf::BackendKind::Cpu, sf::BackendKind::Cuda),
                         [](const auto& info) {
                           return info.param == sf::BackendKind::Cpu ? "Cpu" : "Cuda";
                         });

}  // namespace
