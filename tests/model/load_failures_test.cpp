// Failures while a model loads become errors that name their cause (issue 15, items 5 and 6): a
// mapped file truncated under the load (SIGBUS) names the file, and memory that cannot be had
// names what was being allocated and how many bytes, instead of std::bad_alloc or a crash.
#include <fcntl.h>
#include <gtest/gtest.h>
#include <signal.h>
#include <unistd.h>

#include <cstdint>
#include <filesystem>
#include <string>

#include "llama_test_model.hpp"
#include "model/gguf/mapped_copy.hpp"
#include "model/llama/model.hpp"

namespace {

using namespace llama_test;
namespace llama = sf::llama;
namespace fs = std::filesystem;

void expect_contains(const std::string& message, const std::string& needle) {
  EXPECT_NE(message.find(needle), std::string::npos)
      << "'" << needle << "' not in: '" << message << "'";
}

// A handler a test installs to see that the loader puts it back.
void sentinel_handler(int) {}

class TempModelFile {
 public:
  TempModelFile() {
    path_ = fs::temp_directory_path() /
            ("stagefence-truncated-" + std::to_string(::getpid()) + ".gguf");
    sf::gguf::GgufWriter w;
    sf::llama::add_random_model(w, tiny_llama(), WeightTypes::all(sf::DType::F32), 7);
    w.write(path_);
  }
  ~TempModelFile() { fs::remove(path_); }
  const fs::path& path() const { return path_; }

 private:
  fs::path path_;
};

TEST(LoadFailures, FileTruncatedWhileMappedIsAnIoErrorNamingIt) {
  const TempModelFile model;
  const sf::gguf::GgufFile file = sf::gguf::GgufFile::open(model.path());
  ASSERT_TRUE(file.mapped());
  // Keep the header and the first tensors; every page past the new end faults on access.
  const uint64_t keep = (file.data_offset() + 8192) / 4096 * 4096;
  ASSERT_LT(keep + 4096, file.bytes().size());
  ASSERT_EQ(::truncate(model.path().c_str(), off_t(keep)), 0);

  struct sigaction sentinel {
  }, before{}, after{};
  sentinel.sa_handler = sentinel_handler;
  sigemptyset(&sentinel.sa_mask);
  ASSERT_EQ(sigaction(SIGBUS, &sentinel, &before), 0);
  sf::Device dev = sf::Device::open({sf::BackendKind::Cpu});
  const uint64_t live = sf::counters::snapshot().live_allocations;
  try {
    llama::load_model(dev, file);
    ADD_FAILURE() << "a load past the truncated end succeeded";
  } catch (const sf::Error& e) {
    EXPECT_EQ(e.code(), sf::ErrorCode::Io) << e.what();
    expect_contains(e.what(), model.path().string());
    expect_contains(e.what(), "SIGBUS");
    expect_contains(e.what(), "truncated");
  }
  EXPECT_EQ(sf::counters::snapshot().live_allocations, live);  // nothing half-loaded is kept
  ASSERT_EQ(sigaction(SIGBUS, &before, &after), 0);
  EXPECT_EQ(after.sa_handler, &sentinel_handler) << "the previous SIGBUS handler was not restored";
}

TEST(LoadFailures, CopyOutOfAnIntactMappingMatchesTheFile) {
  const TempModelFile model;
  const sf::gguf::GgufFile file = sf::gguf::GgufFile::open(model.path());
  const sf::gguf::TensorView& t = file.tensor("blk.1.ffn_down.weight");
  const std::vector<uint8_t> copied = sf::gguf::read_tensor(file, t);
  ASSERT_EQ(copied.size(), t.n_bytes);
  EXPECT_EQ(std::memcmp(copied.data(), t.data, copied.size()), 0);
  // A range outside the file is refused, not read.
  std::vector<uint8_t> out(16);
  EXPECT_THROW(
      sf::gguf::copy_out(file, file.bytes().data() + file.bytes().size() - 8, 16, out.data()),
      sf::Error);
}

TEST(LoadFailures, HostMemoryThatCannotBeHadNamesWhatAndHowMuch) {
  const uint64_t absurd = uint64_t(1) << 62;
  try {
    sf::gguf::host_bytes(absurd, "tensor blk.0.attn_q.weight");
    ADD_FAILURE() << "4 EiB of host memory were allocated";
  } catch (const sf::Error& e) {
    EXPECT_EQ(e.code(), sf::ErrorCode::OutOfRange) << e.what();
    expect_contains(e.what(), std::to_string(absurd) + " bytes");
    expect_contains(e.what(), "tensor blk.0.attn_q.weight");
  }
}

TEST(LoadFailures, DeviceAllocationBeyondTheDeviceNamesTheBytes) {
  sf::Device dev = sf::Device::open({sf::BackendKind::Cpu});
  const uint64_t live = sf::counters::snapshot().live_allocations;
  for (const uint64_t bytes : {uint64_t(1) << 62, ~uint64_t(0) - 5}) {
    try {
      dev.alloc(bytes);
      ADD_FAILURE() << bytes << " bytes were allocated";
    } catch (const sf::Error& e) {
      EXPECT_EQ(e.code(), sf::ErrorCode::OutOfRange) << e.what();
      expect_contains(e.what(), std::to_string(bytes) + " bytes");
      expect_contains(e.what(), "of memory");
    }
  }
  EXPECT_THROW(dev.alloc(sf::DType::F32, {int64_t(1) << 40, int64_t(1) << 40}), sf::Error);
  EXPECT_EQ(sf::counters::snapshot().live_allocations, live);
}

}  // namespace
