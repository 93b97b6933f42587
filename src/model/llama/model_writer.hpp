// Writes a Llama-family model with deterministic random weights as GGUF through the project's
// GGUF writer: the built-in model and the test models use it, so they go through the same
// loader as a downloaded file.
#pragma once
#include <cstdint>
#include <string>
#include <utility>
#include <vector>

#include "model/gguf/gguf_writer.hpp"
#include "model/llama/config.hpp"
#include "model/llama/random_init.hpp"

namespace stagefence::llama {

// The metadata keys and values that describe `config` (general.architecture, <arch>.*), in the
// order they are written.
std::vector<std::pair<std::string, gguf::Value>> config_metadata(const LlamaConfig& config);

// Writes config_metadata(config) and every tensor of tensor_layout(config) with random values
// of the given types (norms and biases F32).
void add_random_model(gguf::GgufWriter& writer, const LlamaConfig& config, const WeightTypes& types,
                      uint64_t seed);

// tokenizer.ggml.model and tokenizer.ggml.tokens.
void add_vocabulary(gguf::GgufWriter& writer, const std::string& model,
                    std::vector<std::string> tokens);

}  // namespace stagefence::llama
