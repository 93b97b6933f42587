// Output that fails loudly: every write to stdout is flushed and checked, and --trace files are
// written to a temporary file beside the target and renamed over it, so a full disk or a
// closed pipe is an error naming what failed, never a quiet exit 0 or a half-written file.
#pragma once
#include <cstdio>
#include <filesystem>
#include <string>
#include <string_view>
#include <vector>

namespace stagefence::cli {

// Writes and flushes; throws Error(Io) "writing <what> to standard output failed: <reason>".
void write_stdout(std::string_view text, std::string_view what = "the answer");

// A file the run will write at its end (--trace). Construction checks the path: not empty, not
// one of `inputs` (the model file), its directory writable (the temporary file is created now).
// A target that exists and is not a regular file (a device, a FIFO) is written in place.
class OutputFile {
 public:
  OutputFile(const std::string& flag, const std::string& path,
             const std::vector<std::filesystem::path>& inputs);
  ~OutputFile();  // removes the temporary file unless commit() succeeded
  OutputFile(const OutputFile&) = delete;
  OutputFile& operator=(const OutputFile&) = delete;

  // Writes `text` and renames the temporary file over the target; throws Error(Io) naming the
  // flag, the path and the reason.
  void commit(std::string_view text);
  const std::string& path() const { return path_; }

 private:
  std::string flag_, path_, temp_;
  std::FILE* file_ = nullptr;
  bool in_place_ = false;
};

}  // namespace stagefence::cli
