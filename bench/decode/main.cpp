// stagefence_decode_bench: decode speed of a Llama-3-8B-shaped model at batch 1 in every
// submission mode, against the memory-bandwidth floor that the program measures itself.
// Weights and the KV cache are made on the device by the hash initialiser (no file, no host
// generation), so a full run fits a few minutes of GPU time. See docs/decode-bench.md.
#include <algorithm>
#include <chrono>
#include <cstdint>
#include <cstdio>
#include <exception>
#include <fstream>
#include <string>

#include "copy_bandwidth.hpp"
#include "decode_options.hpp"
#include "decode_report.hpp"
#include "decode_run.hpp"
#include "model/llama/device_init.hpp"
#include "model/llama/generator.hpp"
#include "model/llama/model.hpp"
#include "model/llama/shapes.hpp"
#include "stagefence/backend_kind.hpp"
#include "stagefence/device.hpp"
#include "stagefence/error.hpp"
#include "value_samples.hpp"

namespace sf = stagefence;
namespace llama = stagefence::llama;

namespace {

// Llama 3's <|begin_of_text|> when the vocabulary has it.
int32_t start_token_for(const llama::LlamaConfig& c) {
  constexpr int32_t kBeginOfText = 128000;
  return c.vocab > kBeginOfText ? kBeginOfText : 1;
}

double ms_since(std::chrono::steady_clock::time_point t) {
  return std::chrono::duration<double, std::milli>(std::chrono::steady_clock::now() - t).count();
}

sf::Device open_device(const std::string& backend) {
  sf::DeviceOptions o;
  o.backend = sf::parse_backend(backend, "--backend");
  return sf::Device::open(o);
}

// Runs every context and mode of one weight type; appends rows to the report.
void bench_dtype(sf::Device& device, sf::DType dtype, sf::bench::DecodeReport& report) {
  const sf::bench::DecodeOptions& o = report.options;
  const auto t0 = std::chrono::steady_clock::now();
  const llama::LlamaModel model =
      llama::hashed_model(device, report.config, llama::WeightTypes::all(dtype), o.seed);
  const double init_ms = ms_since(t0);
  report.init_ms.push_back({dtype, init_ms});
  std::printf("%s: %.2f GB of weights made on the device in %.0f ms\n",
              std::string(sf::dtype_name(dtype)).c_str(),
              double(model.weights.device_bytes()) * 1e-9, init_ms);
  if (dtype == sf::DType::BF16 && report.weight_samples.empty())
    report.weight_samples = sf::bench::sample_weights(model, o.seed);
  const double weight_bytes = sf::bench::weight_bytes_per_token(model.weights, report.config);

  for (int context : o.contexts) {
    llama::ForwardOptions fo;
    fo.context = context + o.tokens;  // the last decode step writes position context + tokens - 2
    llama::Generator generator(device, model, fo);
    const sf::bench::DecodeStart start{context, report.start_token, o.seed};
    std::vector<int32_t> first_tokens;
    for (llama::SubmissionMode mode : o.modes) {
      sf::bench::ModeRun run = sf::bench::run_mode(device, generator, start, mode, o);
      sf::bench::DecodeRow row;
      row.dtype = dtype;
      row.context = context;
      row.mode = mode;
      row.result = std::move(run.measured);
      row.busy = run.busy;
      row.busy_steps = run.busy_steps;
      row.busy_ms_per_token = run.busy_ms_per_token;
      row.busy_commits = run.busy_commits;
      row.weight_bytes = weight_bytes;
      row.kv_bytes = sf::bench::kv_bytes_per_token(report.config, context, row.result.decode.steps);
      if (first_tokens.empty()) first_tokens = row.decode_tokens();
      row.tokens_match = row.decode_tokens() == first_tokens;
      std::printf("  %-5s ctx %-6d %-8s %8.3f ms/token  %6.1f%% of floor  %7.1f CPU us/token%s\n",
                  std::string(sf::dtype_name(dtype)).c_str(), context, llama::mode_name(mode),
                  row.ms_per_token(), row.pct_of_floor(report.copy.bytes_per_s),
                  row.result.decode.cpu_us_per_token,
                  row.tokens_match ? "" : "  TOKENS DIFFER from the first mode");
      std::fflush(stdout);
      report.rows.push_back(std::move(row));
    }
    if (dtype == sf::DType::BF16)
      report.kv_samples.push_back(
          {context, sf::bench::sample_kv_cache(device, generator.forward(), context - 1, o.seed)});
  }
  device.synchronize();
}

int run(int argc, char** argv) {
  sf::bench::DecodeReport report;
  if (!sf::bench::parse_decode_options(argc, argv, report.options)) return 0;
  const sf::bench::DecodeOptions& o = report.options;
  sf::Device device = open_device(o.backend);
  const sf::DeviceInfo& info = device.info();
  std::printf("device: %s [%s] (%s)\n", info.name.c_str(), sf::backend_name(info.backend),
              info.backend_reason.c_str());
  if (info.backend == sf::BackendKind::Cpu && !o.tiny)
    sf::raise(sf::ErrorCode::InvalidArgument,
              "the Llama-3-8B shape on the CPU backend would take hours per row: pass --tiny");
  report.shape = o.shape;
  // The named shapes (model/llama/shapes.hpp): "tiny" is small enough for the CPU backend and
  // CI; "smollm2-135m" has its own output matrix, the same bytes per token as the tied original.
  report.config = llama::shape_config(o.shape);
  // The synthetic shapes have no trained context length: cover the longest row's cache (the model
  // refuses --context past its own length).
  for (int context : o.contexts)
    report.config.context_length = std::max(report.config.context_length, context + o.tokens);
  report.start_token = start_token_for(report.config);

  report.copy = sf::bench::measure_copy_bandwidth(device, o.copy_bytes);
  device.trim_pool();
  std::printf("copy bandwidth: %.1f GB/s (%llu MiB copied in %.1f us, read + write counted)\n",
              report.copy.bytes_per_s * 1e-9, (unsigned long long)(o.copy_bytes >> 20),
              report.copy.copy_us);

  for (sf::DType dtype : o.dtypes) {
    bench_dtype(device, dtype, report);
    device.trim_pool();
  }

  print_table(report, stdout);
  if (!o.json_path.empty()) {
    std::ofstream out(o.json_path, std::ios::binary | std::ios::trunc);
    out << sf::bench::decode_json(report, info) << '\n';
    if (!out.flush())
      sf::raise(sf::ErrorCode::Io, "cannot write the JSON report to '" + o.json_path + "'");
    std::printf("wrote %s\n", o.json_path.c_str());
  }
  bool all_match = true;
  for (const sf::bench::DecodeRow& r : report.rows) all_match = all_match && r.tokens_match;
  if (!all_match) {
    std::fprintf(stderr,
                 "stagefence_decode_bench: the submission modes produced different tokens\n");
    return 3;
  }
  return 0;
}

}  // namespace

int main(int argc, char** argv) {
  try {
    return run(argc, argv);
  } catch (const std::exception& e) {
    std::fprintf(stderr, "stagefence_decode_bench: %s\n", e.what());
    return 1;
  }
}
