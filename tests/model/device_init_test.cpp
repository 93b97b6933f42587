// The hash initialiser (model/llama/device_init.hpp): every value its kernels write equals a
// reference evaluated in this file from the formula (keys from FNV-1a + splitmix64, 32-bit
// mixing, draws scaled in exact double arithmetic, then rounded to f32 and to the storage type
// by round-to-nearest-even written here with frexp/nearbyint). Runs on the CPU backend, and on
// CUDA where there is a GPU. Tolerance: none, values must be identical.
#include "model/llama/device_init.hpp"

#include <gtest/gtest.h>

#include <cmath>
#include <cstdint>
#include <cstring>
#include <limits>
#include <random>
#include <string>
#include <vector>

#include "llama_test_model.hpp"
#include "model/llama/generator.hpp"
#include "model/llama/model.hpp"
#include "model/llama/tensor_layout.hpp"

namespace {

using namespace llama_test;
namespace llama = sf::llama;

// ---- the reference, written from the formula in docs/decode-bench.md ----

uint64_t ref_key64(uint64_t seed, const std::string& name) {
  uint64_t h = 14695981039346656037ull;
  for (unsigned char c : name) {
    h ^= c;
    h *= 1099511628211ull;
  }
  uint64_t z = seed ^ h;
  z = (z ^ (z >> 30)) * 0xBF58476D1CE4E5B9ull;
  z = (z ^ (z >> 27)) * 0x94D049BB133111EBull;
  return z ^ (z >> 31);
}

uint32_t ref_mix(uint32_t x) {
  x = x ^ (x >> 16);
  x = uint32_t((uint64_t(x) * 2146121005ull) & 0xffffffffull);
  x = x ^ (x >> 15);
  x = uint32_t((uint64_t(x) * 461845907ull) & 0xffffffffull);
  return x ^ (x >> 16);
}

uint32_t ref_hash(uint64_t key64, uint64_t index) {
  const uint32_t a = uint32_t(key64 & 0xffffffffu), b = uint32_t(key64 >> 32);
  return ref_mix(uint32_t((uint64_t(ref_mix(uint32_t(index) ^ a)) + b) & 0xffffffffull));
}

// x rounded to `bits` significant bits, to nearest, ties to even; exponents below `min_exp`
// (the smallest normal exponent) keep the quantum of min_exp (subnormals).
double round_significant(double x, int bits, int min_exp) {
  if (x == 0) return 0;
  int e = 0;
  std::frexp(x, &e);  // |x| in [2^(e-1), 2^e)
  const int top = std::max(e - 1, min_exp);
  const double quantum = std::ldexp(1.0, top - (bits - 1));
  return std::nearbyint(x / quantum) * quantum;
}

// (draw16 + offset) * float(amplitude / 32768), as the f32 the kernels compute.
double ref_value(uint64_t key64, uint64_t index, double amplitude, int offset) {
  const int draw = int(ref_hash(key64, index) >> 16) - 32768;
  const double scale = double(float(amplitude / 32768.0));
  return double(float(double(draw + offset) * scale));  // the product is exact in double
}

double ref_bf16(double v) {
  return round_significant(v, 8, -126);
}
double ref_f16(double v) {
  return round_significant(v, 11, -14);
}

double decode_bf16(uint16_t bits) {
  const uint32_t w = uint32_t(bits) << 16;
  float f;
  std::memcpy(&f, &w, 4);
  return f;
}

double decode_f16(uint16_t bits) {
  const int sign = bits >> 15, exp = (bits >> 10) & 31, man = bits & 1023;
  if (exp == 31) return std::numeric_limits<double>::quiet_NaN();
  const double mag =
      exp == 0 ? std::ldexp(double(man), -24) : std::ldexp(double(1024 + man), exp - 25);
  return sign ? -mag : mag;
}

// ---- fixtures ----

class DeviceInitTest : public ::testing::TestWithParam<sf::BackendKind> {
 protected:
  void SetUp() override {
    dev_ = try_open(GetParam());
    if (!dev_) GTEST_SKIP() << "no " << sf::backend_name(GetParam()) << " device on this machine";
  }

  // A buffer of `bytes` filled with 0xFF (NaN in every float format) before the kernel runs.
  sf::Buffer poisoned(uint64_t bytes) {
    sf::Buffer b = dev_->alloc(bytes);
    b.upload(std::vector<uint8_t>(bytes, 0xFF));
    return b;
  }

