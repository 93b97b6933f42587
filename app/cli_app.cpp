#include "cli_app.hpp"

#include <CLI/CLI.hpp>
#include <csignal>
#include <cstdio>
#include <string>
#include <vector>

#include "chat.hpp"
#include "doctor.hpp"
#include "generate.hpp"
#include "serve.hpp"
#include "stagefence/error.hpp"

namespace stagefence::cli {
namespace {

constexpr const char* kSubcommands[] = {"generate", "chat", "serve", "doctor", "help"};

bool is_subcommand(const std::string& word) {
  for (const char* s : kSubcommands)
    if (word == s) return true;
  return false;
}

int report(const char* what) {
  std::fprintf(stderr, "stagefence: %s\n", what);
  return 0;
}

}  // namespace

int run_cli(int argc, char** argv) {
  // A closed stdout must be a write error the CLI reports, not a silent SIGPIPE death.
  std::signal(SIGPIPE, SIG_IGN);
  std::vector<std::string> words(argv + 1, argv + argc);
  // `stagefence [options]` means `stagefence generate [options]`.
  if (words.empty() || (!is_subcommand(words[0]) && words[0] != "-h" && words[0] != "--help"))
    words.insert(words.begin(), "generate");
  if (words[0] == "help") words = {"--help"};
  if (words[0] == "doctor") {
    std::vector<char*> doctor_argv;
    for (std::string& w : words) doctor_argv.push_back(w.data());
    return run_doctor(int(doctor_argv.size()), doctor_argv.data());
  }

  CLI::App app{
      "stagefence: staged Llama-family inference on CUDA or the CPU. Without a subcommand, "
      "`generate` runs.",
      "stagefence"};
  app.require_subcommand(1);
  GenerateArgs generate;
  ChatArgs chat;
  ServeArgs serve;
  CLI::App* generate_cmd = add_generate_command(app, generate);
  CLI::App* chat_cmd = add_chat_command(app, chat);
  CLI::App* serve_cmd = add_serve_command(app, serve);
  app.add_subcommand("doctor",
                     "Report the backend this machine gets and why, the GPU, and "
                     "every environment flag (--json for JSON)");
  app.add_subcommand("help", "Show this help");

  std::vector<std::string> reversed(words.rbegin(), words.rend());
  try {
    app.parse(reversed);
  } catch (const CLI::CallForHelp&) {
    const CLI::App* shown = &app;
    for (CLI::App* sub : {generate_cmd, chat_cmd, serve_cmd})
      if (sub->parsed()) shown = sub;
    std::fputs(shown->help().c_str(), stdout);
    return std::fflush(stdout) == 0 ? 0 : 1;
  } catch (const CLI::ParseError& e) {
    std::fprintf(stderr, "stagefence: %s (see stagefence %s--help)\n", e.what(),
                 words.empty() ? "" : (words[0] + " ").c_str());
    return 2;
  }
  try {
    if (generate_cmd->parsed()) return run_generate(*generate_cmd, generate);
    if (chat_cmd->parsed()) return run_chat(*chat_cmd, chat);
    if (serve_cmd->parsed()) return run_serve(*serve_cmd, serve);
  } catch (const Error& e) {
    report(e.what());
    return e.code() == ErrorCode::InvalidArgument ? 2 : 1;
  } catch (const std::exception& e) {
    std::fprintf(stderr, "stagefence: error: %s\n", e.what());
    return 1;
  }
  return 2;
}

}  // namespace stagefence::cli
