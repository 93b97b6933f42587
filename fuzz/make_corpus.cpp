// Writes the seed corpus for gguf_fuzz: valid GGUF files of several shapes and broken variants
// of them, one file each, into the folder given as the only argument.
#include <cstdint>
#include <cstdio>
#include <cstring>
#include <filesystem>
#include <fstream>
#include <random>
#include <string>
#include <vector>

#include "model/gguf/gguf_writer.hpp"
#include "stagefence/error.hpp"

namespace sg = stagefence::gguf;
using stagefence::DType;
using Bytes = std::vector<std::byte>;

namespace {

Bytes random_bytes(std::mt19937& rng, size_t n) {
  Bytes out(n);
  for (auto& b : out) b = std::byte(rng() & 0xff);
  return out;
}

Bytes empty_file() {
  return sg::GgufWriter().to_bytes();
}

Bytes every_metadata_type() {
  sg::GgufWriter w;
  w.add_u8("m.u8", 7);
  w.add_i8("m.i8", -7);
  w.add_u16("m.u16", 700);
  w.add_i16("m.i16", -700);
  w.add_u32("m.u32", 70000);
  w.add_i32("m.i32", -70000);
  w.add_f32("m.f32", 0.25f);
  w.add_bool("m.bool", true);
  w.add_string("m.string", "text");
  w.add_u64("m.u64", 1ull << 40);
  w.add_i64("m.i64", -(1ll << 40));
  w.add_f64("m.f64", 0.125);
  w.add_array<uint8_t>("m.arr.u8", {1, 2});
  w.add_array<int32_t>("m.arr.i32", {-1, 1});
  w.add_array<float>("m.arr.f32", {1.5f});
  w.add_array<bool>("m.arr.bool", {false, true});
  w.add_array<uint64_t>("m.arr.u64", {});
  w.add_array<double>("m.arr.f64", {2.5, -2.5});
  w.add_string_array("m.arr.string", {"x", "", "yz"});
  return w.to_bytes();
}

Bytes every_tensor_type(uint32_t alignment) {
  std::mt19937 rng(alignment);
  sg::GgufWriter w(alignment);
  const std::pair<DType, uint64_t> types[] = {
      {DType::F32, 1},   {DType::F16, 1},   {DType::BF16, 1},   {DType::Q8_0, 32},
      {DType::Q4_0, 32}, {DType::Q4_1, 32}, {DType::Q4_K, 256}, {DType::Q6_K, 256}};
  int i = 0;
  for (auto [dtype, block] : types) {
    std::vector<uint64_t> dims = {block * 2, 2};
    w.add_tensor("t" + std::to_string(i++), dtype, dims,
                 random_bytes(rng, stagefence::dtype_bytes(dtype, block * 4)));
  }
  return w.to_bytes();
}

Bytes tiny_llama() {
  std::mt19937 rng(1);
  sg::GgufWriter w;
  w.add_string("general.architecture", "llama");
  w.add_u32("llama.block_count", 1);
  w.add_u32("llama.embedding_length", 32);
  w.add_u32("llama.attention.head_count", 4);
  w.add_f32("llama.attention.layer_norm_rms_epsilon", 1e-5f);
  w.add_string("tokenizer.ggml.model", "llama");
  w.add_string_array("tokenizer.ggml.tokens", {"<unk>", "<s>", "</s>", "a", "b"});
  w.add_array<float>("tokenizer.ggml.scores", {0, 0, 0, -1, -2});
  w.add_array<int32_t>("tokenizer.ggml.token_type", {2, 3, 3, 1, 1});
  w.add_tensor("token_embd.weight", DType::F16, {32, 5}, random_bytes(rng, 32 * 5 * 2));
  w.add_tensor("blk.0.attn_q.weight", DType::Q8_0, {32, 32}, random_bytes(rng, 32 * 34));
  w.add_tensor("blk.0.ffn_down.weight", DType::Q4_K, {256, 2}, random_bytes(rng, 2 * 144));
  w.add_tensor("output_norm.weight", DType::F32, {32}, random_bytes(rng, 32 * 4));
  return w.to_bytes();
}

void save(const std::filesystem::path& dir, const std::string& name, const Bytes& bytes) {
  std::ofstream out(dir / name, std::ios::binary);
  out.write(reinterpret_cast<const char*>(bytes.data()), std::streamsize(bytes.size()));
  if (!out) throw stagefence::Error(stagefence::ErrorCode::Io, "cannot write " + name);
}

template <typename T>
Bytes with(Bytes b, size_t offset, T v) {
  if (offset + sizeof(T) <= b.size()) std::memcpy(b.data() + offset, &v, sizeof(T));
  return b;
}

Bytes truncated(Bytes b, size_t n) {
  b.resize(std::min(n, b.size()));
  return b;
}

}  // namespace

int main(int argc, char** argv) {
  if (argc != 2) {
    std::fprintf(stderr, "usage: %s <corpus-dir>\n", argv[0]);
    return 2;
  }
  try {
    std::filesystem::path dir = argv[1];
    std::filesystem::create_directories(dir);
    const std::pair<std::string, Bytes> valid[] = {
        {"empty", empty_file()},
        {"metadata", every_metadata_type()},
        {"tensors_a32", every_tensor_type(32)},
        {"tensors_a64", every_tensor_type(64)},
        {"tiny_llama", tiny_llama()},
    };
    int count = 0;
    for (const auto& [name, bytes] : valid) {
      save(dir, name + ".gguf", bytes);
      save(dir, name + "_v2.gguf", with<uint32_t>(bytes, 4, 2));
      save(dir, name + "_v1.gguf", with<uint32_t>(bytes, 4, 1));
      save(dir, name + "_magic.gguf", with<uint8_t>(bytes, 0, 'g'));
      save(dir, name + "_huge_kv_count.gguf", with<uint64_t>(bytes, 16, 1ull << 50));
      save(dir, name + "_huge_tensor_count.gguf", with<uint64_t>(bytes, 8, 1ull << 50));
      save(dir, name + "_header_only.gguf", truncated(bytes, 24));
      save(dir, name + "_half.gguf", truncated(bytes, bytes.size() / 2));
      save(dir, name + "_minus_one.gguf", truncated(bytes, bytes.size() - 1));
      count += 9;
    }
    std::printf("wrote %d corpus files to %s\n", count, dir.c_str());
    return 0;
  } catch (const std::exception& e) {
    std::fprintf(stderr, "make_corpus: %s\n", e.what());
    return 1;
  }
}
