// The options generate, chat and serve share (which model, on which backend, how it is staged,
// how tokens are sampled), declared once on each subcommand with their ranges.
#pragma once
#include <CLI/CLI.hpp>
#include <cstdint>
#include <string>

#include "model/llama/forward.hpp"
#include "model/llama/generator.hpp"
#include "stagefence/device.hpp"

namespace stagefence::cli {

struct ModelArgs {
  std::string model;  // empty: $STAGEFENCE_MODEL_GGUF, the installed SmolLM2, the built-in model
  bool model_given = false;
  std::string backend = "auto";
  int ranks = 1;
  int context = 0;
  int prefill_chunk = 32;
  int layers_per_stage = 1;
  std::string mode = "session";
  int stream_interval_ms = 50;  // loop mode: host reads of the token ring

  DeviceOptions device_options() const;
  llama::ForwardOptions forward_options() const;
};

struct SamplingArgs {
  double temperature = 0;
  int top_k = 0;
  double top_p = 1;
  uint64_t seed = 0;

  llama::SamplingOptions options() const;
};

// `modes` lists the --mode words this subcommand takes ("all" only for generate).
void add_model_options(CLI::App& app, ModelArgs& args, bool allow_all_modes);
void add_sampling_options(CLI::App& app, SamplingArgs& args);
// Reads what CLI11 cannot tell by value alone (whether --model was given) after parsing.
void finish_model_options(const CLI::App& app, ModelArgs& args);

}  // namespace stagefence::cli
