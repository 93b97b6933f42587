#include "chat.hpp"

#include <poll.h>
#include <unistd.h>

#include <algorithm>
#include <cerrno>
#include <chrono>
#include <cstdint>
#include <cstdio>
#include <cstring>
#include <optional>

#include "checked_output.hpp"
#include "interrupts.hpp"
#include "model/tokenizer/incremental_decoder.hpp"
#include "model_source.hpp"
#include "option_checks.hpp"
#include "running_model.hpp"
#include "stagefence/error.hpp"
#include "text_display.hpp"

namespace stagefence::cli {
namespace {

// Lines from standard input that give up when a signal arrives (poll in short slices).
class LineReader {
 public:
  // The next line without its newline; nullopt at end of input or after a signal beyond
  // `signals_seen`.
  std::optional<std::string> next(int signals_seen) {
    while (true) {
      if (const size_t nl = pending_.find('\n'); nl != std::string::npos) {
        std::string line = pending_.substr(0, nl);
        pending_.erase(0, nl + 1);
        if (!line.empty() && line.back() == '\r') line.pop_back();
        return line;
      }
      if (eof_) {
        if (pending_.empty()) return std::nullopt;
        return std::exchange(pending_, std::string());
      }
      if (InterruptGuard::count() > signals_seen) return std::nullopt;
      pollfd p{STDIN_FILENO, POLLIN, 0};
      if (::poll(&p, 1, 100) <= 0) continue;
      char buf[4096];
      const ssize_t n = ::read(STDIN_FILENO, buf, sizeof buf);
      if (n < 0 && errno == EINTR) continue;
      if (n < 0)
        raise(ErrorCode::Io, std::string("reading standard input failed: ") + std::strerror(errno));
      if (n == 0) eof_ = true;
      pending_.append(buf, size_t(std::max<ssize_t>(n, 0)));
    }
  }

 private:
  std::string pending_;
  bool eof_ = false;
};

}  // namespace

CLI::App* add_chat_command(CLI::App& app, ChatArgs& a) {
  CLI::App* c = app.add_subcommand(
      "chat",
      "Talk with the model: one line of standard input per turn, the answer on stdout. The "
      "conversation's KV cache is kept across turns. Ctrl-C stops the answer; a second Ctrl-C, "
      "or Ctrl-D, leaves.");
  add_model_options(*c, a.model, /*allow_all_modes=*/false);
  c->add_option("--system", a.system, "a system message that starts the conversation")
      ->type_name("TEXT");
  c->add_option("-n,--tokens", a.tokens, "tokens per answer at most, >= 1 (default: 1024)")
      ->type_name("N")
      ->check(integer_in(1, 1 << 20));
  add_sampling_options(*c, a.sampling);
  return c;
}

int run_chat(const CLI::App& command, ChatArgs& args) {
  finish_model_options(command, args.model);
  const llama::SubmissionMode mode = llama::parse_mode(args.model.mode);
  const ModelSource source = open_model_source(args.model);
  const tok::Tokenizer& tokenizer = source.tokenizer_for("chat");
  const tok::ChatTemplate& chat = source.chat();  // a clear error when the file has none

  const RunningModel running(args.model, source);
  llama::Generator generator = running.make_generator(args.model.forward_options());
  const int context = generator.forward().capacity();
  const bool interactive = isatty(STDIN_FILENO);
  std::fprintf(stderr, "chat with %s (%s template, %d context tokens) on %s; Ctrl-D leaves\n",
               source.name().c_str(), tok::family_name(chat.family()), context,
               running.device().info().name.c_str());

  std::vector<tok::ChatMessage> messages;
  if (!args.system.empty()) messages.push_back({"system", args.system});
  const InterruptGuard interrupts;
  LineReader lines;
  llama::GenerateOptions go;
  go.mode = mode;
  go.layers_per_stage = args.model.layers_per_stage;
  go.stream_interval = std::chrono::milliseconds(args.model.stream_interval_ms);
  go.sampling = args.sampling.options();
  go.reuse_cached_prefix = true;
  go.stop_after = [&](int32_t t) { return tokenizer.is_end_of_generation(t); };
  go.stop_ids = llama::device_stop_ids(tokenizer.end_of_generation_ids());
  while (true) {
    if (interactive) std::fprintf(stderr, "> "), std::fflush(stderr);
    const std::optional<std::string> line = lines.next(InterruptGuard::count());
    if (!line) break;
    if (line->empty()) continue;
    messages.push_back({"user", *line});
    const std::vector<int32_t> prompt = tokenizer.encode(chat.render(messages, true));
    if (int(prompt.size()) > context) {
      std::fprintf(stderr,
                   "stagefence: the conversation has %zu tokens and no longer fits the context "
                   "of %d (--context): leaving\n",
                   prompt.size(), context);
      return 1;
    }
    go.max_new_tokens = std::min(args.tokens, context - int(prompt.size()) + 1);
    const int signals_before = InterruptGuard::count();
    go.cancelled = [signals_before] { return InterruptGuard::count() > signals_before; };
    tok::IncrementalDecoder decoder(tokenizer);
    go.on_token = [&](int, int32_t token) { write_stdout(printable(decoder.push(token))); };
    const auto start = std::chrono::steady_clock::now();
    const llama::GenerationResult r = generator.generate(prompt, go);
    write_stdout(printable(decoder.finish()) + "\n");
    const double s =
        std::chrono::duration<double>(std::chrono::steady_clock::now() - start).count();
    std::vector<int32_t> answer = r.tokens;
    if (!answer.empty() && tokenizer.is_end_of_generation(answer.back())) answer.pop_back();
    messages.push_back({"assistant", tokenizer.decode(answer)});
    std::fprintf(stderr, "[%zu prompt tokens, %d cached; %zu answer tokens in %.2f s%s]\n",
                 prompt.size(), r.cached_prompt_tokens, r.tokens.size(), s,
                 r.cancelled ? "; stopped" : "");
    if (InterruptGuard::count() - signals_before >= 2) break;  // a second Ctrl-C leaves
  }
  return 0;
}

}  // namespace stagefence::cli
