#include "generate.hpp"

#include <algorithm>
#include <chrono>
#include <cmath>
#include <cstdint>
#include <cstdio>
#include <cstring>
#include <memory>
#include <nlohmann/json.hpp>
#include <thread>

#include "checked_output.hpp"
#include "interrupts.hpp"
#include "model/builtin_model.hpp"
#include "model/tokenizer/incremental_decoder.hpp"
#include "model_source.hpp"
#include "option_checks.hpp"
#include "prompt_source.hpp"
#include "running_model.hpp"
#include "stagefence/report.hpp"
#include "stagefence/stagefence.hpp"
#include "stagefence/trace.hpp"
#include "text_display.hpp"

namespace stagefence::cli {
namespace {

using llama::GenerationResult;
using llama::SubmissionMode;
using nlohmann::json;

// The question a real model answers when the command line gives no prompt.
constexpr const char* kDefaultChatPrompt = "What is the capital of France?";

double ms_since(std::chrono::steady_clock::time_point t) {
  return std::chrono::duration<double, std::milli>(std::chrono::steady_clock::now() - t).count();
}

// The prompt's ids and, for a text prompt, what it was made from.
struct Prompt {
  std::vector<int32_t> ids;
  std::string text;  // empty for --prompt-ids and the built-in prompt
  std::string origin;
  bool chat = false;
};

Prompt make_prompt(const GenerateArgs& args, const ModelSource& m) {
  Prompt p;
  if (args.ids_given) {
    if (args.chat) raise(ErrorCode::InvalidArgument, "--prompt-ids excludes --chat");
    p.ids = parse_token_ids(args.prompt_ids);
    p.origin = "--prompt-ids";
  } else {
    const std::optional<PromptText> given =
        read_prompt(args.prompt_given ? std::optional(args.prompt) : std::nullopt,
                    args.file_given ? std::optional(args.file) : std::nullopt);
    if (!m.tokenizer) {
      if (given || args.chat)
        raise(ErrorCode::InvalidArgument, "a text prompt (" + (given ? given->origin : "--chat") +
                                              ") needs a tokenizer: " + m.tokenizer_missing +
                                              " (use --prompt-ids)");
      p.ids = llama::builtin_prompt();
      p.origin = "the built-in model's fixed prompt";
    } else {
      const tok::Tokenizer& tokenizer = *m.tokenizer;
      p.text = given ? given->text : kDefaultChatPrompt;
      p.origin = given ? given->origin : "the default question";
      // A real model with no prompt given answers the default question as a chat.
      p.chat = args.chat || (!given && m.chat_template);
      if (p.chat) {
        std::vector<tok::ChatMessage> messages;
        if (!args.system.empty()) messages.push_back({"system", args.system});
        messages.push_back({"user", p.text});
        p.ids = tokenizer.encode(m.chat().render(messages, /*add_generation_prompt=*/true));
      } else {
        p.ids = tokenizer.encode(p.text, /*add_special=*/true, /*parse_special=*/false);
      }
      if (p.ids.empty()) raise(ErrorCode::InvalidArgument, p.origin + " encodes to no tokens");
    }
  }
  for (int32_t id : p.ids)
    if (id >= m.config.vocab)
      raise(ErrorCode::InvalidArgument, "prompt token id " + std::to_string(id) +
                                            " is outside the vocabulary of " +
                                            std::to_string(m.config.vocab));
  return p;
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
    best = std::max(best, 2.0 * double(kBytes) / (ms_since(start) / 1e3));
  }
  if (dst[kBytes / 2] != src[kBytes / 2]) raise(ErrorCode::Internal, "copy check failed");
  return best;
}

// A finite number, or null.
json number_or_null(double v) {
  return std::isfinite(v) ? json(v) : json(nullptr);
}

// One run as measured, with the figures the CLI derives from it.
struct Run {
  GenerationResult result;
  std::string text;  // decoded, when the model has a tokenizer or a vocabulary
  bool has_text = false;
  bool end_of_generation = false;
  double ttft_ms = 0;  // from the call to the first token
};

double prefill_tokens_per_s(const Run& r, size_t prompt_tokens) {
  const double tokens = double(prompt_tokens) - r.result.cached_prompt_tokens;
  return r.result.prefill_ms > 0 ? tokens * 1e3 / r.result.prefill_ms : NAN;
}

json run_json(const Run& run, size_t prompt_tokens) {
  const GenerationResult& r = run.result;
  const auto& d = r.decode;
  return {
      {"mode", llama::mode_name(r.mode)},
      {"tokens", r.tokens},
      {"text", run.has_text ? json(run.text) : json(nullptr)},
      {"end_of_generation", run.end_of_generation},
      {"cancelled", r.cancelled},
      {"stages_per_token", r.stages_per_token},
      {"session_fallback", r.session_fallback},
      {"prefill_tokens", int(prompt_tokens) - r.cached_prompt_tokens},
      {"prefill_passes", r.prefill_passes},
      {"prefill_ms", r.prefill_ms},
      {"prefill_tokens_per_s", number_or_null(prefill_tokens_per_s(run, prompt_tokens))},
      {"time_to_first_token_ms", r.tokens.empty() ? json(nullptr) : json(run.ttft_ms)},
      {"decode_steps", d.steps},
      {"ms_per_token", d.ms_per_token},
      {"tokens_per_s", d.ms_per_token > 0 ? 1000.0 / d.ms_per_token : 0.0},
      {"cpu_us_per_token", d.cpu_us_per_token},
      {"syncs_per_token", d.syncs},
      {"command_buffers_per_token", d.command_buffers},
      {"graph_launches_per_token", d.graph_launches},
      {"commits_per_token", d.commits},
      {"dispatches_per_token", d.dispatches},
      {"fences_per_token", d.fences_signalled},
      {"counters", json::parse(d.total.to_json())},
  };
}

void print_status(const char* format, auto... values) {
  std::fprintf(stderr, format, values...);
}

}  // namespace

