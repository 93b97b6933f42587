// The model-loading fuzz target's body, shared with its regression test: GGUF bytes through the
// reader, the configuration, the tensor layout and weight loading into a model on a CPU device.
// A file is either loaded or rejected with a Format error before anything large is allocated;
// any other outcome is a finding.
#pragma once
#include <cstddef>
#include <cstdint>
#include <span>
#include <string>

#include "model/gguf/gguf_file.hpp"
#include "model/llama/model.hpp"
#include "stagefence/counters.hpp"
#include "stagefence/device.hpp"
#include "stagefence/error.hpp"

namespace stagefence::fuzzing {

enum class LoadOutcome { Loaded, Rejected };

// Throws Error(Internal) describing the broken promise; other errors than Format pass through.
inline LoadOutcome load_model_bytes(Device& device, std::span<const std::byte> bytes) {
  const int64_t live = counters::snapshot().live_allocations;
  const auto broken = [](const std::string& what) {
    raise(ErrorCode::Internal, "model_load_fuzz: " + what);
  };
  try {
    const gguf::GgufFile file = gguf::GgufFile::from_memory(bytes);
    const llama::LlamaModel model = llama::load_model(device, file);
    // Weights come from the file's bytes (norms widened from 16 bits at most double), so a
    // loaded model can never hold much more than the file.
    if (model.weights.device_bytes() > 2 * bytes.size())
      broken("a model of " + std::to_string(model.weights.device_bytes()) +
             " device bytes from a file of " + std::to_string(bytes.size()));
    if (int(model.weights.layers.size()) != model.config.layers)
      broken("layer count differs from block_count");
    if (model.text.size() != 0 && model.text.size() != size_t(model.config.vocab))
      broken("token text differs from the vocabulary size");
    return LoadOutcome::Loaded;
  } catch (const Error& e) {
    if (e.code() != ErrorCode::Format) throw;
    // A rejected file keeps nothing on the device.
    if (counters::snapshot().live_allocations != live) broken("a rejected file left allocations");
    return LoadOutcome::Rejected;
  }
}

}  // namespace stagefence::fuzzing