  template <typename T>
  std::vector<T> run_fill(const sf::Buffer& out, uint64_t elements, const llama::HashFill& fill) {
    sf::CommandEncoder enc = dev_->command_encoder();
    llama::record_hash_fill(enc, out, elements, fill);
    enc.commit_and_wait();
    return out.to_vector<T>();
  }

  std::optional<sf::Device> dev_;
  std::mt19937_64 rng_{20240611};
};

llama::TensorSpec matrix_spec(const std::string& name, int64_t rows, int64_t cols) {
  return {name, llama::TensorRole::Matrix, rows, cols, 0};
}

TEST_P(DeviceInitTest, KeysAreSplitmixOfSeedXorFnv) {
  for (int i = 0; i < 20; ++i) {
    const uint64_t seed = rng_();
    const std::string name = "blk." + std::to_string(i) + ".attn_q.weight";
    const llama::HashKey k = llama::hash_key(seed, name);
    const uint64_t want = ref_key64(seed, name);
    EXPECT_EQ(k.a, uint32_t(want & 0xffffffffu));
    EXPECT_EQ(k.b, uint32_t(want >> 32));
  }
}

TEST_P(DeviceInitTest, PlainTypesMatchTheReferenceExactly) {
  const int64_t rows = 37, cols = 96;  // 3552 elements: several CPU blocks, many CUDA threads
  const uint64_t n = uint64_t(rows * cols);
  const uint64_t seed = rng_();
  const llama::TensorSpec spec = matrix_spec("blk.3.ffn_up.weight", rows, cols);
  const uint64_t key = ref_key64(seed, spec.name);
  const double amplitude = std::sqrt(3.0 / double(cols));

  const std::vector<float> f32 =
      run_fill<float>(poisoned(n * 4), n, llama::weight_fill(spec, sf::DType::F32, seed));
  const std::vector<uint16_t> f16 =
      run_fill<uint16_t>(poisoned(n * 2), n, llama::weight_fill(spec, sf::DType::F16, seed));
  const std::vector<uint16_t> bf16 =
      run_fill<uint16_t>(poisoned(n * 2), n, llama::weight_fill(spec, sf::DType::BF16, seed));
  double sum_sq = 0;
  for (uint64_t i = 0; i < n; ++i) {
    const double v = ref_value(key, i, amplitude, 0);
    ASSERT_EQ(double(f32[i]), v) << "f32 element " << i;
    ASSERT_EQ(decode_f16(f16[i]), ref_f16(v)) << "f16 element " << i;
    ASSERT_EQ(decode_bf16(bf16[i]), ref_bf16(v)) << "bf16 element " << i;
    sum_sq += v * v;
  }
  // Uniform on [-a, a) has variance a^2 / 3 = 1 / cols; 3552 draws land within 10%.
  EXPECT_NEAR(sum_sq / double(n) * double(cols), 1.0, 0.1);
}

TEST_P(DeviceInitTest, NormsAndOutputFollowTheirRoles) {
  const uint64_t seed = rng_();
  const llama::TensorSpec norm{"blk.0.ffn_norm.weight", llama::TensorRole::Norm, 1, 160, 0};
  const std::vector<float> gains =
      run_fill<float>(poisoned(160 * 4), 160, llama::weight_fill(norm, sf::DType::F32, seed));
  const uint64_t key = ref_key64(seed, norm.name);
  for (uint64_t i = 0; i < 160; ++i) {
    // (5 * 32768 + draw) * float(0.2 / 32768): gains in [0.8, 1.2).
    ASSERT_EQ(double(gains[i]), ref_value(key, i, 0.2, 5 * 32768)) << "norm element " << i;
    ASSERT_GE(gains[i], 0.8f);
    ASSERT_LT(gains[i], 1.2f);
  }
  const llama::TensorSpec out{"output.weight", llama::TensorRole::Output, 10, 64, -1};
  const std::vector<uint16_t> logits_w =
      run_fill<uint16_t>(poisoned(640 * 2), 640, llama::weight_fill(out, sf::DType::BF16, seed));
  const uint64_t out_key = ref_key64(seed, out.name);
  for (uint64_t i = 0; i < 640; ++i)
    ASSERT_EQ(decode_bf16(logits_w[i]),
              ref_bf16(ref_value(out_key, i, 3.0 * std::sqrt(3.0 / 64), 0)))
        << "output element " << i;
}

TEST_P(DeviceInitTest, Q8BlocksHoldHashedQuantsAndTheRoleScale) {
  const int64_t rows = 9, cols = 128;
  const uint64_t n = uint64_t(rows * cols), blocks = n / 32;
  const uint64_t seed = rng_();
  const llama::TensorSpec spec = matrix_spec("blk.1.attn_k.weight", rows, cols);
  const std::vector<uint8_t> bytes =
      run_fill<uint8_t>(poisoned(blocks * 34), n, llama::weight_fill(spec, sf::DType::Q8_0, seed));
  const uint64_t key = ref_key64(seed, spec.name);
  const double d_want = ref_f16(double(float(std::sqrt(3.0 / cols) / 127.0)));
  for (uint64_t b = 0; b < blocks; ++b) {
    const uint8_t* block = bytes.data() + b * 34;
    ASSERT_EQ(decode_f16(uint16_t(block[0] | (block[1] << 8))), d_want) << "block " << b;
    for (int j = 0; j < 32; ++j) {
      const int want = int((ref_hash(key, b * 32 + j) >> 16) % 255) - 127;
      ASSERT_EQ(int(int8_t(block[2 + j])), want) << "block " << b << " quant " << j;
    }
  }
}

TEST_P(DeviceInitTest, Q4BlocksPackLowThenHighHalves) {
  const int64_t rows = 5, cols = 192;
  const uint64_t n = uint64_t(rows * cols), blocks = n / 32;
  const uint64_t seed = rng_();
  const llama::TensorSpec spec = matrix_spec("blk.0.ffn_gate.weight", rows, cols);
  const std::vector<uint8_t> bytes =
      run_fill<uint8_t>(poisoned(blocks * 18), n, llama::weight_fill(spec, sf::DType::Q4_0, seed));
  const uint64_t key = ref_key64(seed, spec.name);
  const double d_want = ref_f16(double(float(std::sqrt(3.0 / cols) / 8.0)));
  for (uint64_t b = 0; b < blocks; ++b) {
    const uint8_t* block = bytes.data() + b * 18;
    ASSERT_EQ(decode_f16(uint16_t(block[0] | (block[1] << 8))), d_want) << "block " << b;
    for (int j = 0; j < 16; ++j) {
      const uint32_t lo = ref_hash(key, b * 32 + j) >> 28;
      const uint32_t hi = ref_hash(key, b * 32 + j + 16) >> 28;
      ASSERT_EQ(uint32_t(block[2 + j]), lo | (hi << 4)) << "block " << b << " byte " << j;
    }
  }
}

TEST_P(DeviceInitTest, KvFillWritesOnlyTheGivenPositionsIndexedByPositionHeadDim) {
  const int kv_heads = 3, cap = 21, head_dim = 8, positions = 13;
  const uint64_t seed = rng_();
  const sf::Buffer cache = poisoned(uint64_t(kv_heads * cap * head_dim) * 2);
  sf::CommandEncoder enc = dev_->command_encoder();
  llama::record_hash_kv_fill(enc, cache, kv_heads, cap, head_dim, positions,
                             llama::kv_fill(seed, 4, true));
  enc.commit_and_wait();
  const std::vector<uint16_t> got = cache.to_vector<uint16_t>();
  const uint64_t key = ref_key64(seed, "blk.4.cache_v");
  for (int h = 0; h < kv_heads; ++h) {
    for (int p = 0; p < cap; ++p) {
      for (int d = 0; d < head_dim; ++d) {
        const uint16_t bits = got[size_t((h * cap + p) * head_dim + d)];
        if (p >= positions) {
          ASSERT_EQ(bits, 0xFFFF) << "position " << p << " beyond the fill was written";
          continue;
        }
        const uint64_t index = uint64_t((p * kv_heads + h) * head_dim + d);
        ASSERT_EQ(decode_f16(bits), ref_f16(ref_value(key, index, 1.0, 0)))
            << "head " << h << " position " << p << " dim " << d;
      }
    }
  }
}

TEST_P(DeviceInitTest, BadRequestsThrowAndRecordNothing) {
  const llama::TensorSpec spec = matrix_spec("w", 4, 64);
  sf::CommandEncoder enc = dev_->command_encoder();
  const sf::Buffer small = dev_->alloc(100);
  try {
    llama::record_hash_fill(enc, small, 256, llama::weight_fill(spec, sf::DType::BF16, 1));
    FAIL() << "a too-small buffer was accepted";
  } catch (const sf::Error& e) {
    EXPECT_EQ(e.code(), sf::ErrorCode::InvalidArgument);
  }
  EXPECT_THROW(llama::weight_fill(spec, sf::DType::Q4_K, 1), sf::Error);
  const sf::Buffer big = dev_->alloc(4096);
  EXPECT_THROW(llama::record_hash_fill(enc, big, 48, llama::weight_fill(spec, sf::DType::Q8_0, 1)),
               sf::Error);  // 48 is not whole 32-weight blocks
  EXPECT_THROW(llama::record_hash_kv_fill(enc, big, 2, 8, 16, 9, llama::kv_fill(1, 0, false)),
               sf::Error);  // more positions than the capacity
  EXPECT_EQ(enc.dispatch_count(), 0u);
}

TEST_P(DeviceInitTest, HashedModelHasEveryWeightFromTheFormulaAndDecodes) {
  LlamaConfig c = tiny_llama();
  const uint64_t seed = rng_();
  const llama::LlamaModel model =
      llama::hashed_model(*dev_, c, WeightTypes::all(sf::DType::BF16), seed);
  for (const llama::TensorSpec& spec : llama::tensor_layout(c)) {
    SCOPED_TRACE(spec.name);
    const uint64_t key = ref_key64(seed, spec.name);
    const uint64_t n = uint64_t(spec.rows * spec.cols);
    const sf::Buffer* buf = nullptr;
    if (spec.name == "token_embd.weight") buf = &model.weights.token_embd.buffer;
    if (spec.name == "output.weight") buf = &model.weights.output.buffer;
    if (spec.name == "output_norm.weight") buf = &model.weights.output_norm.buffer;
    if (spec.name == "blk.1.ffn_down.weight") buf = &model.weights.layers[1].w_down.buffer;
    if (spec.name == "blk.0.attn_norm.weight") buf = &model.weights.layers[0].attn_norm.buffer;
    if (!buf) continue;
    if (spec.is_vector()) {
      const std::vector<float> v = buf->to_vector<float>();
      ASSERT_EQ(v.size(), n);
      for (uint64_t i = 0; i < n; ++i) ASSERT_EQ(double(v[i]), ref_value(key, i, 0.2, 5 * 32768));
    } else {
      const double amplitude = spec.role == llama::TensorRole::Embedding ? std::sqrt(3.0)
                               : spec.role == llama::TensorRole::Output
                                   ? 3.0 * std::sqrt(3.0 / double(spec.cols))
                                   : std::sqrt(3.0 / double(spec.cols));
      const std::vector<uint16_t> v = buf->to_vector<uint16_t>();
      ASSERT_EQ(v.size(), n);
      for (uint64_t i = 0; i < n; ++i)
        ASSERT_EQ(decode_bf16(v[i]), ref_bf16(ref_value(key, i, amplitude, 0))) << i;
    }
  }

  // The cache of a forward pass is found and filled; decoding from it gives in-vocabulary
  // tokens, the same in two modes.
  llama::ForwardOptions fo;
  fo.context = 48;
  llama::Generator gen(*dev_, model, fo);
  const std::vector<std::pair<sf::Buffer, sf::Buffer>> caches =
      llama::kv_cache_buffers(*dev_, gen.forward());
  ASSERT_EQ(caches.size(), size_t(c.layers));
  llama::fill_kv_cache(*dev_, gen.forward(), 30, seed);
  const std::vector<uint16_t> k1 = caches[1].first.to_vector<uint16_t>();
  const uint64_t kv_key = ref_key64(seed, "blk.1.cache_k");
  for (int h = 0; h < c.kv_heads; ++h)
    for (int p = 0; p < 30; ++p)
      for (int d = 0; d < c.head_dim; ++d)
        ASSERT_EQ(
            decode_f16(k1[size_t((h * 48 + p) * c.head_dim + d)]),
            ref_f16(ref_value(kv_key, uint64_t((p * c.kv_heads + h) * c.head_dim + d), 1.0, 0)));

  std::vector<int32_t> first;
  for (llama::SubmissionMode mode :
       {llama::SubmissionMode::Single, llama::SubmissionMode::Replay}) {
    llama::GenerateOptions go;
    go.mode = mode;
    go.max_new_tokens = 6;
    const llama::GenerationResult r = gen.generate(std::vector<int32_t>{3, 9, 27}, go);
    ASSERT_EQ(r.tokens.size(), 6u);
    for (int32_t t : r.tokens) {
      EXPECT_GE(t, 0);
      EXPECT_LT(t, c.vocab);
    }
    if (first.empty()) first = r.tokens;
    EXPECT_EQ(r.tokens, first) << llama::mode_name(mode);
  }
}

INSTANTIATE_TEST_SUITE_P(Backends, DeviceInitTest,
                         ::testing::Values(sf::BackendKind::Cpu, sf::BackendKind::Cuda),
                         backend_param_name);

}  // namespace
