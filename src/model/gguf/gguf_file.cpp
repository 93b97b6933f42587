#include "model/gguf/gguf_file.hpp"

#include <algorithm>
#include <cstdint>
#include <cstdio>
#include <cstring>
#include <limits>
#include <numeric>
#include <utility>

#include "model/gguf/gguf_format.hpp"
#include "model/gguf/mapped_file.hpp"

namespace stagefence::gguf {
namespace {

[[noreturn]] void raise_format(const std::string& message) {
  raise(ErrorCode::Format, message);
}

std::string in_quotes(std::string_view s) {
  return "'" + std::string(s) + "'";
}

// Bounds-checked little-endian reads over the file; every failure names the offset.
class Cursor {
 public:
  explicit Cursor(std::span<const std::byte> bytes) : bytes_(bytes) {}

  uint64_t offset() const { return offset_; }
  uint64_t remaining() const { return bytes_.size() - offset_; }

  // `what` is a callable naming the field; it runs only to build an error message.
  template <typename T, typename Describe>
  T read(Describe&& what) {
    static_assert(std::is_trivially_copyable_v<T>);
    if (remaining() < sizeof(T))
      raise_format("file ends at offset " + std::to_string(bytes_.size()) + " while reading " +
                   std::string(what()) + " (" + std::to_string(sizeof(T)) + " bytes at offset " +
                   std::to_string(offset_) + ")");
    T v;
    std::memcpy(&v, bytes_.data() + offset_, sizeof(T));
    offset_ += sizeof(T);
    return v;
  }

  template <typename Describe>
  std::string read_string(Describe&& what) {
    uint64_t at = offset_;
    uint64_t length = read<uint64_t>(what);
    if (length > remaining())
      raise_format("string length " + std::to_string(length) + " at offset " + std::to_string(at) +
                   " exceeds the " + std::to_string(remaining()) + " bytes remaining (" +
                   std::string(what()) + ")");
    std::string s(reinterpret_cast<const char*>(bytes_.data() + offset_), length);
    offset_ += length;
    return s;
  }

