// The model a subcommand runs, read as far as possible before any device opens: the GGUF file
// (mapped), its configuration, its tokenizer and chat template. Broken tokenizer metadata is an
// error here even when the prompt is given as ids, so a bad file never runs quietly.
#pragma once
#include <filesystem>
#include <optional>
#include <string>
#include <vector>

#include "model/gguf/gguf_file.hpp"
#include "model/llama/config.hpp"
#include "model/llama/model.hpp"
#include "model/tokenizer/chat_template.hpp"
#include "model/tokenizer/tokenizer.hpp"
#include "run_options.hpp"
#include "stagefence/device.hpp"

namespace stagefence::cli {

struct ModelSource {
  std::optional<gguf::GgufFile> file;
  std::optional<std::filesystem::path> path;  // empty for the built-in model
  std::string source;  // "--model", "STAGEFENCE_MODEL_GGUF", "installed" or "built-in"
  llama::LlamaConfig config;
  std::optional<tok::Tokenizer> tokenizer;
  std::string tokenizer_missing;  // why there is no tokenizer
  std::optional<tok::ChatTemplate> chat_template;
  std::string chat_template_error;  // why there is no chat template

  // The display name: the file's name, or the built-in model's.
  std::string name() const;
  // The chat template, or Error(Unsupported) saying why there is none.
  const tok::ChatTemplate& chat() const;
  // The tokenizer, or Error(InvalidArgument) "<command> needs a model with a tokenizer: why".
  const tok::Tokenizer& tokenizer_for(const std::string& command) const;
};

// `model_arg`: --model when given. Notes (the built-in fallback) go to stderr.
ModelSource open_model_source(const std::optional<std::string>& model_arg);
// The model --model names, else the locator's choice.
ModelSource open_model_source(const ModelArgs& args);

// Loads one shard per device (tensor parallel when there are several), with a progress bar on
// a terminal.
std::vector<llama::LlamaModel> load_shards(const std::vector<Device*>& devices,
                                           const ModelSource& source);

// Opens `ranks` devices of the same backend (GPUs 0..ranks-1 on CUDA).
std::vector<std::unique_ptr<Device>> open_devices(DeviceOptions options, int ranks);

}  // namespace stagefence::cli
