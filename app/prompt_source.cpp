#include "prompt_source.hpp"

#include <poll.h>
#include <sys/stat.h>
#include <unistd.h>

#include <cerrno>
#include <cstdint>
#include <cstring>
#include <fstream>
#include <sstream>

#include "stagefence/error.hpp"

namespace stagefence::cli {
namespace {

constexpr size_t kMaxPromptBytes = size_t(16) << 20;

void drop_trailing_newline(std::string& s) {
  if (!s.empty() && s.back() == '\n') s.pop_back();
  if (!s.empty() && s.back() == '\r') s.pop_back();
}

// Reads standard input to its end; with a deadline, fails if nothing (not even EOF) arrives.
std::string read_stdin(const std::string& flag, int wait_s) {
  if (wait_s > 0) {
    pollfd p{STDIN_FILENO, POLLIN, 0};
    int r;
    do r = ::poll(&p, 1, wait_s * 1000);
    while (r < 0 && errno == EINTR);
    if (r == 0)
      raise(ErrorCode::InvalidArgument,
            "standard input is a pipe but nothing arrived in " + std::to_string(wait_s) +
                " s; give the prompt with --prompt, --file or '-p -', or run with </dev/null");
  }
  std::string out;
  char buf[65536];
  while (true) {
    const ssize_t n = ::read(STDIN_FILENO, buf, sizeof buf);
    if (n == 0) break;
    if (n < 0) {
      if (errno == EINTR)
        raise(ErrorCode::InvalidArgument, "reading the prompt from standard input was interrupted");
      raise(ErrorCode::Io, flag + ": reading standard input failed: " + std::strerror(errno));
    }
    out.append(buf, size_t(n));
    if (out.size() > kMaxPromptBytes)
      raise(ErrorCode::InvalidArgument, flag + ": the prompt on standard input exceeds " +
                                            std::to_string(kMaxPromptBytes >> 20) + " MiB");
  }
  return out;
}

std::string read_file(const std::string& path) {
  struct stat st {};
  if (::stat(path.c_str(), &st) != 0)
    raise(ErrorCode::InvalidArgument,
          "--file: value '" + path + "' is not allowed: " + std::strerror(errno));
  if (S_ISDIR(st.st_mode))
    raise(ErrorCode::InvalidArgument, "--file: value '" + path + "' is a directory, not a file");
  if (S_ISREG(st.st_mode) && uint64_t(st.st_size) > kMaxPromptBytes)
    raise(ErrorCode::InvalidArgument, "--file: '" + path + "' is " + std::to_string(st.st_size) +
                                          " bytes; a prompt may have at most " +
                                          std::to_string(kMaxPromptBytes >> 20) + " MiB");
  std::ifstream in(path, std::ios::binary);
  if (!in) raise(ErrorCode::InvalidArgument, "--file: cannot open '" + path + "'");
  std::ostringstream ss;
  ss << in.rdbuf();
  if (in.bad()) raise(ErrorCode::Io, "--file: reading '" + path + "' failed");
  return ss.str();
}

bool stdin_is_piped() {
  struct stat st {};
  if (::fstat(STDIN_FILENO, &st) != 0) return false;
  return S_ISFIFO(st.st_mode) || S_ISREG(st.st_mode) || S_ISSOCK(st.st_mode);
}

}  // namespace

std::optional<PromptText> read_prompt(const std::optional<std::string>& prompt,
                                      const std::optional<std::string>& file, int stdin_wait_s) {
  PromptText p;
  if (prompt && *prompt != "-") {
    p = {*prompt, "--prompt"};
  } else if (prompt || (file && *file == "-")) {
    const std::string flag = prompt ? "--prompt -" : "--file -";
    p = {read_stdin(flag, 0), "standard input"};
  } else if (file) {
    p = {read_file(*file), "--file " + *file};
  } else if (stdin_is_piped()) {
    p = {read_stdin("standard input", stdin_wait_s), "standard input"};
    drop_trailing_newline(p.text);
    if (p.text.empty()) return std::nullopt;  // nothing was piped: the defaults apply
    return p;
  } else {
    return std::nullopt;
  }
  if (p.origin != "--prompt") drop_trailing_newline(p.text);
  if (p.text.empty()) raise(ErrorCode::InvalidArgument, p.origin + ": the prompt is empty");
  return p;
}

}  // namespace stagefence::cli
