// The `serve` subcommand: an OpenAI-compatible HTTP server over one loaded model, with
// --parallel slots (each its own KV cache) that take turns on the device one pass at a time.
#pragma once
#include <CLI/CLI.hpp>
#include <string>

#include "run_options.hpp"

namespace stagefence::cli {

struct ServeArgs {
  ModelArgs model;
  std::string host = "127.0.0.1", api_key, alias;
  int port = 8080, parallel = 1, queue_limit = 64, request_timeout = 600, threads = 0;
};

CLI::App* add_serve_command(CLI::App& app, ServeArgs& args);
// Serves until SIGINT or SIGTERM; returns 0 after a clean shutdown.
int run_serve(const CLI::App& command, ServeArgs& args);

}  // namespace stagefence::cli