CLI::App* add_generate_command(CLI::App& app, GenerateArgs& a) {
  CLI::App* g = app.add_subcommand(
      "generate",
      "Generate text (the default subcommand). The answer streams to stdout; the device, model "
      "and figures go to stderr. With no options: the installed SmolLM2 answers a short chat "
      "question (the built-in random model when none is installed), at most 32 tokens, session "
      "mode.");
  add_model_options(*g, a.model, /*allow_all_modes=*/true);
  CLI::Option* prompt =
      g->add_option("-p,--prompt", a.prompt,
                    "prompt text, encoded with the model's tokenizer; '-' reads standard input "
                    "(default: standard input when piped, else \"What is the capital of "
                    "France?\" as a chat)")
          ->type_name("TEXT");
  CLI::Option* file =
      g->add_option("-f,--file", a.file, "read the prompt from a file; '-' reads standard input")
          ->type_name("PATH")
          ->check(non_empty("a file path or -"));
  CLI::Option* ids = g->add_option("--prompt-ids", a.prompt_ids,
                                   "prompt token ids instead of text (default for the built-in "
                                   "model: its fixed prompt)")
                         ->type_name("1,2,3")
                         ->check(token_id_list());
  prompt->excludes(file)->excludes(ids);
  file->excludes(ids);
  g->add_flag("--chat", a.chat, "wrap the prompt as one user message in the model's chat template");
  g->add_option("--system", a.system, "with --chat: a system message before the user's")
      ->type_name("TEXT");
  g->add_option("-n,--tokens", a.tokens, "tokens to generate at most, >= 1 (default: 32)")
      ->type_name("N")
      ->check(integer_in(1, 1 << 20));
  g->add_flag("--ignore-eos", a.ignore_eos, "keep generating past the end of a turn");
  add_sampling_options(*g, a.sampling);
  g->add_option("--trace", a.trace,
                "write a Chrome trace of the generation (Perfetto); written to a temporary file "
                "beside it and renamed at the end")
      ->type_name("FILE.json")
      ->check(non_empty("a file path"));
  g->add_flag("--bandwidth", a.bandwidth,
              "also measure host memory copy bandwidth and the decode floor it implies");
  g->add_flag("--json", a.json, "print everything as one JSON object on stdout");
  return g;
}

