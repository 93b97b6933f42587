// A validated, read-only GGUF file (versions 2 and 3): metadata, tensor infos and views of the
// tensor data inside a memory mapping or a byte buffer.
#pragma once
#include <cstddef>
#include <cstdint>
#include <filesystem>
#include <map>
#include <memory>
#include <optional>
#include <span>
#include <string>
#include <string_view>
#include <vector>

#include "model/gguf/gguf_value.hpp"
#include "stagefence/dtype.hpp"
#include "stagefence/error.hpp"

namespace stagefence::gguf {

class MappedFile;

struct MetadataEntry {
  std::string key;
  Value value;
};

// One tensor of the file; `data` points into the file's bytes and lives as long as the file.
struct TensorView {
  std::string name;
  DType dtype;
  std::vector<uint64_t> dims;  // innermost (contiguous) first, as stored: out x in is [in, out]
  uint64_t offset;             // relative to the data section
  uint64_t n_elements;
  uint64_t n_bytes;
  const std::byte* data;

  std::span<const std::byte> bytes() const { return {data, static_cast<size_t>(n_bytes)}; }
};

class GgufFile {
 public:
  // Maps the file read-only. Throws Error(Io) when it cannot be opened or mapped and
  // Error(Format) when it is not a valid GGUF file; nothing stays mapped after a throw.
  static GgufFile open(const std::filesystem::path& path);
  // Parses bytes owned by the caller, which must outlive the returned file and its views.
  static GgufFile from_memory(std::span<const std::byte> bytes);
  // Parses bytes that the returned file then owns.
  static GgufFile from_bytes(std::vector<std::byte> bytes);

  GgufFile(GgufFile&&) noexcept;
  GgufFile& operator=(GgufFile&&) noexcept;
  ~GgufFile();

  uint32_t version() const { return version_; }
  uint32_t alignment() const { return alignment_; }
  uint64_t data_offset() const { return data_offset_; }  // start of the data section
  std::span<const std::byte> bytes() const { return bytes_; }
  // The path it was opened from, or "(GGUF bytes in memory)"; errors about its bytes name it.
  const std::string& source() const { return source_; }
  bool mapped() const { return mapping_ != nullptr; }

  // Metadata in file order.
  std::span<const MetadataEntry> metadata() const { return metadata_; }
  bool contains(std::string_view key) const { return find(key) != nullptr; }
  const Value* find(std::string_view key) const;
  // Throws Error(Format) naming the key when it is missing.
  const Value& value(std::string_view key) const;

  // The value of `key` when it has exactly type T (an element type or std::vector of one).
  // Throws Error(Format) naming the key when it is missing or has another type.
  template <Storable T>
  const T& get(std::string_view key) const {
    const Value& v = value(key);
    if (const T* typed = v.get_if<T>()) return *typed;
    raise_wrong_type(key, v, type_name_of<T>());
  }
  // Like get, but std::nullopt when the key is missing; a present key of another type still
  // throws, since that means a malformed file rather than an optional setting.
  template <Storable T>
  std::optional<T> try_get(std::string_view key) const {
    if (!contains(key)) return std::nullopt;
    return get<T>(key);
  }
  // Like get for arrays, but nullptr when the key is missing (no copy of the array).
  template <Element E>
  const std::vector<E>* find_array(std::string_view key) const {
    if (!contains(key)) return nullptr;
    return &get<std::vector<E>>(key);
  }

  uint8_t get_u8(std::string_view key) const { return get<uint8_t>(key); }
  int8_t get_i8(std::string_view key) const { return get<int8_t>(key); }
  uint16_t get_u16(std::string_view key) const { return get<uint16_t>(key); }
  int16_t get_i16(std::string_view key) const { return get<int16_t>(key); }
  uint32_t get_u32(std::string_view key) const { return get<uint32_t>(key); }
  int32_t get_i32(std::string_view key) const { return get<int32_t>(key); }
  uint64_t get_u64(std::string_view key) const { return get<uint64_t>(key); }
  int64_t get_i64(std::string_view key) const { return get<int64_t>(key); }
  float get_f32(std::string_view key) const { return get<float>(key); }
  double get_f64(std::string_view key) const { return get<double>(key); }
  bool get_bool(std::string_view key) const { return get<bool>(key); }
  const std::string& get_string(std::string_view key) const { return get<std::string>(key); }
  const std::vector<std::string>& get_string_array(std::string_view key) const {
    return get<std::vector<std::string>>(key);
  }
  const std::vector<float>& get_f32_array(std::string_view key) const {
    return get<std::vector<float>>(key);
  }
  const std::vector<int32_t>& get_i32_array(std::string_view key) const {
    return get<std::vector<int32_t>>(key);
  }
  const std::vector<uint32_t>& get_u32_array(std::string_view key) const {
    return get<std::vector<uint32_t>>(key);
  }

  std::optional<uint32_t> try_get_u32(std::string_view key) const { return try_get<uint32_t>(key); }
  std::optional<int32_t> try_get_i32(std::string_view key) const { return try_get<int32_t>(key); }
  std::optional<uint64_t> try_get_u64(std::string_view key) const { return try_get<uint64_t>(key); }
  std::optional<float> try_get_f32(std::string_view key) const { return try_get<float>(key); }
  std::optional<bool> try_get_bool(std::string_view key) const { return try_get<bool>(key); }
  std::optional<std::string> try_get_string(std::string_view key) const {
    return try_get<std::string>(key);
  }

  // Tensors in file order.
  std::span<const TensorView> tensors() const { return tensors_; }
  const TensorView* find_tensor(std::string_view name) const;
  // Throws Error(Format) naming the tensor when the file has no tensor of that name.
  const TensorView& tensor(std::string_view name) const;

 private:
  GgufFile(std::unique_ptr<MappedFile> mapping, std::vector<std::byte> owned,
           std::span<const std::byte> bytes);
  void parse();
  [[noreturn]] static void raise_wrong_type(std::string_view key, const Value& v,
                                            const std::string& expected);

  std::unique_ptr<MappedFile> mapping_;  // set when opened from a path
  std::vector<std::byte> owned_;         // set by from_bytes
  std::span<const std::byte> bytes_;     // the whole file, wherever it lives
  std::string source_ = "(GGUF bytes in memory)";
  uint32_t version_ = 0;
  uint32_t alignment_ = 0;
  uint64_t data_offset_ = 0;
  std::vector<MetadataEntry> metadata_;
  std::map<std::string, size_t, std::less<>> metadata_index_;
  std::vector<TensorView> tensors_;
  std::map<std::string, size_t, std::less<>> tensor_index_;
};

}  // namespace stagefence::gguf
