// Builds a GGUF version 3 file from metadata and tensors, in memory or on disk.
#pragma once
#include <cstddef>
#include <cstdint>
#include <filesystem>
#include <functional>
#include <map>
#include <span>
#include <string>
#include <vector>

#include "model/gguf/gguf_file.hpp"
#include "model/gguf/gguf_format.hpp"
#include "model/gguf/gguf_value.hpp"
#include "stagefence/dtype.hpp"

namespace stagefence::gguf {

class GgufWriter {
 public:
  // `alignment` must be a power of two; a value other than 32 is recorded as general.alignment.
  explicit GgufWriter(uint32_t alignment = kDefaultAlignment);

  // Metadata is written in the order it is added. A repeated key, an empty key or
  // general.alignment (set it through the constructor) is an InvalidArgument error.
  void add(std::string key, Value value);
  void add_u8(std::string key, uint8_t v) { add(std::move(key), Value(v)); }
  void add_i8(std::string key, int8_t v) { add(std::move(key), Value(v)); }
  void add_u16(std::string key, uint16_t v) { add(std::move(key), Value(v)); }
  void add_i16(std::string key, int16_t v) { add(std::move(key), Value(v)); }
  void add_u32(std::string key, uint32_t v) { add(std::move(key), Value(v)); }
  void add_i32(std::string key, int32_t v) { add(std::move(key), Value(v)); }
  void add_u64(std::string key, uint64_t v) { add(std::move(key), Value(v)); }
  void add_i64(std::string key, int64_t v) { add(std::move(key), Value(v)); }
  void add_f32(std::string key, float v) { add(std::move(key), Value(v)); }
  void add_f64(std::string key, double v) { add(std::move(key), Value(v)); }
  void add_bool(std::string key, bool v) { add(std::move(key), Value(v)); }
  void add_string(std::string key, std::string v) { add(std::move(key), Value(std::move(v))); }
  template <Element E>
  void add_array(std::string key, std::vector<E> items) {
    add(std::move(key), Value(std::move(items)));
  }
  void add_string_array(std::string key, std::vector<std::string> items) {
    add(std::move(key), Value(std::move(items)));
  }

  // Copies `data`, which must hold exactly the bytes of dims (innermost first) elements of
  // dtype; dtype must be a GGUF type, 1 to 4 nonzero dims, rows whole blocks. A repeated name
  // or any mismatch is an InvalidArgument error.
  void add_tensor(std::string name, DType dtype, std::vector<uint64_t> dims,
                  std::span<const std::byte> data);

  uint32_t alignment() const { return alignment_; }
  // Exact size of the file that write() and to_bytes() produce.
  uint64_t file_size() const;

  std::vector<std::byte> to_bytes() const;
  // Throws Error(Io) naming the path when the file cannot be written.
  void write(const std::filesystem::path& path) const;

 private:
  struct PendingTensor {
    std::string name;
    DType dtype;
    std::vector<uint64_t> dims;
    std::vector<std::byte> data;
    uint64_t offset;  // within the data section
  };

  // Everything before the data section, padding included.
  std::vector<std::byte> header_bytes() const;
  void emit(const std::function<void(std::span<const std::byte>)>& sink) const;

  uint32_t alignment_;
  std::vector<MetadataEntry> metadata_;
  std::map<std::string, size_t, std::less<>> metadata_index_;
  std::vector<PendingTensor> tensors_;
  std::map<std::string, size_t, std::less<>> tensor_index_;
  uint64_t data_size_ = 0;  // data section bytes, each tensor padded to the alignment
};

}  // namespace stagefence::gguf
