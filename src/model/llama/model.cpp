#include "model/llama/model.hpp"

#include <cstdint>

#include "model/gguf/gguf_file.hpp"
#include "model/llama/shapes.hpp"

namespace stagefence::llama {

LlamaModel load_model(Device& device, const gguf::GgufFile& file, const LoadProgress& progress) {
  return load_model_shard(device, file, {}, progress);
}

LlamaModel load_model_shard(Device& device, const gguf::GgufFile& file, TensorParallel tp,
                            const LoadProgress& progress) {
  LlamaModel m;
  m.config = config_from_gguf(file);
  m.name = file.try_get_string("general.name").value_or(m.config.architecture);
  m.text = TokenText::from_gguf(file);
  // Only a split is constrained by the block sizes of the column-split tensors.
  SplitTypes types;
  if (tp.ranks > 1)
    types = {file.tensor("blk.0.attn_output.weight").dtype,
             file.tensor("blk.0.ffn_down.weight").dtype};
  m.shard = shard_shape(m.config, tp, types);
  m.weights = load_weights(device, file, m.config, progress, m.shard.split() ? &m.shard : nullptr);
  return m;
}

LlamaModel load_model(Device& device, const std::filesystem::path& path,
                      const LoadProgress& progress) {
  const gguf::GgufFile file = gguf::GgufFile::open(path);
  LlamaModel m = load_model(device, file, progress);
  if (m.name == m.config.architecture) m.name = path.filename().string();
  return m;
}

LlamaModel random_model(Device& device, const LlamaConfig& config, const WeightTypes& types,
                        uint64_t seed, const LoadProgress& progress) {
  LlamaModel m;
  m.name = "random " + config.architecture;
  m.config = config;
  m.weights = random_weights(device, config, types, seed, progress);
  m.shard = shard_shape(config, {});
  return m;
}

LlamaConfig llama3_8b_config() {
  return shape_config("llama3-8b");
}

}  // namespace stagefence::llama
