#include "model/gguf/gguf_writer.hpp"

#include <cerrno>
#include <cstdint>
#include <cstdio>
#include <cstring>
#include <memory>
#include <type_traits>

#include "stagefence/error.hpp"

namespace stagefence::gguf {
namespace {

uint64_t align_up(uint64_t n, uint64_t alignment) {
  return (n + alignment - 1) / alignment * alignment;
}

// Appends little-endian encodings of GGUF fields.
class Encoder {
 public:
  template <typename T>
  void put(T v) {
    static_assert(std::is_trivially_copyable_v<T>);
    size_t at = out_.size();
    out_.resize(at + sizeof(T));
    std::memcpy(out_.data() + at, &v, sizeof(T));
  }
  void put_string(const std::string& s) {
    put<uint64_t>(s.size());
    const auto* p = reinterpret_cast<const std::byte*>(s.data());
    out_.insert(out_.end(), p, p + s.size());
  }
  template <Element E>
  void put_element(const E& v) {
    if constexpr (std::is_same_v<E, std::string>) {
      put_string(v);
    } else if constexpr (std::is_same_v<E, bool>) {
      put<uint8_t>(v ? 1 : 0);
    } else {
      put<E>(v);
    }
  }
  void put_value(const Value& value) {
    put<uint32_t>(uint32_t(value.type()));
    std::visit(
        [&](const auto& v) {
          using V = std::decay_t<decltype(v)>;
          if constexpr (Element<V>) {
            put_element(v);
          } else {
            using E = typename V::value_type;
            put<uint32_t>(uint32_t(ValueTypeOf<E>::value));
            put<uint64_t>(v.size());
            for (const auto& item : v) put_element<E>(item);
          }
        },
        value.storage());
  }
  void pad_to(uint64_t alignment) { out_.resize(align_up(out_.size(), alignment), std::byte{0}); }
  std::vector<std::byte>& bytes() { return out_; }

 private:
  std::vector<std::byte> out_;
};

[[noreturn]] void raise_invalid(const std::string& message) {
  raise(ErrorCode::InvalidArgument, message);
}

}  // namespace

GgufWriter::GgufWriter(uint32_t alignment) : alignment_(alignment) {
  if (alignment == 0 || (alignment & (alignment - 1)) != 0)
    raise_invalid("GGUF alignment " + std::to_string(alignment) + " is not a power of two");
}

void GgufWriter::add(std::string key, Value value) {
  if (key.empty()) raise_invalid("GGUF metadata key is empty");
  if (key == kAlignmentKey)
    raise_invalid("set '" + std::string(kAlignmentKey) +
                  "' through the GgufWriter constructor, not as metadata");
  if (metadata_index_.contains(key)) raise_invalid("duplicate GGUF metadata key '" + key + "'");
  metadata_index_.emplace(key, metadata_.size());
  metadata_.push_back({std::move(key), std::move(value)});
}

void GgufWriter::add_tensor(std::string name, DType dtype, std::vector<uint64_t> dims,
                            std::span<const std::byte> data) {
  const std::string where = "GGUF tensor '" + name + "'";
  if (name.empty()) raise_invalid("GGUF tensor name is empty");
  if (tensor_index_.contains(name)) raise_invalid("duplicate " + where);
  const DTypeInfo* info = dtype_info_from_id(uint32_t(dtype));
  if (!info)
    raise_invalid(where + " has dtype " + std::string(dtype_name(dtype)) +
                  ", which is not a GGUF tensor type");
  if (dims.empty() || dims.size() > kMaxDims)
    raise_invalid(where + " has " + std::to_string(dims.size()) + " dims, expected 1 to " +
                  std::to_string(kMaxDims));
  uint64_t n_elements = 1;
  for (uint64_t d : dims) {
    if (d == 0) raise_invalid(where + " has a zero dimension");
    if (__builtin_mul_overflow(n_elements, d, &n_elements))
      raise_invalid(where + " has an element count that overflows");
  }
  if (dims[0] % info->block_elems != 0)
    raise_invalid(where + " has rows of " + std::to_string(dims[0]) + " elements, not whole " +
                  std::string(info->name) + " blocks of " + std::to_string(info->block_elems));
  uint64_t n_bytes = dtype_bytes(dtype, n_elements);
  if (data.size() != n_bytes)
    raise_invalid(where + " needs " + std::to_string(n_bytes) + " bytes of " +
                  std::string(info->name) + " but got " + std::to_string(data.size()));
  tensor_index_.emplace(name, tensors_.size());
  tensors_.push_back({std::move(name), dtype, std::move(dims),
                      std::vector<std::byte>(data.begin(), data.end()), data_size_});
  data_size_ += align_up(n_bytes, alignment_);
}

std::vector<std::byte> GgufWriter::header_bytes() const {
  const bool record_alignment = alignment_ != kDefaultAlignment;
  Encoder e;
  e.put<uint32_t>(kMagic);
  e.put<uint32_t>(kWriteVersion);
  e.put<uint64_t>(tensors_.size());
  e.put<uint64_t>(metadata_.size() + (record_alignment ? 1 : 0));
  if (record_alignment) {
    e.put_string(std::string(kAlignmentKey));
    e.put_value(Value(alignment_));
  }
  for (const MetadataEntry& m : metadata_) {
    e.put_string(m.key);
    e.put_value(m.value);
  }
  for (const PendingTensor& t : tensors_) {
    e.put_string(t.name);
    e.put<uint32_t>(uint32_t(t.dims.size()));
    for (uint64_t d : t.dims) e.put<uint64_t>(d);
    e.put<uint32_t>(uint32_t(t.dtype));
    e.put<uint64_t>(t.offset);
  }
  e.pad_to(alignment_);
  return std::move(e.bytes());
}

void GgufWriter::emit(const std::function<void(std::span<const std::byte>)>& sink) const {
  sink(header_bytes());
  const std::vector<std::byte> padding(alignment_, std::byte{0});
  for (const PendingTensor& t : tensors_) {
    sink(t.data);
    uint64_t pad = align_up(t.data.size(), alignment_) - t.data.size();
    sink(std::span<const std::byte>(padding).first(pad));
  }
}

uint64_t GgufWriter::file_size() const {
  return header_bytes().size() + data_size_;
}

std::vector<std::byte> GgufWriter::to_bytes() const {
  std::vector<std::byte> out;
  emit(
      [&](std::span<const std::byte> chunk) { out.insert(out.end(), chunk.begin(), chunk.end()); });
  return out;
}

void GgufWriter::write(const std::filesystem::path& path) const {
  auto close = [](std::FILE* f) { std::fclose(f); };
  std::unique_ptr<std::FILE, decltype(close)> file(std::fopen(path.c_str(), "wb"), close);
  if (!file) raise(ErrorCode::Io, "cannot create '" + path.string() + "': " + std::strerror(errno));
  emit([&](std::span<const std::byte> chunk) {
    if (!chunk.empty() && std::fwrite(chunk.data(), 1, chunk.size(), file.get()) != chunk.size())
      raise(ErrorCode::Io, "cannot write '" + path.string() + "': " + std::strerror(errno));
  });
  if (std::fclose(file.release()) != 0)
    raise(ErrorCode::Io, "cannot finish writing '" + path.string() + "': " + std::strerror(errno));
}

}  // namespace stagefence::gguf
