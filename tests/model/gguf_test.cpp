// GGUF reader and writer: round trips of every tensor and metadata type, typed getters, and one
// test per kind of malformed input (each built by corrupting a valid file from the writer).
#include <gtest/gtest.h>
#include <unistd.h>

#include <algorithm>
#include <bit>
#include <cstdint>
#include <cstdio>
#include <cstring>
#include <filesystem>
#include <limits>
#include <random>
#include <string>
#include <vector>

#include "model/gguf/gguf_file.hpp"
#include "model/gguf/gguf_writer.hpp"
#include "stagefence/error.hpp"

namespace stagefence::gguf {
namespace {

using Bytes = std::vector<std::byte>;

Bytes random_bytes(std::mt19937_64& rng, size_t n) {
  Bytes out(n);
  for (auto& b : out) b = std::byte(rng() & 0xff);
  return out;
}

// Offset of the GGUF string `s` (u64 length then bytes) in `file`; fails the test if absent.
size_t find_gguf_string(const Bytes& file, const std::string& s) {
  const uint64_t n = s.size();
  Bytes needle(8);
  std::memcpy(needle.data(), &n, 8);
  for (const char ch : s) needle.push_back(std::byte(static_cast<unsigned char>(ch)));
  auto it = std::search(file.begin(), file.end(), needle.begin(), needle.end());
  EXPECT_NE(it, file.end()) << "string '" << s << "' not found in the file";
  return size_t(it - file.begin());
}

template <typename T>
void poke(Bytes& file, size_t offset, T v) {
  ASSERT_LE(offset + sizeof(T), file.size());
  std::memcpy(file.data() + offset, &v, sizeof(T));
}

template <typename T>
T peek(const Bytes& file, size_t offset) {
  T v;
  std::memcpy(&v, file.data() + offset, sizeof(T));
  return v;
}

// Field offsets of the metadata entry with key `key`.
struct KeyFields {
  size_t key, type, value;
};
KeyFields key_fields(const Bytes& file, const std::string& key) {
  size_t at = find_gguf_string(file, key);
  return {at, at + 8 + key.size(), at + 8 + key.size() + 4};
}

// Field offsets of the tensor info of tensor `name` (whose n_dims must not be corrupted yet).
struct TensorFields {
  size_t name, n_dims, dims, type, offset;
};
TensorFields tensor_fields(const Bytes& file, const std::string& name) {
  size_t at = find_gguf_string(file, name);
  size_t n_dims_at = at + 8 + name.size();
  uint32_t n_dims = peek<uint32_t>(file, n_dims_at);
  size_t type_at = n_dims_at + 4 + 8 * n_dims;
  return {at, n_dims_at, n_dims_at + 4, type_at, type_at + 4};
}

// A small valid file: three scalar keys, a bool, an array, and a q8_0 and an f32 tensor.
Bytes valid_file(uint32_t alignment = kDefaultAlignment) {
  std::mt19937_64 rng(7);
  GgufWriter w(alignment);
  w.add_u32("key.one", 4096);
  w.add_string("key.two", "llama");
  w.add_bool("key.flag", true);
  w.add_array<int32_t>("key.list", {3, -1, 4, 1, -5});
  w.add_tensor("a.weight", DType::Q8_0, {64, 2}, random_bytes(rng, 2 * 2 * 34));
  w.add_tensor("b.weight", DType::F32, {8, 3}, random_bytes(rng, 8 * 3 * 4));
  return w.to_bytes();
}

// Parsing `file` must fail with ErrorCode::Format and a message containing `fragment`.
void expect_format_error(const Bytes& file, const std::string& fragment) {
  try {
    GgufFile parsed = GgufFile::from_memory(file);
    ADD_FAILURE() << "parsed a malformed file with " << parsed.tensors().size() << " tensors";
  } catch (const Error& e) {
    EXPECT_EQ(e.code(), ErrorCode::Format) << e.what();
    EXPECT_NE(std::string(e.what()).find(fragment), std::string::npos)
        << "message \"" << e.what() << "\" lacks \"" << fragment << "\"";
  }
}

std::filesystem::path temp_path(const std::string& name) {
  return std::filesystem::temp_directory_path() /
         ("sf_gguf_" + std::to_string(::getpid()) + "_" + name);
}

// ---------------------------------------------------------------------------------------------
// Round trips

struct TypeCase {
  DType dtype;
  uint64_t block_elems, block_bytes;  // stated here independently of dtype.cpp
};

TEST(GgufRoundTrip, EveryTensorTypeThroughMemoryAndFile) {
  const TypeCase cases[] = {{DType::F32, 1, 4},      {DType::F16, 1, 2},     {DType::BF16, 1, 2},
                            {DType::Q8_0, 32, 34},   {DType::Q4_0, 32, 18},  {DType::Q4_1, 32, 20},
                            {DType::Q4_K, 256, 144}, {DType::Q6_K, 256, 210}};
  for (uint32_t alignment : {32u, 64u, 4096u}) {
    std::mt19937_64 rng(alignment);
    GgufWriter w(alignment);
    std::vector<std::vector<uint64_t>> dims;
    std::vector<Bytes> data;
    for (size_t i = 0; i < std::size(cases); ++i) {
      // Rows of 1 to 3 blocks, 1 to 4 dims.
      std::vector<uint64_t> d = {cases[i].block_elems * (1 + rng() % 3)};
      for (size_t k = 1; k < 1 + i % 4; ++k) d.push_back(1 + rng() % 5);
      uint64_t n = 1;
      for (uint64_t x : d) n *= x;
      dims.push_back(d);
      data.push_back(random_bytes(rng, n / cases[i].block_elems * cases[i].block_bytes));
      w.add_tensor("t" + std::to_string(i) + ".weight", cases[i].dtype, d, data.back());
    }
    Bytes bytes = w.to_bytes();
    ASSERT_EQ(bytes.size(), w.file_size());
    const auto path = temp_path("roundtrip.gguf");
    w.write(path);

    for (int via_file = 0; via_file < 2; ++via_file) {
      GgufFile f = via_file ? GgufFile::open(path) : GgufFile::from_bytes(bytes);
      EXPECT_EQ(f.version(), 3u);
      EXPECT_EQ(f.alignment(), alignment);
      EXPECT_EQ(f.data_offset() % alignment, 0u);
      ASSERT_EQ(f.tensors().size(), std::size(cases));
      for (size_t i = 0; i < std::size(cases); ++i) {
        const TensorView& t = f.tensors()[i];
        SCOPED_TRACE(t.name + " alignment " + std::to_string(alignment));
        EXPECT_EQ(t.name, "t" + std::to_string(i) + ".weight");
        EXPECT_EQ(t.dtype, cases[i].dtype);
        EXPECT_EQ(t.dims, dims[i]);
        uint64_t n = 1;
        for (uint64_t x : dims[i]) n *= x;
        EXPECT_EQ(t.n_elements, n);
        EXPECT_EQ(t.n_bytes, data[i].size());
        EXPECT_EQ(t.offset % alignment, 0u);
        EXPECT_EQ(uint64_t(t.data - f.bytes().data()), f.data_offset() + t.offset);
        ASSERT_EQ(t.bytes().size(), data[i].size());
        EXPECT_TRUE(std::equal(t.bytes().begin(), t.bytes().end(), data[i].begin()));
        EXPECT_EQ(f.find_tensor(t.name), &t);
      }
    }
    std::filesystem::remove(path);
  }
}

// Draws a random value of element type E.
template <Element E>
E random_element(std::mt19937_64& rng) {
  if constexpr (std::is_same_v<E, std::string>) {
    std::string s(rng() % 12, ' ');
    for (char& c : s) c = char(0x21 + rng() % 94);
    return s;
  } else if constexpr (std::is_same_v<E, bool>) {
    return rng() & 1;
  } else if constexpr (std::is_floating_point_v<E>) {
    return E(std::uniform_real_distribution<double>(-1e6, 1e6)(rng));
  } else {
    return E(rng());  // wraps into the full range of E
  }
}

template <Element E>
void add_scalar_and_arrays(GgufWriter& w, std::vector<MetadataEntry>& expected,
                           std::mt19937_64& rng) {
  const std::string name = type_name_of<E>();
  Value scalar(random_element<E>(rng));
  std::vector<E> items;
  for (int i = 0, n = 1 + int(rng() % 40); i < n; ++i) items.push_back(random_element<E>(rng));
  const MetadataEntry entries[] = {{"test." + name, scalar},
                                   {"test." + name + "_array", Value(items)},
                                   {"test." + name + "_empty_array", Value(std::vector<E>{})}};
  for (const auto& e : entries) {
    w.add(e.key, e.value);
    expected.push_back(e);
  }
}

TEST(GgufRoundTrip, EveryMetadataType) {
  std::mt19937_64 rng(11);
  GgufWriter w;
  std::vector<MetadataEntry> expected;
  add_scalar_and_arrays<uint8_t>(w, expected, rng);
  add_scalar_and_arrays<int8_t>(w, expected, rng);
  add_scalar_and_arrays<uint16_t>(w, expected, rng);
  add_scalar_and_arrays<int16_t>(w, expected, rng);
  add_scalar_and_arrays<uint32_t>(w, expected, rng);
  add_scalar_and_arrays<int32_t>(w, expected, rng);
  add_scalar_and_arrays<float>(w, expected, rng);
  add_scalar_and_arrays<bool>(w, expected, rng);
  add_scalar_and_arrays<std::string>(w, expected, rng);
  add_scalar_and_arrays<uint64_t>(w, expected, rng);
  add_scalar_and_arrays<int64_t>(w, expected, rng);
  add_scalar_and_arrays<double>(w, expected, rng);
  w.add_string("test.empty_string", "");
  expected.push_back({"test.empty_string", Value("")});

  GgufFile f = GgufFile::from_bytes(w.to_bytes());
  EXPECT_TRUE(f.tensors().empty());
  ASSERT_EQ(f.metadata().size(), expected.size());
  for (size_t i = 0; i < expected.size(); ++i) {
    SCOPED_TRACE(expected[i].key);
    EXPECT_EQ(f.metadata()[i].key, expected[i].key);  // file order is kept
    EXPECT_EQ(f.metadata()[i].value, expected[i].value);
    EXPECT_EQ(f.metadata()[i].value.type_name(), expected[i].value.type_name());
    ASSERT_NE(f.find(expected[i].key), nullptr);
    EXPECT_EQ(*f.find(expected[i].key), expected[i].value);
  }
}

TEST(GgufRoundTrip, LlamaStyleMetadataThroughTypedGetters) {
  std::mt19937_64 rng(3);
  std::vector<std::string> tokens;
  std::vector<float> scores;
  std::vector<int32_t> token_types;
  for (int i = 0; i < 300; ++i) {
    tokens.push_back(random_element<std::string>(rng));
    scores.push_back(random_element<float>(rng));
    token_types.push_back(int32_t(1 + rng() % 6));
  }
  GgufWriter w;
  w.add_string("general.architecture", "llama");
  w.add_u32("llama.block_count", 22);
  w.add_u32("llama.embedding_length", 2048);
  w.add_f32("llama.attention.layer_norm_rms_epsilon", 1e-5f);
  w.add_u64("general.parameter_count", 1100000000ull);
  w.add_bool("tokenizer.ggml.add_bos_token", true);
  w.add_string_array("tokenizer.ggml.tokens", tokens);
  w.add_array("tokenizer.ggml.scores", scores);
  w.add_array("tokenizer.ggml.token_type", token_types);
  GgufFile f = GgufFile::from_bytes(w.to_bytes());

  EXPECT_EQ(f.get_string("general.architecture"), "llama");
  EXPECT_EQ(f.get_u32("llama.block_count"), 22u);
  EXPECT_EQ(f.get_u32("llama.embedding_length"), 2048u);
  EXPECT_EQ(f.get_f32("llama.attention.layer_norm_rms_epsilon"), 1e-5f);
  EXPECT_EQ(f.get_u64("general.parameter_count"), 1100000000ull);
  EXPECT_TRUE(f.get_bool("tokenizer.ggml.add_bos_token"));
  EXPECT_EQ(f.get_string_array("tokenizer.ggml.tokens"), tokens);
  EXPECT_EQ(f.get_f32_array("tokenizer.ggml.scores"), scores);
  EXPECT_EQ(f.get_i32_array("tokenizer.ggml.token_type"), token_types);
  EXPECT_EQ(f.try_get_u32("llama.block_count"), 22u);
  EXPECT_EQ(f.try_get_u32("llama.rope.dimension_count"), std::nullopt);
  EXPECT_EQ(f.find_array<std::string>("tokenizer.ggml.merges"), nullptr);
  ASSERT_NE(f.find_array<float>("tokenizer.ggml.scores"), nullptr);
  EXPECT_EQ(*f.find_array<float>("tokenizer.ggml.scores"), scores);
}

TEST(GgufGetters, MissingKeyAndWrongTypeNameTheKey) {
  GgufFile f = GgufFile::from_bytes(valid_file());
  auto expect = [](auto&& call, const std::string& fragment) {
    try {
      call();
      ADD_FAILURE() << "no error";
    } catch (const Error& e) {
      EXPECT_EQ(e.code(), ErrorCode::Format);
      EXPECT_NE(std::string(e.what()).find(fragment), std::string::npos) << e.what();
    }
  };
  expect([&] { f.get_u32("llama.block_count"); }, "metadata key 'llama.block_count' is missing");
  expect([&] { f.get_i32("key.one"); }, "metadata key 'key.one' is u32, expected i32");
  expect([&] { f.get_string_array("key.list"); },
         "'key.list' is array[i32], expected array[string]");
  expect([&] { f.try_get_string("key.one"); }, "'key.one' is u32, expected string");
  expect([&] { f.find_array<float>("key.list"); }, "is array[i32], expected array[f32]");
  expect([&] { f.tensor("output.weight"); }, "tensor 'output.weight' is missing");
  EXPECT_EQ(f.find_tensor("output.weight"), nullptr);
  EXPECT_EQ(f.tensor("b.weight").dims, (std::vector<uint64_t>{8, 3}));
}

// Fuzzing found that NaN metadata (which Value::operator== never equates) must still round trip
// bit for bit: the reader and writer copy float bits and never compare values.
TEST(GgufRoundTrip, NanMetadataKeepsItsBits) {
  const uint32_t f32_bits = 0x7fc01234u;            // quiet NaN with a payload
  const uint64_t f64_bits = 0xfff0000000000abcull;  // signalling NaN, sign set
  float f32_nan;
  double f64_nan;
  std::memcpy(&f32_nan, &f32_bits, 4);
  std::memcpy(&f64_nan, &f64_bits, 8);
  GgufWriter w;
  w.add_f32("nan.f32", f32_nan);
  w.add_array<double>("nan.f64", {1.5, f64_nan});
  Bytes first = w.to_bytes();
  GgufFile f = GgufFile::from_bytes(first);
  EXPECT_EQ(std::bit_cast<uint32_t>(f.get_f32("nan.f32")), f32_bits);
  ASSERT_EQ(f.get<std::vector<double>>("nan.f64").size(), 2u);
  EXPECT_EQ(std::bit_cast<uint64_t>(f.get<std::vector<double>>("nan.f64")[1]), f64_bits);
  GgufWriter again;
  for (const MetadataEntry& m : f.metadata()) again.add(m.key, m.value);
  EXPECT_EQ(again.to_bytes(), first);
}

TEST(GgufRoundTrip, VersionTwoIsAccepted) {
  Bytes file = valid_file();
  poke<uint32_t>(file, 4, 2);
  GgufFile f = GgufFile::from_memory(file);
  EXPECT_EQ(f.version(), 2u);
  EXPECT_EQ(f.tensors().size(), 2u);
}

TEST(GgufRoundTrip, ViewsSurviveMovingTheFile) {
  Bytes bytes = valid_file();
  GgufFile f = GgufFile::from_bytes(bytes);
  const std::byte* data = f.tensor("b.weight").data;
  GgufFile moved = std::move(f);
  EXPECT_EQ(moved.tensor("b.weight").data, data);
  EXPECT_EQ(std::memcmp(data, bytes.data() + moved.data_offset() + moved.tensor("b.weight").offset,
                        8 * 3 * 4),
            0);
}

TEST(GgufRoundTrip, MetadataOnlyFileWithoutTrailingPadding) {
  GgufWriter w;
  w.add_string("general.name", "tiny");
  Bytes file = w.to_bytes();
  // The header (4+4+8+8) plus the entry (8+12 key, 4 type, 8+4 value) is 60 bytes; drop padding.
  file.resize(60);
  GgufFile f = GgufFile::from_memory(file);
  EXPECT_EQ(f.get_string("general.name"), "tiny");
}

// ---------------------------------------------------------------------------------------------
// Writer argument checks

TEST(GgufWriter, RejectsInvalidArguments) {
  auto expect_invalid = [](auto&& call, const std::string& fragment) {
    try {
      call();
      ADD_FAILURE() << "no error";
    } catch (const Error& e) {
      EXPECT_EQ(e.code(), ErrorCode::InvalidArgument);
      EXPECT_NE(std::string(e.what()).find(fragment), std::string::npos) << e.what();
    }
  };
  Bytes eight(8, std::byte{1});
  expect_invalid([] { GgufWriter w(48); }, "alignment 48 is not a power of two");
  GgufWriter w;
  w.add_u32("a", 1);
  expect_invalid([&] { w.add_u32("a", 2); }, "duplicate GGUF metadata key 'a'");
  expect_invalid([&] { w.add_u32("general.alignment", 64); }, "through the GgufWriter constructor");
  expect_invalid([&] { w.add_u32("", 1); }, "key is empty");
  w.add_tensor("t", DType::F32, {2}, eight);
  expect_invalid([&] { w.add_tensor("t", DType::F32, {2}, eight); }, "duplicate GGUF tensor 't'");
  expect_invalid([&] { w.add_tensor("u", DType::F32, {3}, eight); }, "needs 12 bytes");
  expect_invalid([&] { w.add_tensor("u", DType::F32, {}, eight); }, "has 0 dims");
  expect_invalid([&] { w.add_tensor("u", DType::F32, {1, 1, 1, 2, 1}, eight); }, "has 5 dims");
  expect_invalid([&] { w.add_tensor("u", DType::F32, {2, 0}, eight); }, "zero dimension");
  expect_invalid([&] { w.add_tensor("u", DType::U8, {8}, eight); }, "not a GGUF tensor type");
  expect_invalid([&] { w.add_tensor("u", DType::Q8_0, {16, 2}, Bytes(34)); }, "not whole q8_0");
}

TEST(GgufWriter, WriteToUnwritablePathIsIoError) {
  GgufWriter w;
  try {
    w.write("/nonexistent-dir/x.gguf");
    ADD_FAILURE() << "no error";
  } catch (const Error& e) {
    EXPECT_EQ(e.code(), ErrorCode::Io);
    EXPECT_NE(std::string(e.what()).find("/nonexistent-dir/x.gguf"), std::string::npos);
  }
}

// ---------------------------------------------------------------------------------------------
// Malformed input

TEST(GgufMalformed, OpenMissingPathIsIoError) {
  try {
    GgufFile::open("/nonexistent-dir/model.gguf");
    ADD_FAILURE() << "no error";
  } catch (const Error& e) {
    EXPECT_EQ(e.code(), ErrorCode::Io);
    EXPECT_NE(std::string(e.what()).find("/nonexistent-dir/model.gguf"), std::string::npos);
  }
}

TEST(GgufMalformed, OpenDirectoryIsIoError) {
  try {
    GgufFile::open(std::filesystem::temp_directory_path());
    ADD_FAILURE() << "no error";
  } catch (const Error& e) {
    EXPECT_EQ(e.code(), ErrorCode::Io);
    EXPECT_NE(std::string(e.what()).find("not a regular file"), std::string::npos);
  }
}

TEST(GgufMalformed, OpenNamesThePathOfAMalformedFile) {
  const auto path = temp_path("empty.gguf");
  {
    std::FILE* f = std::fopen(path.c_str(), "wb");
    ASSERT_NE(f, nullptr);
    std::fclose(f);
  }
  try {
    GgufFile::open(path);
    ADD_FAILURE() << "no error";
  } catch (const Error& e) {
    EXPECT_EQ(e.code(), ErrorCode::Format);
    EXPECT_NE(std::string(e.what()).find(path.string() + ": file is 0 bytes"), std::string::npos)
        << e.what();
  }
  std::filesystem::remove(path);
}

TEST(GgufMalformed, FileShorterThanHeader) {
  Bytes file = valid_file();
  file.resize(23);
  expect_format_error(file, "file is 23 bytes, shorter than the 24-byte GGUF header");
  expect_format_error({}, "file is 0 bytes");
}

TEST(GgufMalformed, BadMagic) {
  Bytes file = valid_file();
  file[0] = std::byte('X');
  file[3] = std::byte(0x01);
  expect_format_error(file, "bad magic \"XGU\\x01\" at offset 0");
}

TEST(GgufMalformed, UnsupportedVersion) {
  Bytes file = valid_file();
  poke<uint32_t>(file, 4, 1);
  expect_format_error(file, "unsupported GGUF version 1 at offset 4");
  poke<uint32_t>(file, 4, 4);
  expect_format_error(file, "unsupported GGUF version 4");
  poke<uint32_t>(file, 4, 0x03000000);
  expect_format_error(file, "a big-endian file?");
}

TEST(GgufMalformed, MetadataCountCannotFit) {
  Bytes file = valid_file();
  poke<uint64_t>(file, 16, uint64_t(1) << 40);
  expect_format_error(file, "metadata count 1099511627776 at offset 16 cannot fit");
}

TEST(GgufMalformed, TensorCountCannotFit) {
  Bytes file = valid_file();
  poke<uint64_t>(file, 8, std::numeric_limits<uint64_t>::max());
  expect_format_error(file, "tensor count 18446744073709551615 at offset 8 cannot fit");
}

TEST(GgufMalformed, ArrayCountCannotFit) {
  Bytes file = valid_file();
  KeyFields k = key_fields(file, "key.list");
  poke<uint64_t>(file, k.value + 4, uint64_t(1) << 60);
  expect_format_error(file, "array of 1152921504606846976 i32 elements at offset " +
                                std::to_string(k.value + 4) + " for key 'key.list' cannot fit");
}

TEST(GgufMalformed, KeyStringLongerThanRemainingBytes) {
  Bytes file = valid_file();
  KeyFields k = key_fields(file, "key.two");
  poke<uint64_t>(file, k.key, uint64_t(1) << 40);
  expect_format_error(
      file, "string length 1099511627776 at offset " + std::to_string(k.key) + " exceeds the");
}

TEST(GgufMalformed, ValueStringLongerThanRemainingBytes) {
  Bytes file = valid_file();
  KeyFields k = key_fields(file, "key.two");
  poke<uint64_t>(file, k.value, file.size());
  expect_format_error(file, "(string value of metadata key 'key.two')");
}

TEST(GgufMalformed, TensorNameLongerThanRemainingBytes) {
  Bytes file = valid_file();
  TensorFields t = tensor_fields(file, "b.weight");
  poke<uint64_t>(file, t.name, file.size() - t.name - 8 + 1);
  expect_format_error(file, "(name of tensor 1)");
}

TEST(GgufMalformed, UnknownMetadataValueType) {
  Bytes file = valid_file();
  poke<uint32_t>(file, key_fields(file, "key.one").type, 13);
  expect_format_error(file, "unknown metadata value type 13");
  expect_format_error(file, "for key 'key.one'");
}

TEST(GgufMalformed, UnknownArrayElementType) {
  Bytes file = valid_file();
  poke<uint32_t>(file, key_fields(file, "key.list").value, 0xdead);
  expect_format_error(file, "unknown metadata array element type 57005");
}

TEST(GgufMalformed, NestedArray) {
  Bytes file = valid_file();
  poke<uint32_t>(file, key_fields(file, "key.list").value, uint32_t(ValueType::Array));
  expect_format_error(file, "nested array");
}

TEST(GgufMalformed, BoolThatIsNeitherZeroNorOne) {
  Bytes file = valid_file();
  poke<uint8_t>(file, key_fields(file, "key.flag").value, 2);
  expect_format_error(file, "bool value 2 at offset");
}

TEST(GgufMalformed, UnknownTensorTypeId) {
  Bytes file = valid_file();
  TensorFields t = tensor_fields(file, "b.weight");
  poke<uint32_t>(file, t.type, 99);
  expect_format_error(file, "tensor 'b.weight' (info at offset " + std::to_string(t.name) +
                                ") has unknown ggml type id 99");
  poke<uint32_t>(file, t.type, 4);  // an id ggml retired
  expect_format_error(file, "unknown ggml type id 4");
  poke<uint32_t>(file, t.type, uint32_t(DType::U8));  // a stagefence-only id
  expect_format_error(file, "unknown ggml type id 1000");
}

TEST(GgufMalformed, ZeroDims) {
  Bytes file = valid_file();
  poke<uint32_t>(file, tensor_fields(file, "a.weight").n_dims, 0);
  expect_format_error(file, "tensor 'a.weight' (info at offset");
  expect_format_error(file, "has n_dims 0, expected 1 to 4");
}

TEST(GgufMalformed, TooManyDims) {
  Bytes file = valid_file();
  poke<uint32_t>(file, tensor_fields(file, "a.weight").n_dims, 5);
  expect_format_error(file, "has n_dims 5, expected 1 to 4");
}

TEST(GgufMalformed, ZeroDimension) {
  Bytes file = valid_file();
  poke<uint64_t>(file, tensor_fields(file, "b.weight").dims + 8, 0);
  expect_format_error(file, "tensor 'b.weight'");
  expect_format_error(file, "has dimension 1 equal to 0");
}

TEST(GgufMalformed, OverflowingElementCount) {
  Bytes file = valid_file();
  TensorFields t = tensor_fields(file, "b.weight");
  poke<uint64_t>(file, t.dims, uint64_t(1) << 32);
  poke<uint64_t>(file, t.dims + 8, uint64_t(1) << 32);
  expect_format_error(file, "has dims [4294967296, 4294967296] whose element count overflows");
}

TEST(GgufMalformed, OverflowingByteSize) {
  Bytes file = valid_file();
  TensorFields t = tensor_fields(file, "b.weight");  // f32: 4 bytes per element
  poke<uint64_t>(file, t.dims, uint64_t(1) << 62);
  poke<uint64_t>(file, t.dims + 8, 1);
  expect_format_error(file, "whose byte size overflows");
}

TEST(GgufMalformed, RowsNotWholeBlocks) {
  Bytes file = valid_file();
  poke<uint64_t>(file, tensor_fields(file, "a.weight").dims, 48);
  expect_format_error(file,
                      "has 96 elements in rows of 48, not a whole number of q8_0 blocks of 32");
}

TEST(GgufMalformed, UnalignedTensorOffset) {
  Bytes file = valid_file();
  TensorFields t = tensor_fields(file, "b.weight");
  uint64_t offset = peek<uint64_t>(file, t.offset);
  ASSERT_GT(offset, 0u);
  poke<uint64_t>(file, t.offset, offset + 4);
  expect_format_error(file, "has data offset " + std::to_string(offset + 4) +
                                ", not a multiple of the alignment 32");
}

TEST(GgufMalformed, AlignmentNotPowerOfTwo) {
  Bytes file = valid_file(64);
  KeyFields k = key_fields(file, "general.alignment");
  ASSERT_EQ(peek<uint32_t>(file, k.value), 64u);
  poke<uint32_t>(file, k.value, 48);
  expect_format_error(file, "'general.alignment' is 48, which is not a power of two");
  poke<uint32_t>(file, k.value, 0);
  expect_format_error(file, "'general.alignment' is 0, which is not a power of two");
  // A power of two, but absurd (the GGUF fuzzer's out-of-memory finding): refused.
  poke<uint32_t>(file, k.value, 1u << 30);
  expect_format_error(file, "'general.alignment' is 1073741824, larger than the 65536");
}

TEST(GgufMalformed, AlignmentOfWrongType) {
  Bytes file = valid_file(64);
  poke<uint32_t>(file, key_fields(file, "general.alignment").type, uint32_t(ValueType::I32));
  expect_format_error(file, "'general.alignment' is i32, expected u32");
}

TEST(GgufMalformed, TensorDataOutsideTheFile) {
  Bytes file = valid_file();
  poke<uint64_t>(file, tensor_fields(file, "b.weight").offset, uint64_t(1) << 20);
  expect_format_error(file, "tensor 'b.weight' data [1048576, 1048576 + 96) lies outside the file");
  Bytes truncated = valid_file();
  truncated.resize(truncated.size() - 1);
  expect_format_error(truncated, "tensor 'b.weight' data");
  expect_format_error(truncated, "lies outside the file");
}

TEST(GgufMalformed, TensorOffsetNearUint64MaxDoesNotWrap) {
  Bytes file = valid_file();
  poke<uint64_t>(file, tensor_fields(file, "b.weight").offset,
                 std::numeric_limits<uint64_t>::max() / 32 * 32);
  expect_format_error(file, "lies outside the file");
}

TEST(GgufMalformed, DataSectionPastEndOfFile) {
  Bytes file = valid_file();
  // Cut the file inside the padding before the data section.
  TensorFields t = tensor_fields(file, "b.weight");
  file.resize(t.offset + 8 + 1);
  ASSERT_NE(file.size() % 32, 0u) << "the cut must fall inside the padding";
  expect_format_error(file, "starts past the end of the");
}

TEST(GgufMalformed, OverlappingTensors) {
  Bytes file = valid_file();
  TensorFields a = tensor_fields(file, "a.weight");
  TensorFields b = tensor_fields(file, "b.weight");
  poke<uint64_t>(file, b.offset, peek<uint64_t>(file, a.offset));
  expect_format_error(file, "tensors 'a.weight' [0, 136) and 'b.weight' [0, 96) overlap");
}

TEST(GgufMalformed, DuplicateTensorNames) {
  Bytes file = valid_file();
  TensorFields b = tensor_fields(file, "b.weight");
  file[b.name + 8] = std::byte('a');
  expect_format_error(file, "duplicate tensor name 'a.weight' at offset " + std::to_string(b.name));
}

TEST(GgufMalformed, DuplicateMetadataKeys) {
  Bytes file = valid_file();
  KeyFields two = key_fields(file, "key.two");
  std::memcpy(file.data() + two.key + 8, "key.one", 7);
  expect_format_error(file,
                      "duplicate metadata key 'key.one' at offset " + std::to_string(two.key));
}

TEST(GgufMalformed, EmptyKeyAndEmptyTensorName) {
  Bytes file = valid_file();
  KeyFields k = key_fields(file, "key.one");
  poke<uint64_t>(file, k.key, 0);
  expect_format_error(file, "empty metadata key at offset " + std::to_string(k.key));
  file = valid_file();
  TensorFields t = tensor_fields(file, "a.weight");
  poke<uint64_t>(file, t.name, 0);
  expect_format_error(file, "empty tensor name at offset " + std::to_string(t.name));
}

// Every proper prefix of a valid file is rejected cleanly (no crash, no partial object).
TEST(GgufMalformed, EveryTruncationIsRejected) {
  const Bytes file = valid_file();
  for (size_t n = 0; n < file.size(); ++n) {
    Bytes prefix(file.begin(), file.begin() + n);
    try {
      GgufFile parsed = GgufFile::from_bytes(std::move(prefix));
      ADD_FAILURE() << "prefix of " << n << " bytes parsed";
    } catch (const Error& e) {
      EXPECT_EQ(e.code(), ErrorCode::Format) << n << ": " << e.what();
    }
  }
}

}  // namespace
}  // namespace stagefence::gguf
