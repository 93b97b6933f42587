// Loading: configuration from GGUF metadata, malformed files rejected with Format errors that
// name the key or tensor, random weights identical to the written file, token text decoding.
#include <gtest/gtest.h>

#include <chrono>
#include <cstdint>
#include <functional>

#include "llama_test_model.hpp"
#include "model/llama/model.hpp"
#include "model/llama/tensor_layout.hpp"
#include "model/llama/token_text.hpp"

namespace {

using namespace llama_test;
namespace llama = sf::llama;

// Writes `c` like add_random_model, letting the test drop a key or tensor or replace a tensor.
struct Mutation {
  std::string skip_key;
  std::string skip_tensor;
  std::string reshape_tensor;  // written with its dims swapped
  std::string retype_tensor;   // written as I32 raw data of the same byte size
  std::string set_key;         // written with set_value instead of the configuration's
  uint32_t set_value = 0;
};

std::vector<std::byte> write_mutated(const LlamaConfig& c, const Mutation& m) {
  sf::gguf::GgufWriter w;
  for (auto& [key, value] : llama::config_metadata(c))
    if (key == m.set_key)
      w.add_u32(key, m.set_value);
    else if (key != m.skip_key)
      w.add(key, value);
  const WeightTypes types = WeightTypes::all(sf::DType::F32);
  for (const llama::TensorSpec& spec : llama::tensor_layout(c)) {
    if (spec.name == m.skip_tensor) continue;
    const std::vector<uint8_t> bytes =
        llama::random_tensor_bytes(spec, sf::DType::F32, 3, 0, spec.rows);
    std::vector<uint64_t> dims = spec.gguf_dims();
    sf::DType dtype = types.type_of(spec);
    if (spec.name == m.reshape_tensor) dims = {dims[1] * 2, dims[0] / 2};
    if (spec.name == m.retype_tensor) dtype = sf::DType::I32;
    w.add_tensor(spec.name, dtype, dims, std::as_bytes(std::span<const uint8_t>(bytes)));
  }
  return w.to_bytes();
}

void expect_format_error(const std::vector<std::byte>& bytes, const std::string& needle) {
  sf::Device dev = sf::Device::open({sf::BackendKind::Cpu});
  const sf::CounterSnapshot before = sf::counters::snapshot();
  try {
    const sf::gguf::GgufFile file = sf::gguf::GgufFile::from_bytes(bytes);
    llama::load_model(dev, file);
    FAIL() << "expected a Format error naming " << needle;
  } catch (const sf::Error& e) {
    EXPECT_EQ(e.code(), sf::ErrorCode::Format) << e.what();
    EXPECT_NE(std::string(e.what()).find(needle), std::string::npos) << e.what();
  }
  // Nothing half-loaded: every allocation made on the way was released.
  EXPECT_EQ(sf::counters::snapshot().live_allocations, before.live_allocations);
}

TEST(LlamaLoad, ReadsConfigurationFromMetadata) {
  for (const LlamaConfig& c : {tiny_llama(), tiny_qwen2(), tiny_qwen3(), tiny_gemma3()}) {
    const sf::gguf::GgufFile f = sf::gguf::GgufFile::from_bytes(write_model(c, mixed_types(), 1));
    const LlamaConfig got = llama::config_from_gguf(f);
    EXPECT_EQ(got.architecture, c.architecture);
    EXPECT_EQ(got.dim, c.dim);
    EXPECT_EQ(got.layers, c.layers);
    EXPECT_EQ(got.heads, c.heads);
    EXPECT_EQ(got.kv_heads, c.kv_heads);
    EXPECT_EQ(got.head_dim, c.head_dim);
    EXPECT_EQ(got.ffn_dim, c.ffn_dim);
    EXPECT_EQ(got.vocab, c.vocab);  // no tokenizer: from token_embd's shape
    EXPECT_EQ(got.rope_dim, c.rope_dim);
    EXPECT_EQ(got.rope_theta, c.rope_theta);
    EXPECT_EQ(got.rms_eps, c.rms_eps);
    EXPECT_EQ(got.rope_mode, c.rope_mode);
    EXPECT_EQ(got.qkv_bias, c.qkv_bias);
    EXPECT_EQ(got.qk_norm, c.qk_norm);
    EXPECT_EQ(got.tied_output, c.tied_output);
    EXPECT_EQ(got.post_norms, c.post_norms);
    EXPECT_EQ(got.ffn_act, c.ffn_act);
    EXPECT_EQ(got.sliding_window, c.sliding_window);
    EXPECT_EQ(got.global_period, c.global_period);
    EXPECT_FLOAT_EQ(got.embed_scale, c.embed_scale);
    EXPECT_FLOAT_EQ(got.attention_scale, c.attention_scale);
    EXPECT_FLOAT_EQ(got.rope_theta_local, c.rope_theta_local);
    EXPECT_FLOAT_EQ(got.rope_freq_scale, c.rope_freq_scale);
  }
}

// Gemma 3's layers: five local (window, theta 1e4, unscaled) then one global (theta and scale
// of the file), as llama.cpp reads the file.
TEST(LlamaLoad, Gemma3LayersAlternateWindowAndRope) {
  LlamaConfig c = tiny_gemma3();
  c.layers = 12;
  sf::gguf::GgufWriter w;
  sf::llama::add_random_model(w, c, WeightTypes::all(sf::DType::F32), 5);
  w.add_string("gemma3.rope.scaling.type", "linear");
  w.add_f32("gemma3.rope.scaling.factor", 8.0f);
  const LlamaConfig got = llama::config_from_gguf(sf::gguf::GgufFile::from_bytes(w.to_bytes()));
  for (int l = 0; l < c.layers; ++l) {
    const LlamaConfig::LayerAttention a = got.layer_attention(l);
    const bool global = l == 5 || l == 11;
    EXPECT_EQ(a.window, global ? 0 : 4) << "layer " << l;
    EXPECT_FLOAT_EQ(a.rope_theta, global ? 1e6f : 1e4f) << "layer " << l;
    EXPECT_FLOAT_EQ(a.rope_freq_scale, global ? 0.125f : 1.0f) << "layer " << l;
  }
  EXPECT_FLOAT_EQ(got.query_scale(), 1.0f / std::sqrt(32.0f));
  // A Llama file has no window: every layer global with the file's base.
  const LlamaConfig llama_config = llama::config_from_gguf(
      sf::gguf::GgufFile::from_bytes(write_model(tiny_llama(), mixed_types(), 1)));
  EXPECT_EQ(llama_config.layer_attention(1).window, 0);
  EXPECT_FLOAT_EQ(llama_config.layer_attention(1).rope_theta, 10000.0f);
}

TEST(LlamaLoad, Gemma3RefusesWhatItDoesNotImplement) {
  const LlamaConfig c = tiny_gemma3();
  auto with = [&](const std::function<void(sf::gguf::GgufWriter&)>& add) {
    sf::gguf::GgufWriter w;
    sf::llama::add_random_model(w, c, WeightTypes::all(sf::DType::F32), 5);
    add(w);
    return w.to_bytes();
  };
  expect_format_error(with([](auto& w) { w.add_f32("gemma3.final_logit_softcapping", 30.0f); }),
                      "gemma3.final_logit_softcapping = 30");
  expect_format_error(with([](auto& w) { w.add_string("gemma3.rope.scaling.type", "yarn"); }),
                      "only linear scaling");
  expect_format_error(write_mutated(c, {.skip_tensor = "blk.3.post_ffw_norm.weight"}),
                      "blk.3.post_ffw_norm.weight");
  LlamaConfig no_qk_norm = c;
  no_qk_norm.qk_norm = false;
  expect_format_error(write_mutated(no_qk_norm, {}), "gemma3 needs blk.0.attn_q_norm.weight");
}

TEST(LlamaLoad, MissingMetadataKeyIsAFormatErrorNamingIt) {
  for (const char* key :
       {"llama.embedding_length", "llama.block_count", "llama.attention.head_count",
        "llama.feed_forward_length", "llama.context_length",
        "llama.attention.layer_norm_rms_epsilon", "general.architecture"})
    expect_format_error(write_mutated(tiny_llama(), {.skip_key = key}), key);
}

TEST(LlamaLoad, MissingTensorIsAFormatErrorNamingIt) {
  for (const char* name : {"token_embd.weight", "blk.1.attn_k.weight", "blk.0.ffn_down.weight",
                           "output_norm.weight", "blk.1.ffn_norm.weight"})
    expect_format_error(write_mutated(tiny_llama(), {.skip_tensor = name}), name);
  expect_format_error(write_mutated(tiny_qwen2(), {.skip_tensor = "blk.1.attn_v.bias"}),
                      "blk.1.attn_v.bias");
  expect_format_error(write_mutated(tiny_qwen3(), {.skip_tensor = "blk.2.attn_k_norm.weight"}),
                      "blk.2.attn_k_norm.weight");
}

// A block count far past the tensors the file holds fails at once, before the whole layout is
// listed (2^30 layers once grew the loader to 8.6 GB), naming the first missing tensor.
TEST(LlamaLoad, BlockCountBeyondTheFilesTensorsFailsAtOnce) {
  const auto start = std::chrono::steady_clock::now();
  expect_format_error(
      write_mutated(tiny_llama(), {.set_key = "llama.block_count", .set_value = 1u << 30}),
      "missing tensor blk.2.attn_norm.weight (llama.block_count = 1073741824 needs 9663676419 "
      "tensors; the file holds 21)");
  EXPECT_LT(std::chrono::steady_clock::now() - start, std::chrono::seconds(2));
  // One layer more than written, all but that layer's first tensor present.
  std::vector<std::byte> bytes;
  {
    sf::gguf::GgufWriter w;
    LlamaConfig c = tiny_llama();
    for (auto& [key, value] : llama::config_metadata(c))
      if (key == "llama.block_count")
        w.add_u32(key, uint32_t(c.layers + 1));
      else
        w.add(key, value);
    c.layers += 1;  // a layout with one layer more, written without that layer's attn_norm
    for (const llama::TensorSpec& spec : llama::tensor_layout(c)) {
      if (spec.name == "blk.2.attn_norm.weight") continue;
      const std::vector<uint8_t> data =
          llama::random_tensor_bytes(spec, sf::DType::F32, 3, 0, spec.rows);
      w.add_tensor(spec.name, sf::DType::F32, spec.gguf_dims(),
                   std::as_bytes(std::span<const uint8_t>(data)));
    }
    bytes = w.to_bytes();
  }
  expect_format_error(bytes, "missing tensor blk.2.attn_norm.weight (llama.block_count = 3");
}

TEST(LlamaLoad, WrongShapeOrTypeIsAFormatErrorNamingTheTensor) {
  expect_format_error(write_mutated(tiny_llama(), {.reshape_tensor = "blk.0.attn_q.weight"}),
                      "blk.0.attn_q.weight has dims");
  expect_format_error(write_mutated(tiny_llama(), {.reshape_tensor = "output.weight"}),
                      "output.weight has dims");
  expect_format_error(write_mutated(tiny_llama(), {.retype_tensor = "blk.1.ffn_up.weight"}),
                      "blk.1.ffn_up.weight has type i32");
}

TEST(LlamaLoad, UnknownArchitectureIsAFormatError) {
  LlamaConfig c = tiny_llama();
  c.architecture = "mamba";
  expect_format_error(write_mutated(c, {}), "mamba");
}

TEST(LlamaLoad, RandomModelEqualsTheWrittenFileLoaded) {
  sf::Device dev = sf::Device::open({sf::BackendKind::Cpu});
  const LlamaConfig c = tiny_qwen2();
  const sf::gguf::GgufFile f = sf::gguf::GgufFile::from_bytes(write_model(c, mixed_types(), 42));
  const llama::LlamaModel loaded = llama::load_model(dev, f);
  const llama::LlamaModel made = llama::random_model(dev, c, mixed_types(), 42);
  auto same = [](const llama::Weight& a, const llama::Weight& b, const std::string& what) {
    EXPECT_EQ(a.dtype, b.dtype) << what;
    EXPECT_EQ(a.buffer.to_vector<uint8_t>(), b.buffer.to_vector<uint8_t>()) << what;
  };
  same(loaded.weights.token_embd, made.weights.token_embd, "token_embd");
  same(loaded.weights.output, made.weights.output, "output");
  same(loaded.weights.layers[1].w_down, made.weights.layers[1].w_down, "ffn_down");
  same(loaded.weights.layers[0].bq, made.weights.layers[0].bq, "attn_q.bias");
  EXPECT_EQ(loaded.weights.device_bytes(), made.weights.device_bytes());
  // Tied: the output is the embedding's buffer, counted once.
  EXPECT_EQ(made.weights.output.buffer.allocation_id(),
            made.weights.token_embd.buffer.allocation_id());
}

TEST(LlamaTokenText, UndoesSentencePieceAndByteLevelSpellings) {
  const llama::TokenText sp({"<unk>", "\xE2\x96\x81hello", "\xE2\x96\x81wor", "ld", "<0x21>"},
                            llama::TokenText::Style::SentencePiece);
  EXPECT_EQ(sp.decode(std::vector<int32_t>{1, 2, 3, 4}), " hello world!");
  // GPT-2 byte-level: 'Ġ' (U+0120) is the space byte, 'Ċ' (U+010A) the newline.
  const llama::TokenText bl({"Hello", "\xC4\xA0world", "\xC4\x8A", "<|eot|>"},
                            llama::TokenText::Style::ByteLevel);
  EXPECT_EQ(bl.decode(std::vector<int32_t>{0, 1, 2}), "Hello world\n");
  EXPECT_EQ(bl.decode(std::vector<int32_t>{3}), "<|eot|>");
  EXPECT_EQ(bl.raw(99), "<id?>");
}

}  // namespace
