// The `chat` subcommand: an interactive conversation with the model's chat template. Each turn
// reuses the KV cache of the conversation so far and prefills only the new message. Ctrl-C
// stops the current answer; a second Ctrl-C, or Ctrl-C or Ctrl-D at the prompt, leaves.
#pragma once
#include <CLI/CLI.hpp>
#include <string>

#include "run_options.hpp"

namespace stagefence::cli {

struct ChatArgs {
  ModelArgs model;
  SamplingArgs sampling;
  std::string system;
  int tokens = 1024;
};

CLI::App* add_chat_command(CLI::App& app, ChatArgs& args);
int run_chat(const CLI::App& command, ChatArgs& args);

}  // namespace stagefence::cli
