// The stagefence command line: `generate` (the default) runs the staged forward pass; `doctor`
// reports the backend this machine gets, its device and the environment flags.
#include <cstdio>
#include <exception>
#include <string>
#include <vector>

#include "doctor.hpp"
#include "generate.hpp"
#include "stagefence/error.hpp"

namespace {

void print_usage() {
  std::printf(
      "usage: stagefence [generate] [options]   the default: decode with a model\n"
      "       stagefence doctor [--json]        backend, device and environment flags\n"
      "       stagefence help\n\n%s",
      stagefence::cli::generate_help().c_str());
}

}  // namespace

int main(int argc, char** argv) {
  std::vector<std::string> words(argv + 1, argv + argc);
  try {
    if (!words.empty() && (words[0] == "help" || words[0] == "-h")) {
      print_usage();
      return 0;
    }
    if (!words.empty() && words[0] == "doctor") return run_doctor(argc - 1, argv + 1);
    if (!words.empty() && words[0] == "generate") words.erase(words.begin());
    return stagefence::cli::run_generate(words);
  } catch (const stagefence::Error& e) {
    std::fprintf(stderr, "stagefence: %s\n", e.what());
    return e.code() == stagefence::ErrorCode::InvalidArgument ? 2 : 1;
  } catch (const std::exception& e) {
    std::fprintf(stderr, "stagefence: error: %s\n", e.what());
    return 1;
  }
}
