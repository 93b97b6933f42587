#include "serve.hpp"

#include <atomic>
#include <chrono>
#include <cstdint>
#include <cstdio>
#include <ctime>
#include <thread>

#include "interrupts.hpp"
#include "model_source.hpp"
#include "option_checks.hpp"
#include "running_model.hpp"
#if STAGEFENCE_WITH_SERVER
#include "server/http_server.hpp"
#endif
#include "stagefence/error.hpp"

namespace stagefence::cli {

CLI::App* add_serve_command(CLI::App& app, ServeArgs& a) {
  CLI::App* s = app.add_subcommand(
      "serve",
      "Serve the model over HTTP with the OpenAI API: POST /v1/chat/completions and "
      "/v1/completions (streaming as server-sent events), GET /v1/models, /health, /metrics. "
      "See docs/server.md.");
  add_model_options(*s, a.model, /*allow_all_modes=*/false);
  s->add_option("--host", a.host, "address to listen on (default: 127.0.0.1, loopback only)")
      ->type_name("ADDR")
      ->check(non_empty("an address such as 127.0.0.1"));
  s->add_option("--port", a.port, "TCP port; 0 = any free port, printed at start (default: 8080)")
      ->type_name("PORT")
      ->check(integer_in(0, 65535));
  s->add_option("--parallel", a.parallel,
                "sessions sharing the model, each with its own KV cache (default: 1)")
      ->type_name("N")
      ->check(integer_in(1, 256));
  s->add_option("--api-key", a.api_key,
                "require 'Authorization: Bearer KEY' on every request (default: none)")
      ->type_name("KEY")
      ->check(non_empty("a key"));
  s->add_option("--alias", a.alias, "the model id clients name (default: the file's name)")
      ->type_name("NAME")
      ->check(non_empty("a name"));
  s->add_option("--queue-limit", a.queue_limit,
                "requests that may wait for a slot; more get 503 (default: 64)")
      ->type_name("N")
      ->check(integer_in(0, 4096));
  s->add_option("--request-timeout", a.request_timeout,
                "seconds a request may wait and generate before it is cancelled (default: 600)")
      ->type_name("S")
      ->check(integer_in(1, 86400));
  s->add_option("--threads", a.threads,
                "HTTP worker threads; 0 = parallel + queue limit + 4 (default: 0)")
      ->type_name("N")
      ->check(integer_in(0, 4096));
  return s;
}

#if !STAGEFENCE_WITH_SERVER
int run_serve(const CLI::App&, ServeArgs&) {
  raise(ErrorCode::Unsupported,
        "serve: this build has no HTTP server (cpp-httplib, Debian's libcpp-httplib-dev, was not "
        "found when it was configured)");
}
#else
int run_serve(const CLI::App& command, ServeArgs& args) {
  finish_model_options(command, args.model);
  const llama::SubmissionMode mode = llama::parse_mode(args.model.mode);
  const ModelSource source = open_model_source(args.model);
  const tok::Tokenizer& tokenizer = source.tokenizer_for("serve");
  if (!source.chat_template)
    std::fprintf(stderr, "stagefence: chat completions are off: %s\n",
                 source.chat_template_error.c_str());

  const RunningModel running(args.model, source);
  const DeviceInfo& info = running.device().info();
  std::fprintf(stderr, "device: %s [%s] (%s)\n", info.name.c_str(), backend_name(info.backend),
               info.backend_reason.c_str());

  server::SchedulerOptions so;
  so.parallel = args.parallel;
  so.queue_limit = args.queue_limit;
  so.mode = mode;
  so.layers_per_stage = args.model.layers_per_stage;
  so.stream_interval = std::chrono::milliseconds(args.model.stream_interval_ms);
  const llama::ForwardOptions fo = args.model.forward_options();
  server::Scheduler scheduler([&] { return running.make_generator(fo); }, tokenizer, so);

  server::ServedModel served;
  served.id = args.alias.empty() ? source.name() : args.alias;
  served.tokenizer = &tokenizer;
  served.chat = source.chat_template ? &*source.chat_template : nullptr;
  served.chat_error = source.chat_template_error;
  served.created = int64_t(std::time(nullptr));

  server::HttpOptions ho;
  ho.host = args.host;
  ho.port = args.port;
  ho.api_key = args.api_key;
  ho.threads = args.threads;
  ho.request_timeout = std::chrono::seconds(args.request_timeout);
  server::HttpServer http(scheduler, served, ho, args.queue_limit);
  const int port = http.bind();
  std::fprintf(stderr,
               "model: %s: %s; %d slot(s) of %d context tokens, %s mode\n"
               "listening on http://%s:%d (OpenAI API under /v1; Ctrl-C stops)\n",
               served.id.c_str(), running.model().config.summary().c_str(), args.parallel,
               scheduler.context(), llama::mode_name(mode), args.host.c_str(), port);
  std::fflush(stderr);

  const InterruptGuard interrupts;
  std::atomic<bool> listener_done{false};
  std::thread watcher([&] {
    while (InterruptGuard::count() == 0 && !listener_done)
      std::this_thread::sleep_for(std::chrono::milliseconds(100));
    // Cancel the jobs first: the HTTP threads waiting on them return, so the listener's thread
    // pool can join.
    scheduler.stop();
    http.stop();
  });
  http.run();  // returns after stop(), or when the listener fails
  listener_done = true;
  watcher.join();
  running.synchronize();
  if (InterruptGuard::count() == 0) {
    std::fprintf(stderr, "stagefence serve: the listener on %s:%d failed\n", args.host.c_str(),
                 port);
    return 1;
  }
  std::fprintf(stderr, "stagefence serve: stopped (signal %d)\n", InterruptGuard::last_signal());
  return 0;
}

#endif

}  // namespace stagefence::cli
