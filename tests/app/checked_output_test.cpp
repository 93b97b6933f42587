// Output files: refused when they are an input, written whole by rename, nothing left behind
// on failure.
#include "checked_output.hpp"

#include <gtest/gtest.h>
#include <unistd.h>

#include <filesystem>
#include <fstream>

#include "stagefence/error.hpp"

namespace stagefence::cli {
namespace {

namespace fs = std::filesystem;

fs::path scratch_dir() {
  const fs::path dir = fs::temp_directory_path() / ("sf_out_" + std::to_string(::getpid()));
  fs::remove_all(dir);
  fs::create_directories(dir);
  return dir;
}

TEST(OutputFile, RefusesAnInputAndAnEmptyPath) {
  const fs::path dir = scratch_dir();
  const fs::path model = dir / "model.gguf";
  std::ofstream(model) << "weights";
  EXPECT_THROW(OutputFile("--trace", model.string(), {model}), Error);
  EXPECT_THROW(OutputFile("--trace", (dir / "." / "model.gguf").string(), {model}), Error);
  EXPECT_THROW(OutputFile("--trace", "", {}), Error);
  std::ifstream in(model);
  std::string kept;
  in >> kept;
  EXPECT_EQ(kept, "weights");
  fs::remove_all(dir);
}

TEST(OutputFile, WritesByRenameAndCleansUp) {
  const fs::path dir = scratch_dir();
  const fs::path target = dir / "trace.json";
  std::ofstream(target) << "old";
  {
    OutputFile out("--trace", target.string(), {});
    EXPECT_EQ(std::distance(fs::directory_iterator(dir), fs::directory_iterator()), 2);
    out.commit("{\"new\":1}");
  }
  std::ifstream in(target);
  std::string text;
  in >> text;
  EXPECT_EQ(text, "{\"new\":1}");
  { OutputFile abandoned("--trace", target.string(), {}); }  // never committed
  EXPECT_EQ(std::distance(fs::directory_iterator(dir), fs::directory_iterator()), 1);
  EXPECT_THROW(OutputFile("--trace", (dir / "missing" / "t.json").string(), {}), Error);
  fs::remove_all(dir);
}

TEST(OutputFile, ADeviceThatFailsWritesIsAnError) {
  if (!fs::exists("/dev/full")) GTEST_SKIP() << "no /dev/full";
  OutputFile out("--trace", "/dev/full", {});
  EXPECT_THROW(out.commit(std::string(1 << 16, 'x')), Error);
}

}  // namespace
}  // namespace stagefence::cli
