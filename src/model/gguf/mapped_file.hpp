// A read-only memory mapping of a whole file, unmapped on destruction.
#pragma once
#include <cstddef>
#include <filesystem>
#include <span>

namespace stagefence::gguf {

class MappedFile {
 public:
  // Throws Error(Io) naming the path and the system's reason when the file cannot be mapped.
  explicit MappedFile(const std::filesystem::path& path);
  ~MappedFile();
  MappedFile(const MappedFile&) = delete;
  MappedFile& operator=(const MappedFile&) = delete;

  // Empty for an empty file (which is not mapped at all).
  std::span<const std::byte> bytes() const { return {static_cast<const std::byte*>(addr_), size_}; }

 private:
  void* addr_ = nullptr;
  size_t size_ = 0;
};

}  // namespace stagefence::gguf
