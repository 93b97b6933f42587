// Writes the seed corpus for model_load_fuzz (model_seeds.hpp), one file each, into the folder
// given as the only argument.
#include <cstdio>
#include <filesystem>
#include <fstream>

#include "model_seeds.hpp"
#include "stagefence/error.hpp"

int main(int argc, char** argv) {
  if (argc != 2) {
    std::fprintf(stderr, "usage: %s <corpus-dir>\n", argv[0]);
    return 2;
  }
  try {
    const std::filesystem::path dir = argv[1];
    std::filesystem::create_directories(dir);
    const auto seeds = stagefence::fuzzing::model_seeds();
    for (const auto& [name, bytes] : seeds) {
      std::ofstream out(dir / name, std::ios::binary);
      out.write(reinterpret_cast<const char*>(bytes.data()), std::streamsize(bytes.size()));
      if (!out) throw stagefence::Error(stagefence::ErrorCode::Io, "cannot write " + name);
    }
    std::printf("wrote %zu corpus files to %s\n", seeds.size(), dir.c_str());
    return 0;
  } catch (const std::exception& e) {
    std::fprintf(stderr, "model_make_corpus: %s\n", e.what());
    return 1;
  }
}
