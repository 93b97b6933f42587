// Whole models and KV caches made by the hash initialiser (device_init.hpp).
#include <cstdint>
#include <string>

#include "kernels/register.hpp"
#include "model/llama/device_init.hpp"
#include "model/llama/weights.hpp"
#include "model/staged/stage_plan.hpp"
#include "stagefence/error.hpp"
#include "stagefence/kernel.hpp"

namespace stagefence::llama {

LlamaModel hashed_model(Device& device, const LlamaConfig& config, const WeightTypes& types,
                        uint64_t seed, TensorParallel tp) {
  config.validate();
  const std::vector<TensorSpec> layout = tensor_layout(config);
  LlamaModel m;
  m.name = "hashed " + config.architecture;
  m.config = config;
  m.shard = shard_shape(config, tp, {types.attention, types.ffn_down});
  // Every fill is worked out (and every type checked) before anything is allocated. A shard
  // takes the whole tensor's fill (same amplitudes) over its own element count.
  std::vector<HashFill> fills;
  std::vector<TensorSpec> locals;
  for (const TensorSpec& spec : layout) {
    fills.push_back(weight_fill(spec, types.type_of(spec), seed));
    locals.push_back(local_spec(spec, tensor_slice(spec, config, m.shard)));
    if (locals.back().cols > 0)
      dtype_bytes(fills.back().dtype, uint64_t(locals.back().cols));  // rows of whole blocks
  }

  m.weights.layers.resize(size_t(config.layers));
  CommandEncoder enc = device.command_encoder();
  enc.set_label("hash init weights");
  for (size_t i = 0; i < layout.size(); ++i) {
    const TensorSpec& spec = locals[i];
    const uint64_t elements = uint64_t(spec.rows) * uint64_t(spec.cols);
    if (elements == 0) continue;  // this rank holds none of it
    Weight w{device.alloc(dtype_bytes(fills[i].dtype, elements)), fills[i].dtype, int(spec.rows),
             int(spec.cols)};
    record_hash_fill(enc, w.buffer, elements, fills[i]);
    weight_slot(m.weights, spec) = std::move(w);
  }
  enc.commit_and_wait();
  tie_output(m.weights, config, &m.shard);
  return m;
}

std::vector<std::pair<Buffer, Buffer>> kv_cache_buffers(Device& device,
                                                        const LlamaForward& forward) {
  (void)device;
  const KvCache& cache = forward.kv_cache();
  std::vector<std::pair<Buffer, Buffer>> caches;
  for (size_t l = 0; l < cache.k.size(); ++l) caches.emplace_back(cache.k[l], cache.v[l]);
  return caches;
}

void fill_kv_cache(Device& device, const LlamaForward& forward, int positions, uint64_t seed) {
  const LlamaConfig& c = forward.model().config;
  if (positions < 0 || positions > forward.capacity())
    raise(ErrorCode::InvalidArgument, "fill_kv_cache: " + std::to_string(positions) +
                                          " positions; the cache holds " +
                                          std::to_string(forward.capacity()));
  const std::vector<std::pair<Buffer, Buffer>> caches = kv_cache_buffers(device, forward);
  CommandEncoder enc = device.command_encoder();
  enc.set_label("hash init kv cache");
  for (size_t l = 0; l < caches.size(); ++l) {
    const int kv_heads = forward.shard().kv_heads;  // this rank's heads of the cache
    record_hash_kv_fill(enc, caches[l].first, kv_heads, forward.capacity(), c.head_dim, positions,
                        kv_fill(seed, int(l), false));
    record_hash_kv_fill(enc, caches[l].second, kv_heads, forward.capacity(), c.head_dim, positions,
                        kv_fill(seed, int(l), true));
  }
  enc.commit_and_wait();
}

}  // namespace stagefence::llama
