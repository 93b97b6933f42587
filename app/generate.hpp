// The `generate` subcommand (the default): load a model, prefill a prompt, decode tokens in one
// or every submission mode. The answer streams to stdout as tokens arrive; the device, model,
// prompt and per-token figures go to stderr, or everything as one JSON object with --json.
#pragma once
#include <CLI/CLI.hpp>
#include <optional>
#include <string>

#include "run_options.hpp"

namespace stagefence::cli {

struct GenerateArgs {
  ModelArgs model;
  SamplingArgs sampling;
  std::string prompt, file, prompt_ids, system, trace;
  bool prompt_given = false, file_given = false, ids_given = false, trace_given = false;
  bool chat = false, ignore_eos = false, bandwidth = false, json = false;
  int tokens = 32;
};

CLI::App* add_generate_command(CLI::App& app, GenerateArgs& args);
// Returns the exit status: 0, 3 when modes disagree, 128 + signal when interrupted. Throws
// stagefence::Error for bad input or runtime failures.
int run_generate(const CLI::App& command, GenerateArgs& args);

}  // namespace stagefence::cli
