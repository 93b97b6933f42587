// The `generate` subcommand: load a model (the built-in one by default), prefill a prompt,
// decode tokens in one or every submission mode, and print the tokens and per-token figures.
#pragma once
#include <string>
#include <vector>

namespace stagefence::cli {

// Returns the process exit status; throws stagefence::Error for bad input or runtime failures.
int run_generate(const std::vector<std::string>& args);
std::string generate_help();

}  // namespace stagefence::cli
