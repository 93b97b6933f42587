#include "stagefence/buffer.hpp"

#include <cstdint>
#include <string>

#include "core/allocation.hpp"
#include "core/backend.hpp"
#include "stagefence/error.hpp"

namespace stagefence {

const char* access_name(Access a) {
  switch (a) {
    case Access::Read:
      return "read";
    case Access::Write:
      return "write";
    case Access::ReadWrite:
      return "read-write";
  }
  return "?";
}

Buffer::Buffer(std::shared_ptr<Allocation> alloc, uint64_t offset, uint64_t length, DType dtype,
               std::vector<int64_t> shape)
    : alloc_(std::move(alloc)),
      offset_(offset),
      length_(length),
      dtype_(dtype),
      shape_(std::move(shape)) {}

uint64_t Buffer::elements() const {
  if (!shape_.empty()) {
    uint64_t n = 1;
    for (int64_t d : shape_) n *= static_cast<uint64_t>(d);
    return n;
  }
  const DTypeInfo* info = dtype_info(dtype_);
  return info ? length_ / info->block_bytes * info->block_elems : length_;
}

static void require_valid(const Buffer& b, const char* what) {
  if (!b.valid()) raise(ErrorCode::InvalidArgument, std::string(what) + " on an empty Buffer");
}

Buffer Buffer::view(uint64_t offset, uint64_t length) const {
  require_valid(*this, "view");
  if (offset > length_ || length > length_ - offset)
    raise(ErrorCode::OutOfRange, "view [" + std::to_string(offset) + ", +" +
                                     std::to_string(length) + ") lies outside a buffer of " +
                                     std::to_string(length_) + " bytes");
  return Buffer(alloc_, offset_ + offset, length, DType::U8, {});
}

Buffer Buffer::as(DType dtype, std::vector<int64_t> shape) const {
  require_valid(*this, "as");
  uint64_t elems = 1;
  for (int64_t d : shape) {
    if (d <= 0) raise(ErrorCode::InvalidArgument, "shape dimensions must be positive");
    elems *= static_cast<uint64_t>(d);
  }
  const uint64_t bytes = dtype_bytes(dtype, elems);
  if (bytes != length_)
    raise(ErrorCode::InvalidArgument, "shape needs " + std::to_string(bytes) + " bytes of " +
                                          std::string(dtype_name(dtype)) + " but the view has " +
                                          std::to_string(length_));
  return Buffer(alloc_, offset_, length_, dtype, std::move(shape));
}

uint64_t Buffer::allocation_id() const {
  return alloc_ ? alloc_->id : 0;
}
uint64_t Buffer::allocation_size() const {
  return alloc_ ? alloc_->size : 0;
}
void* Buffer::device_ptr() const {
  return alloc_ ? static_cast<char*>(alloc_->ptr) + offset_ : nullptr;
}
void* Buffer::host_ptr() const {
  return alloc_ && alloc_->pool->backend().host_visible() ? device_ptr() : nullptr;
}

static void check_copy(const Buffer& b, uint64_t bytes, uint64_t offset, const char* what) {
  require_valid(b, what);
  if (offset > b.size() || bytes > b.size() - offset)
    raise(ErrorCode::OutOfRange, std::string(what) + " of " + std::to_string(bytes) +
                                     " bytes at offset " + std::to_string(offset) +
                                     " exceeds a buffer of " + std::to_string(b.size()) + " bytes");
}

void Buffer::upload(const void* src, uint64_t bytes, uint64_t offset) const {
  check_copy(*this, bytes, offset, "upload");
  if (bytes) alloc_->pool->backend().copy_in(static_cast<char*>(device_ptr()) + offset, src, bytes);
}

void Buffer::download(void* dst, uint64_t bytes, uint64_t offset) const {
  check_copy(*this, bytes, offset, "download");
  if (bytes)
    alloc_->pool->backend().copy_out(dst, static_cast<char*>(device_ptr()) + offset, bytes);
}

}  // namespace stagefence
