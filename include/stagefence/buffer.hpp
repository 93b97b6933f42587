// Buffers: a typed view (offset, length, dtype, shape) over one reference-counted allocation.
#pragma once
#include <cstdint>
#include <memory>
#include <vector>

#include "stagefence/dtype.hpp"

namespace stagefence {

struct Allocation;  // defined in src/core; owns device memory and returns it to the pool

enum class Access : uint8_t { Read = 1, Write = 2, ReadWrite = 3 };
const char* access_name(Access a);

inline constexpr uint64_t kWholeRange = ~uint64_t(0);

class Buffer {
 public:
  Buffer() = default;
  Buffer(std::shared_ptr<Allocation> alloc, uint64_t offset, uint64_t length, DType dtype,
         std::vector<int64_t> shape);

  bool valid() const { return alloc_ != nullptr; }
  explicit operator bool() const { return valid(); }

  uint64_t size() const { return length_; }    // bytes in this view
  uint64_t offset() const { return offset_; }  // byte offset of this view in its allocation
  DType dtype() const { return dtype_; }
  const std::vector<int64_t>& shape() const { return shape_; }
  uint64_t elements() const;  // product of shape (or bytes / element size)

  // A view of [offset, offset+length) of this view; shares the allocation. Throws OutOfRange.
  Buffer view(uint64_t offset, uint64_t length) const;
  // The same bytes read as another dtype and shape; throws InvalidArgument if the sizes differ.
  Buffer as(DType dtype, std::vector<int64_t> shape) const;

  uint64_t allocation_id() const;
  uint64_t allocation_size() const;
  // Device address of the view's first byte (host address on the CPU backend).
  void* device_ptr() const;
  // Host address for zero-copy access on the CPU backend; nullptr on discrete GPUs.
  void* host_ptr() const;

  // Synchronous host copies. They are not ordered against committed command buffers: wait for
  // the buffers that write this memory before reading it, as with Metal's shared storage.
  void upload(const void* src, uint64_t bytes, uint64_t offset = 0) const;
  void download(void* dst, uint64_t bytes, uint64_t offset = 0) const;
  template <typename T>
  void upload(const std::vector<T>& v, uint64_t offset = 0) const {
    upload(v.data(), v.size() * sizeof(T), offset);
  }
  template <typename T>
  std::vector<T> to_vector() const {
    std::vector<T> v(length_ / sizeof(T));
    download(v.data(), v.size() * sizeof(T));
    return v;
  }

  const std::shared_ptr<Allocation>& allocation() const { return alloc_; }

 private:
  std::shared_ptr<Allocation> alloc_;
  uint64_t offset_ = 0;
  uint64_t length_ = 0;
  DType dtype_ = DType::U8;
  std::vector<int64_t> shape_;
};

// One buffer argument of a dispatch: which bytes it touches and how.
struct Binding {
  Buffer buffer;
  Access access = Access::Read;
  uint64_t offset = 0;            // relative to the view
  uint64_t length = kWholeRange;  // kWholeRange: to the end of the view
};

inline Binding reads(const Buffer& b, uint64_t off = 0, uint64_t len = kWholeRange) {
  return {b, Access::Read, off, len};
}
inline Binding writes(const Buffer& b, uint64_t off = 0, uint64_t len = kWholeRange) {
  return {b, Access::Write, off, len};
}
inline Binding reads_writes(const Buffer& b, uint64_t off = 0, uint64_t len = kWholeRange) {
  return {b, Access::ReadWrite, off, len};
}

}  // namespace stagefence