int run_generate(const CLI::App& command, GenerateArgs& args) {
  finish_model_options(command, args.model);
  args.prompt_given = command.count("--prompt") > 0;
  args.file_given = command.count("--file") > 0;
  args.ids_given = command.count("--prompt-ids") > 0;
  args.trace_given = command.count("--trace") > 0;
  const bool json_out = args.json;
  std::vector<SubmissionMode> modes;
  if (args.model.mode == "all")
    modes.assign(std::begin(llama::kAllModes), std::end(llama::kAllModes));
  else
    modes.push_back(llama::parse_mode(args.model.mode));

  // Everything that can be checked without a device is checked first.
  const ModelSource source = open_model_source(args.model);
  const Prompt prompt = make_prompt(args, source);
  std::vector<std::filesystem::path> inputs;
  if (source.path) inputs.push_back(*source.path);
  if (args.file_given && args.file != "-") inputs.push_back(args.file);
  std::unique_ptr<OutputFile> trace_file;
  // From here on a signal stops the run at its next token (a load in progress finishes first),
  // so the trace's temporary file is always either renamed or removed.
  const InterruptGuard interrupts;
  if (args.trace_given) trace_file = std::make_unique<OutputFile>("--trace", args.trace, inputs);

  const RunningModel running(args.model, source);
  const llama::LlamaModel& model = running.model();
  const DeviceInfo& info = running.device().info();
  if (!json_out)
    print_status("device: %s [%s] (%s)\n", info.name.c_str(), backend_name(info.backend),
                 info.backend_reason.c_str());

  llama::GenerateOptions go;
  go.max_new_tokens = args.tokens;
  go.layers_per_stage = args.model.layers_per_stage;
  go.stream_interval = std::chrono::milliseconds(args.model.stream_interval_ms);
  go.sampling = args.sampling.options();
  const tok::Tokenizer* tokenizer = source.tokenizer ? &*source.tokenizer : nullptr;
  if (tokenizer && !args.ignore_eos) {
    go.stop_after = [tokenizer](int32_t t) { return tokenizer->is_end_of_generation(t); };
    go.stop_ids = llama::device_stop_ids(tokenizer->end_of_generation_ids());
  }
  go.cancelled = [] { return InterruptGuard::count() > 0; };

  llama::Generator generator = running.make_generator(args.model.forward_options());
  if (!json_out) {
    print_status("model: %s (%s): %s; %.1f MiB of weights, loaded in %.0f ms\n", model.name.c_str(),
                 source.source.c_str(), model.config.summary().c_str(),
                 double(model.weights.device_bytes()) / double(1 << 20), running.load_ms());
    if (running.ranks() > 1)
      print_status("tensor parallel: %s (MiB of weights above are rank 0's)\n",
                   running.tensor_parallel_description().c_str());
    if (!prompt.text.empty())
      print_status("prompt: \"%s\" (%s)%s, %zu tokens\n", printable(prompt.text).c_str(),
                   prompt.origin.c_str(), prompt.chat ? " as a chat message" : "",
                   prompt.ids.size());
    else
      print_status("prompt: %zu tokens [%s] (%s)\n", prompt.ids.size(),
                   join_ids(prompt.ids, ", ").c_str(), prompt.origin.c_str());
    print_status("generating at most %d tokens, %s, layers per stage %d\n\n", go.max_new_tokens,
                 go.sampling.temperature > 0 ? "sampled" : "greedy", go.layers_per_stage);
  }

  const auto decode_text = [&](const std::vector<int32_t>& tokens) {
    return tokenizer ? tokenizer->decode(tokens) : model.text.decode(tokens);
  };
  const bool has_text = tokenizer || !model.text.empty();
  std::vector<Run> runs;
  {
    if (trace_file) trace::start();
    for (size_t i = 0; i < modes.size() && InterruptGuard::count() == 0; ++i) {
      go.mode = modes[i];
      // The first run streams its text as tokens arrive; the others only check their tokens.
      std::unique_ptr<tok::IncrementalDecoder> decoder;
      const auto start = std::chrono::steady_clock::now();
      double ttft_ms = 0;
      const bool stream = i == 0 && !json_out;
      if (stream && tokenizer) decoder = std::make_unique<tok::IncrementalDecoder>(*tokenizer);
      go.on_token = [&](int step, int32_t token) {
        if (step == 0) ttft_ms = ms_since(start);
        if (decoder) write_stdout(printable(decoder->push(token)));
      };
      Run run;
      try {
        run.result = generator.generate(prompt.ids, go);
      } catch (...) {
        if (trace::active()) trace::stop();
        throw;
      }
      run.ttft_ms = ttft_ms;
      run.has_text = has_text;
      if (has_text) run.text = decode_text(run.result.tokens);
      run.end_of_generation = tokenizer && !args.ignore_eos && !run.result.tokens.empty() &&
                              tokenizer->is_end_of_generation(run.result.tokens.back());
      if (decoder)
        write_stdout(printable(decoder->finish()) + "\n");
      else if (stream && has_text)
        write_stdout(printable(run.text) + "\n");
      runs.push_back(std::move(run));
    }
    running.synchronize();
    if (trace_file) trace_file->commit(trace::stop());
  }
  const bool interrupted = InterruptGuard::count() > 0;
  if (runs.empty()) {
    print_status("interrupted by signal %d before the first run\n", InterruptGuard::last_signal());
    return InterruptGuard::exit_status();
  }
  bool tokens_match = true;
  for (const Run& r : runs) tokens_match &= r.result.tokens == runs.front().result.tokens;
  const Run& first = runs.front();
  const uint64_t bytes_per_token = weight_bytes_per_token(model);
  const double bandwidth = args.bandwidth ? copy_bandwidth_bytes_per_s() : 0.0;
  const double floor_ms = bandwidth > 0 ? 1e3 * double(bytes_per_token) / bandwidth : 0.0;
  const int status = interrupted ? InterruptGuard::exit_status() : tokens_match ? 0 : 3;

  if (json_out) {
    json doc = {
        {"schema", "stagefence.generate/1"},
        {"device", json::parse(device_json(info))},
        {"model", model.name},
        {"model_source", source.source},
        {"config", model.config.summary()},
        {"weight_bytes", model.weights.device_bytes()},
        {"weight_bytes_per_token", bytes_per_token},
        {"ranks", running.ranks()},
        {"load_ms", running.load_ms()},
        {"prompt", prompt.ids},
        {"prompt_text", prompt.text.empty() ? json(nullptr) : json(prompt.text)},
        {"prompt_origin", prompt.origin},
        {"chat", prompt.chat},
        {"copy_bandwidth_gb_s", bandwidth > 0 ? json(bandwidth / 1e9) : json(nullptr)},
        {"floor_ms_per_token", bandwidth > 0 ? json(floor_ms) : json(nullptr)},
        {"layers_per_stage", go.layers_per_stage},
        {"interrupted", interrupted},
        {"runs", json::array()},
        {"tokens_match", tokens_match},
    };
    for (const Run& r : runs) doc["runs"].push_back(run_json(r, prompt.ids.size()));
    write_stdout(doc.dump() + "\n", "the JSON report");
    return status;
  }

  const GenerationResult& r0 = first.result;
  print_status("tokens: %s%s%s\n", join_ids(r0.tokens, " ").c_str(),
               first.end_of_generation ? " (end of turn)" : "",
               r0.cancelled ? " (interrupted)" : "");
  if (r0.session_fallback)
    print_status(
        "note: STAGEFENCE_ENCODER_SESSION=0, so session/replay chain plain command encoders "
        "with the same fences\n");
  print_status(
      "prefill: %zu tokens in %d pass(es), %.2f ms, %.1f tok/s (%s); first token after "
      "%.2f ms\n",
      prompt.ids.size(), r0.prefill_passes, r0.prefill_ms,
      prefill_tokens_per_s(first, prompt.ids.size()), llama::mode_name(r0.mode), first.ttft_ms);
  print_status("\n%-9s %9s %8s %13s %7s %9s %9s %11s %7s %6s\n", "mode", "ms/token", "tok/s",
               "CPU us/token", "syncs", "cmd bufs", "graphs", "dispatches", "fences", "stages");
  for (const Run& run : runs) {
    const auto& d = run.result.decode;
    print_status("%-9s %9.3f %8.1f %13.1f %7.2f %9.2f %9.2f %11.1f %7.2f %6d\n",
                 llama::mode_name(run.result.mode), d.ms_per_token,
                 d.ms_per_token > 0 ? 1000.0 / d.ms_per_token : 0.0, d.cpu_us_per_token, d.syncs,
                 d.command_buffers, d.graph_launches, d.dispatches, d.fences_signalled,
                 run.result.stages_per_token);
  }
  print_status("(per decode token, averaged over %d tokens)\n", r0.decode.steps);
  if (bandwidth > 0)
    print_status(
        "floor: %.1f MiB of weights per token / %.2f GB/s host copy bandwidth (read + write) = "
        "%.3f ms/token (%.1f tok/s); measured %.3f ms/token is %.2fx the floor\n",
        double(bytes_per_token) / double(1 << 20), bandwidth / 1e9, floor_ms, 1e3 / floor_ms,
        r0.decode.ms_per_token, r0.decode.ms_per_token / floor_ms);
  if (runs.size() > 1) {
    print_status("tokens match across modes: %s\n", tokens_match ? "yes" : "NO");
    if (!tokens_match)
      for (const Run& run : runs)
        print_status("  %-9s %s\n", llama::mode_name(run.result.mode),
                     join_ids(run.result.tokens, " ").c_str());
  }
  if (interrupted)
    print_status("interrupted by signal %d: stopped at the next token\n",
                 InterruptGuard::last_signal());
  return status;
}

}  // namespace stagefence::cli
