#include "generate.hpp"

#include <unistd.h>

#include <chrono>
#include <cmath>
#include <cstdio>
#include <optional>
#include <sstream>

#include "cli_args.hpp"
#include "model/builtin_model.hpp"
#include "model/llama/generator.hpp"
#include "model/llama/model.hpp"
#include "stagefence/stagefence.hpp"

namespace stagefence::cli {
namespace {

using llama::GenerationResult;
using llama::SubmissionMode;

Args make_args() {
  Args a;
  a.option("model", "FILE.gguf", "a Llama-family GGUF model", "the built-in model");
  a.option("prompt-ids", "1,2,3", "prompt token ids", "a short built-in prompt");
  a.option("tokens", "N", "tokens to generate", "32");
  a.option("mode", "MODE", "blocking | single | session | replay | all", "session");
  a.option("layers-per-stage", "N", "layers sharing one stage; 0 = all", "1");
  a.option("backend", "KIND", "auto | cpu | cuda", "auto");
  a.option("context", "N", "KV cache capacity", "min(model context, 2048)");
  a.option("prefill-chunk", "N", "prompt tokens per prefill pass", "32");
  a.option("temperature", "T", "sampling temperature; 0 = greedy", "0");
  a.option("top-k", "K", "keep the K most likely tokens; 0 = all", "0");
  a.option("top-p", "P", "keep the smallest set with mass >= P; 1 = off", "1");
  a.option("seed", "S", "sampling seed", "0");
  a.flag("json", "print the figures as JSON on stdout");
  a.flag("help", "show this help");
  return a;
}

std::string json_escape(const std::string& s) {
  std::string out;
  for (unsigned char c : s) {
    if (c == '"' || c == '\\') {
      out += '\\';
      out += char(c);
    } else if (c < 0x20) {
      char buf[8];
      std::snprintf(buf, sizeof buf, "\\u%04x", c);
      out += buf;
    } else {
      out += char(c);
    }
  }
  return out;
}

// Control characters shown as escapes so generated text cannot move the terminal's cursor.
std::string printable(const std::string& s) {
  std::string out;
  for (unsigned char c : s) {
    if (c == '\n')
      out += "\\n";
    else if (c < 0x20 || c == 0x7f) {
      char buf[8];
      std::snprintf(buf, sizeof buf, "\\x%02x", c);
      out += buf;
    } else
      out += char(c);
  }
  return out;
}

std::string join_ids(const std::vector<int32_t>& ids, const char* sep) {
  std::string s;
  for (size_t i = 0; i < ids.size(); ++i) s += (i ? sep : "") + std::to_string(ids[i]);
  return s;
}

// A progress bar on stderr for loads large enough to notice, only on a terminal.
llama::LoadProgress progress_bar() {
  if (!isatty(STDERR_FILENO)) return {};
  return [last = -1](uint64_t done, uint64_t total) mutable {
    if (total < (256ull << 20)) return;
    const int pct = int(100 * done / total);
    if (pct == last) return;
    last = pct;
    const int width = 40, filled = pct * width / 100;
    std::fprintf(
        stderr, "\rloading [%s%s] %3d%% of %.2f GiB", std::string(size_t(filled), '#').c_str(),
        std::string(size_t(width - filled), ' ').c_str(), pct, double(total) / double(1ull << 30));
    if (done == total) std::fprintf(stderr, "\n");
    std::fflush(stderr);
  };
}

void print_run_json(std::ostringstream& os, const GenerationResult& r, const llama::LlamaModel& m) {
  const auto& d = r.decode;
  os << "{\"mode\":\"" << llama::mode_name(r.mode) << "\",\"tokens\":[" << join_ids(r.tokens, ",")
     << "]";
  if (!m.text.empty()) os << ",\"text\":\"" << json_escape(m.text.decode(r.tokens)) << "\"";
  os << ",\"stages_per_token\":" << r.stages_per_token
     << ",\"session_fallback\":" << (r.session_fallback ? "true" : "false")
     << ",\"prefill_ms\":" << r.prefill_ms << ",\"prefill_passes\":" << r.prefill_passes
     << ",\"decode_steps\":" << d.steps << ",\"ms_per_token\":" << d.ms_per_token
     << ",\"cpu_us_per_token\":" << d.cpu_us_per_token << ",\"syncs_per_token\":" << d.syncs
     << ",\"command_buffers_per_token\":" << d.command_buffers
     << ",\"commits_per_token\":" << d.commits << ",\"dispatches_per_token\":" << d.dispatches
     << ",\"fences_per_token\":" << d.fences_signalled << ",\"counters\":" << d.total.to_json()
     << "}";
}

}  // namespace

std::string generate_help() {
  return "usage: stagefence [generate] [options]\n\n"
         "Generates tokens with a Llama-family model through the staged forward pass and prints\n"
         "the per-token figures. With no options: the built-in model, 32 tokens, session "
         "mode.\n\n" +
         make_args().help();
}

int run_generate(const std::vector<std::string>& words) {
  Args args = make_args();
  args.parse(words);
  if (args.has("help")) {
    std::printf("%s", generate_help().c_str());
    return 0;
  }
  const bool json = args.has("json");
  const std::string mode_arg = args.get("mode", "session");
  std::vector<SubmissionMode> modes;
  if (mode_arg == "all")
    modes.assign(std::begin(llama::kAllModes), std::end(llama::kAllModes));
  else
    modes.push_back(llama::parse_mode(mode_arg));

  DeviceOptions device_options;
  const std::string backend = args.get("backend", "auto");
  if (backend == "cpu")
    device_options.backend = BackendKind::Cpu;
  else if (backend == "cuda")
    device_options.backend = BackendKind::Cuda;
  else if (backend != "auto")
    raise(ErrorCode::InvalidArgument, "--backend '" + backend + "': expected auto, cpu or cuda");

  Device device = Device::open(device_options);
  const DeviceInfo& info = device.info();
  if (!json)
    std::printf("device: %s [%s] (%s)\n", info.name.c_str(), backend_name(info.backend),
                info.backend_reason.c_str());

  const auto load_start = std::chrono::steady_clock::now();
  llama::LlamaModel model = args.has("model")
                                ? llama::load_model(device, args.get("model", ""), progress_bar())
                                : llama::load_builtin_model(device);
  const double load_ms =
      std::chrono::duration<double, std::milli>(std::chrono::steady_clock::now() - load_start)
          .count();
  const std::vector<int32_t> prompt =
      args.has("prompt-ids") ? args.get_int_list("prompt-ids") : llama::builtin_prompt();

  llama::ForwardOptions fo;
  fo.context = int(args.get_int("context", 0, 0, 1 << 20));
  fo.prefill_chunk = int(args.get_int("prefill-chunk", 32, 1, 4096));
  llama::GenerateOptions go;
  go.max_new_tokens = int(args.get_int("tokens", 32, 1, 1 << 20));
  go.layers_per_stage = int(args.get_int("layers-per-stage", 1, 0, 1 << 16));
  go.sampling.temperature = float(args.get_double("temperature", 0.0));
  go.sampling.top_k = int(args.get_int("top-k", 0, 0, 1 << 30));
  go.sampling.top_p = float(args.get_double("top-p", 1.0));
  go.sampling.seed = uint64_t(args.get_int("seed", 0, 0, INT64_MAX));
  if (!std::isfinite(go.sampling.temperature) || !std::isfinite(go.sampling.top_p))
    raise(ErrorCode::InvalidArgument, "--temperature and --top-p must be finite");

  llama::Generator generator(device, model, fo);
  if (!json) {
    std::printf("model: %s: %s; %.1f MiB of weights, loaded in %.0f ms\n", model.name.c_str(),
                model.config.summary().c_str(),
                double(model.weights.device_bytes()) / double(1 << 20), load_ms);
    std::printf("prompt: %zu tokens [%s]; %d tokens to generate, %s, layers per stage %d\n",
                prompt.size(), join_ids(prompt, ", ").c_str(), go.max_new_tokens,
                go.sampling.temperature > 0 ? "sampled" : "greedy", go.layers_per_stage);
  }

  std::vector<GenerationResult> runs;
  for (SubmissionMode mode : modes) {
    go.mode = mode;
    runs.push_back(generator.generate(prompt, go));
  }
  bool tokens_match = true;
  for (const GenerationResult& r : runs) tokens_match &= r.tokens == runs.front().tokens;

  if (json) {
    std::ostringstream os;
    os << "{\"device\":\"" << json_escape(info.name) << "\",\"backend\":\""
       << backend_name(info.backend) << "\",\"backend_reason\":\""
       << json_escape(info.backend_reason) << "\",\"model\":\"" << json_escape(model.name)
       << "\",\"config\":\"" << json_escape(model.config.summary())
       << "\",\"weight_bytes\":" << model.weights.device_bytes() << ",\"load_ms\":" << load_ms
       << ",\"prompt\":[" << join_ids(prompt, ",")
       << "],\"layers_per_stage\":" << go.layers_per_stage << ",\"runs\":[";
    for (size_t i = 0; i < runs.size(); ++i) {
      if (i) os << ",";
      print_run_json(os, runs[i], model);
    }
    os << "],\"tokens_match\":" << (tokens_match ? "true" : "false") << "}\n";
    std::printf("%s", os.str().c_str());
    return tokens_match ? 0 : 3;
  }

  const GenerationResult& first = runs.front();
  std::printf("tokens: %s\n", join_ids(first.tokens, " ").c_str());
  if (!model.text.empty())
    std::printf("text: \"%s\"\n", printable(model.text.decode(first.tokens)).c_str());
  if (first.session_fallback)
    std::printf(
        "note: STAGEFENCE_ENCODER_SESSION=0, so session/replay chain plain command "
        "encoders with the same fences\n");
  std::printf("prefill: %zu tokens in %d pass(es), %.2f ms (%s)\n", prompt.size(),
              first.prefill_passes, first.prefill_ms, llama::mode_name(first.mode));
  std::printf("\n%-9s %9s %13s %7s %9s %11s %7s %6s\n", "mode", "ms/token", "CPU us/token", "syncs",
              "cmd bufs", "dispatches", "fences", "stages");
  for (const GenerationResult& r : runs) {
    const auto& d = r.decode;
    std::printf("%-9s %9.3f %13.1f %7.2f %9.2f %11.1f %7.2f %6d\n", llama::mode_name(r.mode),
                d.ms_per_token, d.cpu_us_per_token, d.syncs, d.command_buffers, d.dispatches,
                d.fences_signalled, r.stages_per_token);
  }
  std::printf("(per decode token, averaged over %d tokens)\n", first.decode.steps);
  if (runs.size() > 1) {
    std::printf("tokens match across modes: %s\n", tokens_match ? "yes" : "NO");
    if (!tokens_match)
      for (const GenerationResult& r : runs)
        std::printf("  %-9s %s\n", llama::mode_name(r.mode), join_ids(r.tokens, " ").c_str());
  }
  return tokens_match ? 0 : 3;
}

}  // namespace stagefence::cli
