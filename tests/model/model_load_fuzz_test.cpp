// The model-loading fuzz target's regression test: its seeds (fuzz/model_seeds.hpp) and every
// file it found and kept (fuzz/corpus/model_load/) go through the same body as the fuzzer
// (fuzz/model_load_target.hpp) on a CPU device: each loads or is rejected with a Format error.
#include <gtest/gtest.h>

#include <chrono>
#include <filesystem>
#include <fstream>
#include <iterator>
#include <string>

#include "model_load_target.hpp"
#include "model_seeds.hpp"

namespace {

namespace sf = stagefence;
using sf::fuzzing::LoadOutcome;

TEST(ModelLoadFuzz, SeedsLoadOrAreRejectedQuickly) {
  sf::Device dev = sf::Device::open({sf::BackendKind::Cpu});
  int loaded = 0;
  for (const auto& [name, bytes] : sf::fuzzing::model_seeds()) {
    SCOPED_TRACE(name);
    const auto start = std::chrono::steady_clock::now();
    const LoadOutcome outcome = sf::fuzzing::load_model_bytes(dev, bytes);
    EXPECT_LT(std::chrono::steady_clock::now() - start, std::chrono::seconds(2));
    // The unmodified models load, and so does a long context (only a forward pass is bounded by
    // memory); every other changed count or size is rejected.
    const bool changed =
        (name.find("_length_") != std::string::npos || name.find("_count_") != std::string::npos) &&
        name.find("context_length") == std::string::npos;
    EXPECT_EQ(outcome, changed ? LoadOutcome::Rejected : LoadOutcome::Loaded);
    loaded += outcome == LoadOutcome::Loaded;
  }
  EXPECT_EQ(loaded, 12);  // 3 families x 3 types, and the 3 long contexts
}

TEST(ModelLoadFuzz, KeptFindingsLoadOrAreRejected) {
  const std::filesystem::path dir =
      std::filesystem::path(STAGEFENCE_SOURCE_DIR) / "fuzz" / "corpus" / "model_load";
  ASSERT_TRUE(std::filesystem::is_directory(dir)) << dir;
  sf::Device dev = sf::Device::open({sf::BackendKind::Cpu});
  int files = 0;
  for (const auto& entry : std::filesystem::directory_iterator(dir)) {
    if (!entry.is_regular_file()) continue;
    SCOPED_TRACE(entry.path().filename().string());
    std::ifstream in(entry.path(), std::ios::binary);
    const std::string raw((std::istreambuf_iterator<char>(in)), std::istreambuf_iterator<char>());
    const auto* begin = reinterpret_cast<const std::byte*>(raw.data());
    EXPECT_NO_THROW(sf::fuzzing::load_model_bytes(dev, {begin, raw.size()}));
    ++files;
  }
  EXPECT_GT(files, 0);
}

}  // namespace
