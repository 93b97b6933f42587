#include "decode_options.hpp"

#include <cstdint>
#include <cstdio>
#include <cstdlib>
#include <sstream>
#include <string_view>

#include "model/llama/shapes.hpp"
#include "stagefence/backend_kind.hpp"
#include "stagefence/error.hpp"

namespace stagefence::bench {
namespace {

constexpr const char* kUsage =
    "usage: stagefence_decode_bench [options]\n"
    "Decodes a Llama-3-8B-shaped model with hashed random weights at batch 1, from a hashed KV\n"
    "cache of each context, in every submission mode; prints per-token figures against the\n"
    "memory-bandwidth floor and a table last.\n"
    "  --dtypes LIST          weight types: bf16,q8_0,q4_0 (also f16, f32)   [bf16,q8_0,q4_0]\n"
    "  --contexts LIST        positions already in the KV cache + 1            [1024,8192]\n"
    "  --modes LIST|all       blocking,single,session,replay,loop              [all]\n"
    "  --tokens N             tokens per measured run (N-1 decode steps)       [64]\n"
    "  --warmup N             tokens of the untimed run before each row        [4]\n"
    "  --layers-per-stage N   layers per stage command buffer (0: all)         [1]\n"
    "  --seed S               weight and cache seed                            [1234]\n"
    "  --backend KIND         auto | cpu | cuda                                [auto]\n"
    "  --tiny                 a small model (2 layers, dim 128) for the CPU backend and CI\n"
    "  --shape NAME           a shape of model/llama/shapes.hpp: llama3-8b, llama3.2-1b,\n"
    "                         smollm2-135m (the shipped model's), tiny, ...\n"
    "  --copy-mib N           bytes of the bandwidth copy, MiB       [1024; 64 with --tiny]\n"
    "  --no-gpu-busy          skip the timestamped pass (no GPU busy/idle figures)\n"
    "  --json PATH            write the results as JSON (stagefence.bench/1 + \"decode\")\n";

std::vector<std::string> split_list(std::string_view text) {
  std::vector<std::string> items;
  std::stringstream ss{std::string(text)};
  std::string item;
  while (std::getline(ss, item, ','))
    if (!item.empty()) items.push_back(item);
  return items;
}

int64_t parse_int(std::string_view option, const std::string& text, int64_t lo, int64_t hi) {
  char* end = nullptr;
  const long long v = std::strtoll(text.c_str(), &end, 10);
  if (text.empty() || *end != '\0' || v < lo || v > hi)
    raise(ErrorCode::InvalidArgument, std::string(option) + " '" + text +
                                          "': expected an integer in [" + std::to_string(lo) +
                                          ", " + std::to_string(hi) + "]");
  return v;
}

DType parse_dtype(const std::string& name) {
  for (DType t : {DType::F32, DType::F16, DType::BF16, DType::Q8_0, DType::Q4_0})
    if (name == dtype_name(t)) return t;
  raise(ErrorCode::InvalidArgument,
        "--dtypes: unknown weight type '" + name + "' (expected f32, f16, bf16, q8_0 or q4_0)");
}

}  // namespace

bool parse_decode_options(int argc, char** argv, DecodeOptions& o) {
  bool copy_given = false;
  for (int i = 1; i < argc; ++i) {
    const std::string_view arg = argv[i];
    auto value = [&]() -> std::string {
      if (i + 1 >= argc) raise(ErrorCode::InvalidArgument, std::string(arg) + " needs a value");
      return argv[++i];
    };
    if (arg == "--help" || arg == "-h") {
      std::fputs(kUsage, stdout);
      return false;
    } else if (arg == "--dtypes") {
      o.dtypes.clear();
      for (const std::string& name : split_list(value())) o.dtypes.push_back(parse_dtype(name));
    } else if (arg == "--contexts") {
      o.contexts.clear();
      for (const std::string& c : split_list(value()))
        o.contexts.push_back(int(parse_int(arg, c, 2, 1 << 20)));
    } else if (arg == "--modes") {
      const std::string list = value();
      o.modes.clear();
      if (list == "all")
        o.modes.assign(std::begin(llama::kAllModes), std::end(llama::kAllModes));
      else
        for (const std::string& m : split_list(list)) o.modes.push_back(llama::parse_mode(m));
    } else if (arg == "--tokens") {
      o.tokens = int(parse_int(arg, value(), 2, 1 << 16));
    } else if (arg == "--warmup") {
      o.warmup = int(parse_int(arg, value(), 0, 1 << 16));
    } else if (arg == "--layers-per-stage") {
      o.layers_per_stage = int(parse_int(arg, value(), 0, 1 << 16));
    } else if (arg == "--seed") {
      o.seed = uint64_t(parse_int(arg, value(), 0, INT64_MAX));
    } else if (arg == "--backend") {
      o.backend = value();
      parse_backend(o.backend, "--backend");  // throws naming the value and the names allowed
    } else if (arg == "--tiny") {
      o.tiny = true;
      o.shape = "tiny";
    } else if (arg == "--shape") {
      o.shape = value();
      (void)llama::shape_config(o.shape);  // throws naming the shape and the known ones
      o.tiny = o.shape == "tiny";
    } else if (arg == "--copy-mib") {
      o.copy_bytes = uint64_t(parse_int(arg, value(), 1, 1 << 16)) << 20;
      copy_given = true;
    } else if (arg == "--no-gpu-busy") {
      o.gpu_busy = false;
    } else if (arg == "--json") {
      o.json_path = value();
    } else {
      raise(ErrorCode::InvalidArgument, "unknown option '" + std::string(arg) + "' (see --help)");
    }
  }
  if (o.dtypes.empty() || o.contexts.empty() || o.modes.empty())
    raise(ErrorCode::InvalidArgument, "--dtypes, --contexts and --modes need at least one item");
  if (!copy_given) o.copy_bytes = o.tiny ? (uint64_t(64) << 20) : (uint64_t(1) << 30);
  return true;
}

}  // namespace stagefence::bench
