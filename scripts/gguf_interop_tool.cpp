// Helper for scripts/gguf_interop.py: writes the interop reference file with stagefence's GGUF
// writer, or prints any GGUF file as canonical text read with stagefence's GGUF reader.
//
//   gguf_interop_tool write <path> <alignment>
//   gguf_interop_tool dump <path>
//
// The reference content and the dump format are mirrored in scripts/gguf_interop.py.
#include <cinttypes>
#include <cstdio>
#include <cstring>
#include <string>
#include <vector>

#include "model/gguf/gguf_file.hpp"
#include "model/gguf/gguf_writer.hpp"
#include "stagefence/error.hpp"

namespace sg = stagefence::gguf;
using stagefence::DType;

namespace {

// Byte j of reference tensor i.
std::vector<std::byte> pattern_bytes(size_t tensor_index, size_t n) {
  std::vector<std::byte> out(n);
  for (size_t j = 0; j < n; ++j) out[j] = std::byte((j * 31 + tensor_index * 17 + 5) & 0xff);
  return out;
}

void write_reference(const char* path, uint32_t alignment) {
  sg::GgufWriter w(alignment);
  w.add_string("general.architecture", "llama");
  w.add_u8("interop.u8", 250);
  w.add_i8("interop.i8", -120);
  w.add_u16("interop.u16", 65000);
  w.add_i16("interop.i16", -32000);
  w.add_u32("interop.u32", 4000000000u);
  w.add_i32("interop.i32", -2000000000);
  w.add_f32("interop.f32", 3.14159265358979f);
  w.add_bool("interop.bool", true);
  w.add_string("interop.string", "h\xc3\xa9llo w\xc3\xb6rld");
  w.add_u64("interop.u64", 18000000000000000000ull);
  w.add_i64("interop.i64", -9000000000000000000ll);
  w.add_f64("interop.f64", 2.718281828459045);
  w.add_array<uint8_t>("interop.arr.u8", {1, 2, 255});
  w.add_array<int8_t>("interop.arr.i8", {-128, 0, 127});
  w.add_array<uint16_t>("interop.arr.u16", {0, 65535});
  w.add_array<int16_t>("interop.arr.i16", {-32768, 32767});
  w.add_array<uint32_t>("interop.arr.u32", {0, 4294967295u, 7});
  w.add_array<int32_t>("interop.arr.i32", {-1, 2, -3});
  w.add_array<float>("interop.arr.f32", {0.5f, -1.25f, 1e-5f});
  w.add_array<bool>("interop.arr.bool", {true, false, true});
  w.add_string_array("interop.arr.string", {"a", "", "t\xc3\xb6kens", "merges x"});
  w.add_array<uint64_t>("interop.arr.u64", {0, 18446744073709551615ull});
  w.add_array<int64_t>("interop.arr.i64", {-9223372036854775807ll - 1, 9223372036854775807ll});
  w.add_array<double>("interop.arr.f64", {0.1, -1e300});

  struct Spec {
    const char* name;
    DType dtype;
    std::vector<uint64_t> dims;
  };
  const Spec tensors[] = {
      {"t.f32", DType::F32, {8, 3}},     {"t.f16", DType::F16, {16, 2}},
      {"t.bf16", DType::BF16, {8, 2}},   {"t.q8_0", DType::Q8_0, {64, 2}},
      {"t.q4_0", DType::Q4_0, {32, 3}},  {"t.q4_1", DType::Q4_1, {64, 1}},
      {"t.q4_k", DType::Q4_K, {256, 2}}, {"t.q6_k", DType::Q6_K, {256, 1}},
  };
  for (size_t i = 0; i < std::size(tensors); ++i) {
    uint64_t n = 1;
    for (uint64_t d : tensors[i].dims) n *= d;
    w.add_tensor(tensors[i].name, tensors[i].dtype, tensors[i].dims,
                 pattern_bytes(i, stagefence::dtype_bytes(tensors[i].dtype, n)));
  }
  w.write(path);
}

std::string hex_bytes(const void* data, size_t n) {
  std::string s;
  char buf[3];
  for (size_t i = 0; i < n; ++i) {
    std::snprintf(buf, sizeof buf, "%02x", static_cast<const unsigned char*>(data)[i]);
    s += buf;
  }
  return s;
}

template <typename T>
std::string element_text(const T& v) {
  char buf[40];
  if constexpr (std::is_same_v<T, std::string>) {
    return "s:" + hex_bytes(v.data(), v.size());
  } else if constexpr (std::is_same_v<T, bool>) {
    return v ? "true" : "false";
  } else if constexpr (std::is_same_v<T, float>) {
    uint32_t bits;
    std::memcpy(&bits, &v, 4);
    std::snprintf(buf, sizeof buf, "0x%08" PRIx32, bits);
    return buf;
  } else if constexpr (std::is_same_v<T, double>) {
    uint64_t bits;
    std::memcpy(&bits, &v, 8);
    std::snprintf(buf, sizeof buf, "0x%016" PRIx64, bits);
    return buf;
  } else if constexpr (std::is_signed_v<T>) {
    return std::to_string(int64_t(v));
  } else {
    return std::to_string(uint64_t(v));
  }
}

uint64_t fnv1a64(std::span<const std::byte> bytes) {
  uint64_t h = 0xcbf29ce484222325ull;
  for (std::byte b : bytes) h = (h ^ uint64_t(b)) * 0x100000001b3ull;
  return h;
}

void dump(const char* path) {
  sg::GgufFile f = sg::GgufFile::open(path);
  std::printf("version %u\nalignment %u\n", f.version(), f.alignment());
  for (const sg::MetadataEntry& m : f.metadata()) {
    std::string values = std::visit(
        [](const auto& v) {
          using V = std::decay_t<decltype(v)>;
          if constexpr (sg::Element<V>) {
            return element_text(v);
          } else {
            std::string s;
            for (size_t i = 0; i < v.size(); ++i)
              s += (i ? "," : "") + element_text<typename V::value_type>(v[i]);
            return s;
          }
        },
        m.value.storage());
    std::printf("kv %s %s %s\n", m.key.c_str(), m.value.type_name().c_str(), values.c_str());
  }
  for (const sg::TensorView& t : f.tensors()) {
    std::string dims;
    for (size_t i = 0; i < t.dims.size(); ++i) dims += (i ? "," : "") + std::to_string(t.dims[i]);
    std::printf(
        "tensor %s type=%u dims=%s offset=%" PRIu64 " bytes=%" PRIu64 " fnv=%016" PRIx64 "\n",
        t.name.c_str(), unsigned(t.dtype), dims.c_str(), t.offset, t.n_bytes, fnv1a64(t.bytes()));
  }
}

}  // namespace

int main(int argc, char** argv) {
  try {
    if (argc == 4 && std::strcmp(argv[1], "write") == 0) {
      write_reference(argv[2], uint32_t(std::stoul(argv[3])));
      return 0;
    }
    if (argc == 3 && std::strcmp(argv[1], "dump") == 0) {
      dump(argv[2]);
      return 0;
    }
    std::fprintf(stderr, "usage: %s write <path> <alignment> | dump <path>\n", argv[0]);
    return 2;
  } catch (const std::exception& e) {
    std::fprintf(stderr, "gguf_interop_tool: %s\n", e.what());
    return 1;
  }
}
