// A Llama-family model on one device: configuration, weights and (when the file has one) the
// vocabulary for printing tokens.
#pragma once
#include <cstdint>
#include <filesystem>
#include <string>

#include "model/llama/config.hpp"
#include "model/llama/token_text.hpp"
#include "model/llama/weights.hpp"

namespace stagefence::gguf {
class GgufFile;
}

namespace stagefence::llama {

struct LlamaModel {
  std::string name;
  LlamaConfig config;
  LlamaWeights weights;
  TokenText text;    // empty without a vocabulary
  ShardShape shard;  // what this rank holds; everything unless split by tensor parallelism
};

// Reads the configuration, checks and uploads every weight. Format errors name the key or the
// tensor; on any error nothing stays allocated.
LlamaModel load_model(Device& device, const gguf::GgufFile& file,
                      const LoadProgress& progress = {});
LlamaModel load_model(Device& device, const std::filesystem::path& path,
                      const LoadProgress& progress = {});
// Rank tp.rank's shard of the model for tensor-parallel decode (tensor_parallel.hpp). Throws
// InvalidArgument when the shape does not split across tp.ranks.
LlamaModel load_model_shard(Device& device, const gguf::GgufFile& file, TensorParallel tp,
                            const LoadProgress& progress = {});

// A model of the given shape with random weights of the given types, made straight into device
// buffers (no file). This is how benchmarks build, say, a Llama-3-8B shape:
//   LlamaConfig c = llama3_8b_config();  // or fill the fields
//   LlamaModel m = random_model(dev, c, WeightTypes::all(DType::BF16), 1234);
LlamaModel random_model(Device& device, const LlamaConfig& config, const WeightTypes& types,
                        uint64_t seed, const LoadProgress& progress = {});

// Llama-3-8B's shape: 32 layers, dim 4096, 32 heads (8 kv) x 128, ffn 14336, vocab 128256,
// adjacent-pair RoPE (GGUF llama) with theta 500000.
LlamaConfig llama3_8b_config();

}  // namespace stagefence::llama
