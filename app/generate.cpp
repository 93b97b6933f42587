#include "generate.hpp"

#include <unistd.h>

#include <algorithm>
#include <chrono>
#include <cmath>
#include <cstdio>
#include <cstring>
#include <memory>
#include <optional>
#include <sstream>
#include <thread>

#include "cli_args.hpp"
#include "model/builtin_model.hpp"
#include "model/gguf/gguf_file.hpp"
#include "model/llama/generator.hpp"
#include "model/llama/model.hpp"
#include "model/model_locator.hpp"
#include "model/tokenizer/chat_template.hpp"
#include "model/tokenizer/gguf_tokenizer_data.hpp"
#include "model/tokenizer/incremental_decoder.hpp"
#include "model/tokenizer/tokenizer.hpp"
#include "stagefence/stagefence.hpp"
#include "stagefence/trace.hpp"

namespace stagefence::cli {
namespace {

using llama::GenerationResult;
using llama::SubmissionMode;

// The question a real model answers when the command line gives no prompt.
constexpr const char* kDefaultChatPrompt = "What is the capital of France?";

Args make_args() {
  Args a;
  a.option("model", "FILE.gguf", "a Llama-family GGUF model",
           "$STAGEFENCE_MODEL_GGUF, else the installed SmolLM2, else the built-in model");
  a.option("prompt", "TEXT", "prompt text, encoded with the model's tokenizer",
           std::string("\"") + kDefaultChatPrompt + "\" with --chat for a real model");
  a.flag("chat", "wrap --prompt as one user message in the model's chat template");
  a.option("prompt-ids", "1,2,3", "prompt token ids (instead of --prompt)",
           "the built-in model's fixed prompt");
  a.option("tokens", "N", "tokens to generate at most", "32");
  a.flag("ignore-eos", "keep generating past the end of a turn");
  a.option("mode", "MODE", "blocking | single | session | replay | all", "session");
  a.option("layers-per-stage", "N", "layers sharing one stage; 0 = all", "1");
  a.option("backend", "KIND", "auto | cpu | cuda", "auto");
  a.option("ranks", "N", "tensor-parallel ranks: GPUs 0..N-1 through NCCL, or N CPU devices", "1");
  a.option("context", "N", "KV cache capacity", "min(model context, 2048)");
  a.option("prefill-chunk", "N", "prompt tokens per prefill pass", "32");
  a.option("temperature", "T", "sampling temperature; 0 = greedy", "0");
  a.option("top-k", "K", "keep the K most likely tokens; 0 = all", "0");
  a.option("top-p", "P", "keep the smallest set with mass >= P; 1 = off", "1");
  a.option("seed", "S", "sampling seed", "0");
  a.option("trace", "FILE.json", "write a Chrome trace of the generation (Perfetto)");
  a.flag("bandwidth", "also measure host memory copy bandwidth and the decode floor it implies");
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

// Control characters other than newline and tab shown as escapes, so generated text cannot move
// the terminal's cursor.
std::string printable(const std::string& s) {
  std::string out;
  for (unsigned char c : s) {
    if (c == '\n' || c == '\t' || (c >= 0x20 && c != 0x7f)) {
      out += char(c);
    } else {
      char buf[8];
      std::snprintf(buf, sizeof buf, "\\x%02x", c);
      out += buf;
    }
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

// The model to run (one shard per rank) and, when its file has one, its tokenizer.
struct LoadedModel {
  std::vector<llama::LlamaModel> shards;  // with one rank, the whole model
  const llama::LlamaModel& model() const { return shards.front(); }
  std::optional<tok::Tokenizer> tokenizer;
  std::string tokenizer_missing;  // why there is no tokenizer
  std::string source;             // "--model", "STAGEFENCE_MODEL_GGUF", "installed", "built-in"
};

LoadedModel load(const std::vector<Device*>& devices, const Args& args) {
  const model::ModelLocation where = model::locate_model(model::LocatorInputs::from_environment(
      args.has("model") ? std::optional<std::string>(args.get("model", "")) : std::nullopt));
  LoadedModel out;
  std::optional<gguf::GgufFile> file;
  if (!where.path) {
    std::fprintf(stderr,
                 "stagefence: %s; run scripts/install_model.sh: using the built-in random model\n",
                 where.why_none.c_str());
    file.emplace(gguf::GgufFile::from_bytes(llama::builtin_model_gguf()));
    out.source = "built-in";
    out.tokenizer_missing = "the built-in model has no tokenizer";
  } else {
    file.emplace(gguf::GgufFile::open(*where.path));
    out.source = where.source;
  }
  const int ranks = int(devices.size());
  for (int r = 0; r < ranks; ++r) {
    out.shards.push_back(
        llama::load_model_shard(*devices[size_t(r)], *file, {r, ranks}, progress_bar()));
    if (where.path && out.shards.back().name == out.shards.back().config.architecture)
      out.shards.back().name = where.path->filename().string();
  }
  if (!where.path) return out;
  if (!file->find("tokenizer.ggml.model")) {
    out.tokenizer_missing = where.path->string() + " has no tokenizer.ggml.model";
  } else {
    try {
      out.tokenizer.emplace(tok::tokenizer_data_from_gguf(*file));
    } catch (const Error& e) {
      out.tokenizer_missing = e.what();
    }
  }
  return out;
}

// The prompt's ids and, for a text prompt, what it was made from.
struct Prompt {
  std::vector<int32_t> ids;
  std::string text;  // empty for --prompt-ids and the built-in prompt
  bool chat = false;
};

Prompt make_prompt(const Args& args, const LoadedModel& m) {
  Prompt p;
  if (args.has("prompt-ids")) {
    if (args.has("prompt") || args.has("chat"))
      raise(ErrorCode::InvalidArgument, "--prompt-ids excludes --prompt and --chat");
    p.ids = args.get_int_list("prompt-ids");
    return p;
  }
  const bool text_asked = args.has("prompt") || args.has("chat");
  if (!m.tokenizer) {
    if (text_asked)
      raise(ErrorCode::InvalidArgument,
            "--prompt and --chat need a tokenizer: " + m.tokenizer_missing + " (use --prompt-ids)");
    p.ids = llama::builtin_prompt();
    return p;
  }
  const tok::Tokenizer& tokenizer = *m.tokenizer;
  const bool has_template = !tokenizer.data().chat_template.empty();
  p.text = args.get("prompt", kDefaultChatPrompt);
  // A real model with no prompt given answers the default question as a chat.
  p.chat = args.has("chat") || (!args.has("prompt") && has_template);
  if (p.chat) {
    const tok::ChatTemplate chat(tokenizer.data().chat_template);
    const std::string formatted = chat.apply({{"user", p.text}}, /*add_generation_prompt=*/true);
    p.ids = tokenizer.encode(formatted, /*add_special=*/true, /*parse_special=*/true);
  } else {
    p.ids = tokenizer.encode(p.text, /*add_special=*/true, /*parse_special=*/false);
  }
  if (p.ids.empty()) raise(ErrorCode::InvalidArgument, "--prompt encodes to no tokens");
  return p;
}

void check_prompt_ids(const std::vector<int32_t>& ids, const llama::LlamaConfig& config) {
  for (int32_t id : ids)
    if (id >= config.vocab)
      raise(ErrorCode::InvalidArgument, "prompt token id " + std::to_string(id) +
                                            " is outside the vocabulary of " +
                                            std::to_string(config.vocab));
}

// Bytes of weights one decode token reads: every matrix and vector once, and one row of the
// embedding table unless the table is also the output matrix (then it is read whole anyway).
uint64_t weight_bytes_per_token(const llama::LlamaModel& m) {
  const llama::Weight& embd = m.weights.token_embd;
  const uint64_t all = m.weights.device_bytes();
  if (m.config.tied_output) return all;
  return all - embd.buffer.size() + dtype_bytes(embd.dtype, uint64_t(embd.cols));
}

// Host memory bandwidth: a large buffer copied by as many threads as the CPU backend uses; the
// best of several rounds, counting bytes read plus bytes written.
double copy_bandwidth_bytes_per_s() {
  constexpr size_t kBytes = size_t(256) << 20;
  const unsigned threads = std::max(1u, std::min(2u, std::thread::hardware_concurrency()));
  std::vector<char> src(kBytes), dst(kBytes);
  for (size_t i = 0; i < kBytes; i += 4096) src[i] = char(i >> 12);
  std::memset(dst.data(), 1, kBytes);  // touch every page before timing
  double best = 0;
  for (int round = 0; round < 5; ++round) {
    const auto start = std::chrono::steady_clock::now();
    std::vector<std::thread> workers;
    const size_t share = kBytes / threads;
    for (unsigned t = 0; t < threads; ++t)
      workers.emplace_back([&, t] { std::memcpy(&dst[t * share], &src[t * share], share); });
    for (std::thread& w : workers) w.join();
    const double s =
        std::chrono::duration<double>(std::chrono::steady_clock::now() - start).count();
    best = std::max(best, 2.0 * double(kBytes) / s);
  }
  if (dst[kBytes / 2] != src[kBytes / 2]) raise(ErrorCode::Internal, "copy check failed");
  return best;
}

void print_run_json(std::ostringstream& os, const GenerationResult& r, const LoadedModel& m,
                    bool stopped_at_end) {
  const auto& d = r.decode;
  os << "{\"mode\":\"" << llama::mode_name(r.mode) << "\",\"tokens\":[" << join_ids(r.tokens, ",")
     << "]";
  if (m.tokenizer)
    os << ",\"text\":\"" << json_escape(m.tokenizer->decode(r.tokens)) << "\"";
  else if (!m.model().text.empty())
    os << ",\"text\":\"" << json_escape(m.model().text.decode(r.tokens)) << "\"";
  os << ",\"end_of_generation\":" << (stopped_at_end ? "true" : "false")
     << ",\"stages_per_token\":" << r.stages_per_token
     << ",\"session_fallback\":" << (r.session_fallback ? "true" : "false")
     << ",\"prefill_ms\":" << r.prefill_ms << ",\"prefill_passes\":" << r.prefill_passes
     << ",\"decode_steps\":" << d.steps << ",\"ms_per_token\":" << d.ms_per_token
     << ",\"tokens_per_s\":" << (d.ms_per_token > 0 ? 1000.0 / d.ms_per_token : 0)
     << ",\"cpu_us_per_token\":" << d.cpu_us_per_token << ",\"syncs_per_token\":" << d.syncs
     << ",\"command_buffers_per_token\":" << d.command_buffers
     << ",\"commits_per_token\":" << d.commits << ",\"dispatches_per_token\":" << d.dispatches
     << ",\"fences_per_token\":" << d.fences_signalled << ",\"counters\":" << d.total.to_json()
     << "}";
}

}  // namespace

std::string generate_help() {
  return "usage: stagefence [generate] [options]\n\n"
         "Generates text with a Llama-family model through the staged forward pass, streaming it\n"
         "as tokens arrive, then prints the per-token figures. With no options: the installed\n"
         "SmolLM2 answers a short chat question (the built-in random model when none is\n"
         "installed), at most 32 tokens, session mode.\n\n" +
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

  const int ranks = int(args.get_int("ranks", 1, 1, 64));
  std::vector<std::unique_ptr<Device>> devices;
  std::vector<Device*> device_list;
  for (int r = 0; r < ranks; ++r) {
    device_options.cuda_ordinal = r;
    devices.push_back(std::make_unique<Device>(Device::open(device_options)));
    if (ranks > 1 && r > 0 && devices[size_t(r)]->backend() != devices[0]->backend())
      raise(ErrorCode::Unsupported, "--ranks " + std::to_string(ranks) + ": device " +
                                        std::to_string(r) + " opened on another backend");
    device_list.push_back(devices.back().get());
  }
  Device& device = *devices.front();
  const DeviceInfo& info = device.info();
  const std::vector<Communicator> comms =
      ranks > 1 ? Communicator::create_group(device_list) : std::vector<Communicator>{};
  if (!json)
    std::printf("device: %s [%s] (%s)\n", info.name.c_str(), backend_name(info.backend),
                info.backend_reason.c_str());

  const auto load_start = std::chrono::steady_clock::now();
  const LoadedModel loaded = load(device_list, args);
  const llama::LlamaModel& model = loaded.model();
  const double load_ms =
      std::chrono::duration<double, std::milli>(std::chrono::steady_clock::now() - load_start)
          .count();
  const Prompt prompt = make_prompt(args, loaded);
  check_prompt_ids(prompt.ids, model.config);

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
  const tok::Tokenizer* tokenizer = loaded.tokenizer ? &*loaded.tokenizer : nullptr;
  if (tokenizer && !args.has("ignore-eos"))
    go.stop_after = [tokenizer](int32_t t) { return tokenizer->is_end_of_generation(t); };

  std::vector<const llama::LlamaModel*> shard_list;
  for (const llama::LlamaModel& m : loaded.shards) shard_list.push_back(&m);
  llama::Generator generator = ranks == 1 ? llama::Generator(device, model, fo)
                                          : llama::Generator(device_list, shard_list, comms, fo);
  if (!json) {
    std::printf("model: %s (%s): %s; %.1f MiB of weights, loaded in %.0f ms\n", model.name.c_str(),
                loaded.source.c_str(), model.config.summary().c_str(),
                double(model.weights.device_bytes()) / double(1 << 20), load_ms);
    if (ranks > 1)
      std::printf("tensor parallel: %s (MiB of weights above are rank 0's)\n",
                  comms.front().describe().c_str());
    if (!prompt.text.empty())
      std::printf("prompt: \"%s\"%s, %zu tokens\n", printable(prompt.text).c_str(),
                  prompt.chat ? " as a chat message" : "", prompt.ids.size());
    else
      std::printf("prompt: %zu tokens [%s]\n", prompt.ids.size(),
                  join_ids(prompt.ids, ", ").c_str());
    std::printf("generating at most %d tokens, %s, layers per stage %d\n\n", go.max_new_tokens,
                go.sampling.temperature > 0 ? "sampled" : "greedy", go.layers_per_stage);
    std::fflush(stdout);
  }

  std::vector<GenerationResult> runs;
  {
    const trace::Scope tracing(args.get("trace", ""));
    for (size_t i = 0; i < modes.size(); ++i) {
      go.mode = modes[i];
      // The first run streams its text as tokens arrive; the others only check their tokens.
      std::unique_ptr<tok::IncrementalDecoder> decoder;
      if (i == 0 && !json && tokenizer) {
        decoder = std::make_unique<tok::IncrementalDecoder>(*tokenizer);
        go.on_token = [&decoder](int, int32_t token) {
          std::fputs(printable(decoder->push(token)).c_str(), stdout);
          std::fflush(stdout);
        };
      } else {
        go.on_token = nullptr;
      }
      runs.push_back(generator.generate(prompt.ids, go));
      if (decoder) std::printf("%s\n\n", printable(decoder->finish()).c_str());
    }
    for (Device* d : device_list) d->synchronize();
  }
  bool tokens_match = true;
  for (const GenerationResult& r : runs) tokens_match &= r.tokens == runs.front().tokens;
  const GenerationResult& first = runs.front();
  const bool stopped_at_end = tokenizer && !first.tokens.empty() &&
                              tokenizer->is_end_of_generation(first.tokens.back()) &&
                              !args.has("ignore-eos");
  const uint64_t bytes_per_token = weight_bytes_per_token(model);
  const double bandwidth = args.has("bandwidth") ? copy_bandwidth_bytes_per_s() : 0.0;
  const double floor_ms = bandwidth > 0 ? 1e3 * double(bytes_per_token) / bandwidth : 0.0;

  if (json) {
    std::ostringstream os;
    os << "{\"device\":\"" << json_escape(info.name) << "\",\"backend\":\""
       << backend_name(info.backend) << "\",\"backend_reason\":\""
       << json_escape(info.backend_reason) << "\",\"model\":\"" << json_escape(model.name)
       << "\",\"model_source\":\"" << loaded.source << "\",\"config\":\""
       << json_escape(model.config.summary())
       << "\",\"weight_bytes\":" << model.weights.device_bytes()
       << ",\"weight_bytes_per_token\":" << bytes_per_token << ",\"ranks\":" << ranks
       << ",\"load_ms\":" << load_ms << ",\"prompt\":[" << join_ids(prompt.ids, ",") << "]";
    if (!prompt.text.empty())
      os << ",\"prompt_text\":\"" << json_escape(prompt.text)
         << "\",\"chat\":" << (prompt.chat ? "true" : "false");
    if (bandwidth > 0)
      os << ",\"copy_bandwidth_gb_s\":" << bandwidth / 1e9
         << ",\"floor_ms_per_token\":" << floor_ms;
    os << ",\"layers_per_stage\":" << go.layers_per_stage << ",\"runs\":[";
    for (size_t i = 0; i < runs.size(); ++i) {
      if (i) os << ",";
      print_run_json(os, runs[i], loaded, stopped_at_end);
    }
    os << "],\"tokens_match\":" << (tokens_match ? "true" : "false") << "}\n";
    std::printf("%s", os.str().c_str());
    return tokens_match ? 0 : 3;
  }

  if (!tokenizer && !model.text.empty())
    std::printf("text: \"%s\"\n", printable(model.text.decode(first.tokens)).c_str());
  std::printf("tokens: %s%s\n", join_ids(first.tokens, " ").c_str(),
              stopped_at_end ? " (end of turn)" : "");
  if (first.session_fallback)
    std::printf(
        "note: STAGEFENCE_ENCODER_SESSION=0, so session/replay chain plain command "
        "encoders with the same fences\n");
  std::printf("prefill: %zu tokens in %d pass(es), %.2f ms (%s)\n", prompt.ids.size(),
              first.prefill_passes, first.prefill_ms, llama::mode_name(first.mode));
  std::printf("\n%-9s %9s %8s %13s %7s %9s %11s %7s %6s\n", "mode", "ms/token", "tok/s",
              "CPU us/token", "syncs", "cmd bufs", "dispatches", "fences", "stages");
  for (const GenerationResult& r : runs) {
    const auto& d = r.decode;
    std::printf("%-9s %9.3f %8.1f %13.1f %7.2f %9.2f %11.1f %7.2f %6d\n", llama::mode_name(r.mode),
                d.ms_per_token, d.ms_per_token > 0 ? 1000.0 / d.ms_per_token : 0.0,
                d.cpu_us_per_token, d.syncs, d.command_buffers, d.dispatches, d.fences_signalled,
                r.stages_per_token);
  }
  std::printf("(per decode token, averaged over %d tokens)\n", first.decode.steps);
  if (bandwidth > 0)
    std::printf(
        "floor: %.1f MiB of weights per token / %.2f GB/s host copy bandwidth (read + write) = "
        "%.3f ms/token (%.1f tok/s); measured %.3f ms/token is %.2fx the floor\n",
        double(bytes_per_token) / double(1 << 20), bandwidth / 1e9, floor_ms, 1e3 / floor_ms,
        first.decode.ms_per_token, first.decode.ms_per_token / floor_ms);
  if (runs.size() > 1) {
    std::printf("tokens match across modes: %s\n", tokens_match ? "yes" : "NO");
    if (!tokens_match)
      for (const GenerationResult& r : runs)
        std::printf("  %-9s %s\n", llama::mode_name(r.mode), join_ids(r.tokens, " ").c_str());
  }
  return tokens_match ? 0 : 3;
}

}  // namespace stagefence::cli
