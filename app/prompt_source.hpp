// Where a prompt comes from: --prompt TEXT, --file PATH, or standard input ("-" for either, or
// a pipe or redirected file when neither is given). One trailing newline is dropped, as
// `echo` adds it.
#pragma once
#include <optional>
#include <string>

namespace stagefence::cli {

struct PromptText {
  std::string text;
  std::string origin;  // "--prompt", "--file PATH" or "standard input"
};

// `prompt` and `file` are the flags' values when given (at most one; CLI11 enforces it).
// Without either, standard input is read when it is a pipe or a file and gives something
// within `stdin_wait_s` seconds (so an idle inherited pipe is an error, not a hang); an empty
// one gives nullopt. Throws InvalidArgument naming the flag for an unreadable file or an empty
// prompt that was asked for.
std::optional<PromptText> read_prompt(const std::optional<std::string>& prompt,
                                      const std::optional<std::string>& file,
                                      int stdin_wait_s = 10);

}  // namespace stagefence::cli