 private:
  std::span<const std::byte> bytes_;
  uint64_t offset_ = 0;
};

// Calls f(T{}) with T the C++ element type of `t` (not Array).
template <typename F>
decltype(auto) with_element_type(ValueType t, F&& f) {
  switch (t) {
    case ValueType::U8:
      return f(uint8_t{});
    case ValueType::I8:
      return f(int8_t{});
    case ValueType::U16:
      return f(uint16_t{});
    case ValueType::I16:
      return f(int16_t{});
    case ValueType::U32:
      return f(uint32_t{});
    case ValueType::I32:
      return f(int32_t{});
    case ValueType::F32:
      return f(float{});
    case ValueType::Bool:
      return f(bool{});
    case ValueType::String:
      return f(std::string{});
    case ValueType::U64:
      return f(uint64_t{});
    case ValueType::I64:
      return f(int64_t{});
    case ValueType::F64:
      return f(double{});
    case ValueType::Array:
      break;
  }
  raise(ErrorCode::Internal, "with_element_type called with a non-element type");
}

template <Element T>
T read_element(Cursor& c, std::string_view key) {
  if constexpr (std::is_same_v<T, std::string>) {
    return c.read_string([&] { return "string value of metadata key " + in_quotes(key); });
  } else if constexpr (std::is_same_v<T, bool>) {
    uint64_t at = c.offset();
    uint8_t b = c.read<uint8_t>([&] { return "bool value of metadata key " + in_quotes(key); });
    if (b > 1)
      raise_format("bool value " + std::to_string(b) + " at offset " + std::to_string(at) +
                   " of metadata key " + in_quotes(key) + " is neither 0 nor 1");
    return b == 1;
  } else {
    return c.read<T>([&] { return "value of metadata key " + in_quotes(key); });
  }
}

// Smallest encoding of one element, to bound array counts by the bytes that remain.
uint64_t min_element_bytes(ValueType t) {
  return with_element_type(t, [](auto v) -> uint64_t {
    if constexpr (std::is_same_v<decltype(v), std::string>) {
      return sizeof(uint64_t);
    } else {
      return sizeof(v);
    }
  });
}

ValueType read_value_type(Cursor& c, std::string_view key, std::string_view role) {
  uint64_t at = c.offset();
  uint32_t id = c.read<uint32_t>([&] { return "value type of metadata key " + in_quotes(key); });
  if (!is_known_value_type(id))
    raise_format("unknown metadata " + std::string(role) + " type " + std::to_string(id) +
                 " at offset " + std::to_string(at) + " for key " + in_quotes(key));
  return static_cast<ValueType>(id);
}

Value read_value(Cursor& c, std::string_view key) {
  ValueType type = read_value_type(c, key, "value");
  if (type != ValueType::Array) {
    return with_element_type(type,
                             [&](auto v) { return Value(read_element<decltype(v)>(c, key)); });
  }
  uint64_t type_at = c.offset();
  ValueType element = read_value_type(c, key, "array element");
  if (element == ValueType::Array)
    raise_format("nested array at offset " + std::to_string(type_at) + " for key " +
                 in_quotes(key) + " is not supported");
  uint64_t count_at = c.offset();
  uint64_t count =
      c.read<uint64_t>([&] { return "array length of metadata key " + in_quotes(key); });
  if (count > c.remaining() / min_element_bytes(element))
    raise_format("array of " + std::to_string(count) + " " + std::string(value_type_name(element)) +
                 " elements at offset " + std::to_string(count_at) + " for key " + in_quotes(key) +
                 " cannot fit in the " + std::to_string(c.remaining()) + " bytes remaining");
  return with_element_type(element, [&](auto v) {
    using E = decltype(v);
    std::vector<E> items;
    items.reserve(count);
    for (uint64_t i = 0; i < count; ++i) items.push_back(read_element<E>(c, key));
    return Value(std::move(items));
  });
}

std::string dims_text(const std::vector<uint64_t>& dims) {
  std::string s = "[";
  for (size_t i = 0; i < dims.size(); ++i) s += (i ? ", " : "") + std::to_string(dims[i]);
  return s + "]";
}

uint32_t alignment_from(const Value* v) {
  if (!v) return kDefaultAlignment;
  const uint32_t* a = v->get_if<uint32_t>();
  if (!a)
    raise_format("metadata key " + in_quotes(kAlignmentKey) + " is " + v->type_name() +
                 ", expected u32");
  if (*a == 0 || (*a & (*a - 1)) != 0)
    raise_format("metadata key " + in_quotes(kAlignmentKey) + " is " + std::to_string(*a) +
                 ", which is not a power of two");
  // Real files align to 32 bytes, some to a page; a larger value only makes padding (a fuzzed
  // 1 GiB alignment made rewriting the file allocate 1 GiB).
  constexpr uint32_t kMaxAlignment = 1u << 16;
  if (*a > kMaxAlignment)
    raise_format("metadata key " + in_quotes(kAlignmentKey) + " is " + std::to_string(*a) +
                 ", larger than the " + std::to_string(kMaxAlignment) + " this reader accepts");
  return *a;
}

}  // namespace

GgufFile GgufFile::open(const std::filesystem::path& path) {
  auto mapping = std::make_unique<MappedFile>(path);
  std::span<const std::byte> bytes = mapping->bytes();
  try {
    GgufFile file(std::move(mapping), {}, bytes);
    file.source_ = path.string();
    return file;
  } catch (const Error& e) {
    if (e.code() != ErrorCode::Format) throw;
    // Name the file: the parser only knows offsets.
    std::string what = e.what();
    std::string prefix = std::string(error_code_name(ErrorCode::Format)) + ": ";
    if (what.starts_with(prefix)) what.erase(0, prefix.size());
    raise(ErrorCode::Format, path.string() + ": " + what);
  }
}

GgufFile GgufFile::from_memory(std::span<const std::byte> bytes) {
  return GgufFile(nullptr, {}, bytes);
}

GgufFile GgufFile::from_bytes(std::vector<std::byte> bytes) {
  std::span<const std::byte> view(bytes);  // a moved vector keeps its buffer
  return GgufFile(nullptr, std::move(bytes), view);
}

GgufFile::GgufFile(std::unique_ptr<MappedFile> mapping, std::vector<std::byte> owned,
                   std::span<const std::byte> bytes)
    : mapping_(std::move(mapping)), owned_(std::move(owned)), bytes_(bytes) {
  parse();
}

GgufFile::GgufFile(GgufFile&&) noexcept = default;
GgufFile& GgufFile::operator=(GgufFile&&) noexcept = default;
GgufFile::~GgufFile() = default;

void GgufFile::parse() {
  const uint64_t file_size = bytes_.size();
  if (file_size < kHeaderBytes)
    raise_format("file is " + std::to_string(file_size) + " bytes, shorter than the " +
                 std::to_string(kHeaderBytes) + "-byte GGUF header");
  Cursor c(bytes_);

  uint32_t magic = c.read<uint32_t>([] { return "magic"; });
  if (magic != kMagic) {
    std::string shown;
    for (int i = 0; i < 4; ++i) {
      char ch = static_cast<char>(bytes_[i]);
      if (ch >= 0x20 && ch < 0x7f) {
        shown += ch;
      } else {
        char hex[8];
        std::snprintf(hex, sizeof hex, "\\x%02x", unsigned(uint8_t(ch)));
        shown += hex;
      }
    }
    raise_format("bad magic \"" + shown + "\" at offset 0, expected \"GGUF\"");
  }
  version_ = c.read<uint32_t>([] { return "version"; });
  if (version_ < kMinVersion || version_ > kMaxVersion) {
    uint32_t swapped = __builtin_bswap32(version_);
    raise_format("unsupported GGUF version " + std::to_string(version_) +
                 " at offset 4 (supported: 2 and 3)" +
                 (swapped >= kMinVersion && swapped <= kMaxVersion ? "; a big-endian file?" : ""));
  }
  uint64_t n_tensors = c.read<uint64_t>([] { return "tensor count"; });
  uint64_t n_metadata = c.read<uint64_t>([] { return "metadata count"; });
  // Each entry needs some minimum number of bytes, so a count the file cannot hold is rejected
  // before anything is reserved for it.
  if (n_metadata > c.remaining() / kMinMetadataBytes)
    raise_format("metadata count " + std::to_string(n_metadata) +
                 " at offset 16 cannot fit in the " + std::to_string(c.remaining()) +
                 " bytes after the header");
  if (n_tensors > c.remaining() / kMinTensorInfoBytes)
    raise_format("tensor count " + std::to_string(n_tensors) + " at offset 8 cannot fit in the " +
                 std::to_string(c.remaining()) + " bytes after the header");

  metadata_.reserve(n_metadata);
  for (uint64_t i = 0; i < n_metadata; ++i) {
    uint64_t at = c.offset();
    std::string key = c.read_string([&] { return "key of metadata entry " + std::to_string(i); });
    if (key.empty()) raise_format("empty metadata key at offset " + std::to_string(at));
    if (metadata_index_.contains(key))
      raise_format("duplicate metadata key " + in_quotes(key) + " at offset " + std::to_string(at));
    Value value = read_value(c, key);
    metadata_index_.emplace(key, metadata_.size());
    metadata_.push_back({std::move(key), std::move(value)});
  }
  alignment_ = alignment_from(find(kAlignmentKey));

  if (n_tensors > c.remaining() / kMinTensorInfoBytes)
    raise_format("tensor count " + std::to_string(n_tensors) + " at offset 8 cannot fit in the " +
                 std::to_string(c.remaining()) + " bytes after the metadata");
  tensors_.reserve(n_tensors);
  for (uint64_t i = 0; i < n_tensors; ++i) {
    uint64_t at = c.offset();
    std::string name = c.read_string([&] { return "name of tensor " + std::to_string(i); });
    if (name.empty()) raise_format("empty tensor name at offset " + std::to_string(at));
    if (tensor_index_.contains(name))
      raise_format("duplicate tensor name " + in_quotes(name) + " at offset " + std::to_string(at));
    const std::string where =
        "tensor " + in_quotes(name) + " (info at offset " + std::to_string(at) + ")";

    uint32_t n_dims = c.read<uint32_t>([&] { return "n_dims of " + where; });
    if (n_dims == 0 || n_dims > kMaxDims)
      raise_format(where + " has n_dims " + std::to_string(n_dims) + ", expected 1 to " +
                   std::to_string(kMaxDims));
    std::vector<uint64_t> dims(n_dims);
    uint64_t n_elements = 1;
    for (uint32_t d = 0; d < n_dims; ++d) {
      dims[d] = c.read<uint64_t>([&] { return "a dimension of " + where; });
      if (dims[d] == 0) raise_format(where + " has dimension " + std::to_string(d) + " equal to 0");
      if (__builtin_mul_overflow(n_elements, dims[d], &n_elements) ||
          n_elements > uint64_t(std::numeric_limits<int64_t>::max()))
        raise_format(where + " has dims " + dims_text(dims) + " whose element count overflows");
    }

    uint32_t type_id = c.read<uint32_t>([&] { return "type of " + where; });
    const DTypeInfo* info = dtype_info_from_id(type_id);
    if (!info) raise_format(where + " has unknown ggml type id " + std::to_string(type_id));
    // Rows must be whole blocks (which makes the element count whole blocks too).
    if (dims[0] % info->block_elems != 0)
      raise_format(where + " has " + std::to_string(n_elements) + " elements in rows of " +
                   std::to_string(dims[0]) + ", not a whole number of " + std::string(info->name) +
                   " blocks of " + std::to_string(info->block_elems));
    uint64_t n_bytes = 0;
    if (__builtin_mul_overflow(n_elements / info->block_elems, uint64_t(info->block_bytes),
                               &n_bytes))
      raise_format(where + " has dims " + dims_text(dims) + " whose byte size overflows");

    uint64_t offset = c.read<uint64_t>([&] { return "data offset of " + where; });
    if (offset % alignment_ != 0)
      raise_format(where + " has data offset " + std::to_string(offset) +
                   ", not a multiple of the alignment " + std::to_string(alignment_));
    tensor_index_.emplace(name, tensors_.size());
    tensors_.push_back(
        {std::move(name), info->type, std::move(dims), offset, n_elements, n_bytes, nullptr});
  }

  // The data section starts at the next multiple of the alignment; c.offset() <= file_size, so
  // this cannot overflow.
  data_offset_ = (c.offset() + alignment_ - 1) / alignment_ * alignment_;
  if (!tensors_.empty() && data_offset_ > file_size)
    raise_format("data section at offset " + std::to_string(data_offset_) +
                 " starts past the end of the " + std::to_string(file_size) + "-byte file");
  const uint64_t data_size = tensors_.empty() ? 0 : file_size - data_offset_;
  for (TensorView& t : tensors_) {
    if (t.offset > data_size || t.n_bytes > data_size - t.offset)
      raise_format("tensor " + in_quotes(t.name) + " data [" + std::to_string(t.offset) + ", " +
                   std::to_string(t.offset) + " + " + std::to_string(t.n_bytes) +
                   ") lies outside the file: the data section holds " + std::to_string(data_size) +
                   " bytes");
    t.data = bytes_.data() + data_offset_ + t.offset;
  }

  std::vector<size_t> order(tensors_.size());
  std::iota(order.begin(), order.end(), size_t{0});
  std::sort(order.begin(), order.end(),
            [&](size_t a, size_t b) { return tensors_[a].offset < tensors_[b].offset; });
  for (size_t i = 1; i < order.size(); ++i) {
    const TensorView& prev = tensors_[order[i - 1]];
    const TensorView& cur = tensors_[order[i]];
    if (prev.offset + prev.n_bytes > cur.offset)
      raise_format("tensors " + in_quotes(prev.name) + " [" + std::to_string(prev.offset) + ", " +
                   std::to_string(prev.offset + prev.n_bytes) + ") and " + in_quotes(cur.name) +
                   " [" + std::to_string(cur.offset) + ", " +
                   std::to_string(cur.offset + cur.n_bytes) + ") overlap in the data section");
  }
}

const Value* GgufFile::find(std::string_view key) const {
  auto it = metadata_index_.find(key);
  return it == metadata_index_.end() ? nullptr : &metadata_[it->second].value;
}

const Value& GgufFile::value(std::string_view key) const {
  const Value* v = find(key);
  if (!v) raise_format("metadata key " + in_quotes(key) + " is missing");
  return *v;
}

void GgufFile::raise_wrong_type(std::string_view key, const Value& v, const std::string& expected) {
  raise_format("metadata key " + in_quotes(key) + " is " + v.type_name() + ", expected " +
               expected);
}

const TensorView* GgufFile::find_tensor(std::string_view name) const {
  auto it = tensor_index_.find(name);
  return it == tensor_index_.end() ? nullptr : &tensors_[it->second];
}

const TensorView& GgufFile::tensor(std::string_view name) const {
  const TensorView* t = find_tensor(name);
  if (!t) raise_format("tensor " + in_quotes(name) + " is missing");
  return *t;
}

}  // namespace stagefence::gguf
