#include "checked_output.hpp"

#include <fcntl.h>
#include <sys/stat.h>
#include <unistd.h>

#include <cerrno>
#include <cstring>
#include <system_error>

#include "stagefence/error.hpp"

namespace stagefence::cli {
namespace fs = std::filesystem;

void write_stdout(std::string_view text, std::string_view what) {
  errno = 0;
  const size_t n = std::fwrite(text.data(), 1, text.size(), stdout);
  if (n != text.size() || std::fflush(stdout) != 0 || std::ferror(stdout)) {
    const int err = errno;
    std::clearerr(stdout);
    raise(ErrorCode::Io, "writing " + std::string(what) + " to standard output failed: " +
                             (err ? std::strerror(err) : "short write"));
  }
}

namespace {

bool same_file(const fs::path& a, const fs::path& b) {
  std::error_code ec;
  if (fs::exists(a, ec) && fs::exists(b, ec)) return fs::equivalent(a, b, ec);
  return fs::weakly_canonical(a, ec) == fs::weakly_canonical(b, ec);
}

}  // namespace

OutputFile::OutputFile(const std::string& flag, const std::string& path,
                       const std::vector<fs::path>& inputs)
    : flag_(flag), path_(path) {
  if (path.empty())
    raise(ErrorCode::InvalidArgument, flag + ": value '' is not allowed: expected a file path");
  for (const fs::path& input : inputs)
    if (same_file(path, input))
      raise(ErrorCode::InvalidArgument, flag + ": value '" + path +
                                            "' is not allowed: it is an input of this run (" +
                                            input.string() + ") and would be overwritten");
  struct stat st {};
  if (::stat(path.c_str(), &st) == 0 && !S_ISREG(st.st_mode)) {
    if (S_ISDIR(st.st_mode))
      raise(ErrorCode::InvalidArgument, flag + ": value '" + path + "' is a directory");
    in_place_ = true;
    file_ = std::fopen(path.c_str(), "w");
    if (!file_)
      raise(ErrorCode::Io,
            flag + " " + path + ": cannot open for writing: " + std::strerror(errno));
    return;
  }
  const fs::path target(path);
  const fs::path dir = target.has_parent_path() ? target.parent_path() : fs::path(".");
  std::string temp_name = ".";
  temp_name += target.filename().string();
  temp_name += ".tmp." + std::to_string(::getpid());
  temp_ = (dir / temp_name).string();
  const int fd = ::open(temp_.c_str(), O_WRONLY | O_CREAT | O_EXCL | O_CLOEXEC, 0644);
  if (fd < 0) {
    const int err = errno;
    temp_.clear();
    raise(ErrorCode::Io,
          flag + " " + path + ": cannot write in " + dir.string() + ": " + std::strerror(err));
  }
  file_ = ::fdopen(fd, "w");
  if (!file_) {
    ::close(fd);
    raise(ErrorCode::Io, flag + " " + path + ": " + std::strerror(errno));
  }
}

OutputFile::~OutputFile() {
  if (file_) std::fclose(file_);
  if (!temp_.empty()) ::unlink(temp_.c_str());
}

void OutputFile::commit(std::string_view text) {
  if (!file_) raise(ErrorCode::State, flag_ + " " + path_ + " was already written");
  errno = 0;
  const bool wrote = std::fwrite(text.data(), 1, text.size(), file_) == text.size() &&
                     std::fflush(file_) == 0 && !std::ferror(file_) &&
                     (in_place_ || ::fsync(::fileno(file_)) == 0);
  const int err = errno;
  const bool closed = std::fclose(file_) == 0;
  file_ = nullptr;
  if (!wrote || !closed)
    raise(ErrorCode::Io,
          flag_ + " " + path_ + ": writing failed: " + (err ? std::strerror(err) : "short write"));
  if (in_place_) return;
  if (std::rename(temp_.c_str(), path_.c_str()) != 0)
    raise(ErrorCode::Io,
          flag_ + " " + path_ + ": renaming " + temp_ + " over it failed: " + std::strerror(errno));
  temp_.clear();
}

}  // namespace stagefence::cli
