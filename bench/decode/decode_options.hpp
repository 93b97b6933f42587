// Command-line options of stagefence_decode_bench.
#pragma once
#include <cstdint>
#include <string>
#include <vector>

#include "model/llama/generator.hpp"
#include "stagefence/dtype.hpp"

namespace stagefence::bench {

struct DecodeOptions {
  std::vector<DType> dtypes = {DType::BF16, DType::Q8_0, DType::Q4_0};
  std::vector<int> contexts = {1024, 8192};
  std::vector<llama::SubmissionMode> modes = {std::begin(llama::kAllModes),
                                              std::end(llama::kAllModes)};
  int tokens = 64;  // tokens per measured run: tokens - 1 decode steps are timed
  int warmup = 4;   // tokens of the untimed run before each measured one
  int layers_per_stage = 1;
  uint64_t seed = 1234;
  std::string backend = "auto";     // auto | cpu | cuda
  std::string json_path;            // empty: no JSON file
  bool tiny = false;                // a small model instead of the Llama-3-8B shape
  std::string shape = "llama3-8b";  // llama3-8b | smollm2-135m | tiny
  bool gpu_busy = true;             // the timestamped pass that measures GPU busy time
  uint64_t copy_bytes = 0;          // 0: 1 GiB, or 64 MiB with --tiny
};

// Parses argv. Throws InvalidArgument naming the bad option or value. Returns false when
// --help was given (the usage was printed).
bool parse_decode_options(int argc, char** argv, DecodeOptions& out);

}  // namespace stagefence::bench
