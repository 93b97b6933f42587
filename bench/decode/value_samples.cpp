#include "value_samples.hpp"

#include <algorithm>
#include <cstdint>
#include <cstring>
#include <utility>

#include "kernels/quant_blocks.hpp"
#include "model/llama/device_init.hpp"
#include "model/llama/device_init_hash.hpp"
#include "model/llama/tensor_layout.hpp"
#include "stagefence/error.hpp"

namespace stagefence::bench {
namespace {

namespace di = llama::device_init;

// The bits the initialiser writes for element `index` of a plain-dtype fill.
uint32_t expected_bits(const llama::HashFill& fill, uint32_t index) {
  const float v =
      di::element_value(di::element_hash(fill.key.a, fill.key.b, index), fill.offset, fill.scale);
  switch (fill.dtype) {
    case DType::BF16:
      return quant::float_to_bf16(v);
    case DType::F16:
      return quant::float_to_half(v);
    default: {
      uint32_t bits;
      std::memcpy(&bits, &v, sizeof bits);
      return bits;
    }
  }
}

// Indices spread over a tensor of n elements: both ends, the middle and a few scattered ones.
std::vector<uint64_t> sample_indices(uint64_t n) {
  std::vector<uint64_t> idx = {0, 1, n / 2 + 3, n - 1};
  for (uint64_t k = 1; k <= 4; ++k) idx.push_back((k * 2654435761ull + k * k * 40503ull) % n);
  std::sort(idx.begin(), idx.end());
  idx.erase(std::unique(idx.begin(), idx.end()), idx.end());
  std::erase_if(idx, [n](uint64_t i) { return i >= n; });
  return idx;
}

}  // namespace

std::vector<WeightSample> sample_weights(const llama::LlamaModel& model, uint64_t seed) {
  const llama::LlamaConfig& c = model.config;
  const llama::LlamaWeights& w = model.weights;
  const std::string last = "blk." + std::to_string(c.layers - 1) + ".";
  std::vector<std::pair<std::string, const llama::Weight*>> chosen = {
      {"token_embd.weight", &w.token_embd},
      {"blk.0.attn_norm.weight", &w.layers[0].attn_norm},
      {"blk.0.attn_q.weight", &w.layers[0].wq},
      {"blk.0.attn_k.weight", &w.layers[0].wk},
      {"blk.0.attn_v.weight", &w.layers[0].wv},
      {"blk.0.ffn_down.weight", &w.layers[0].w_down},
      {last + "ffn_norm.weight", &w.layers.back().ffn_norm},
      {last + "ffn_gate.weight", &w.layers.back().w_gate},
      {last + "attn_output.weight", &w.layers.back().wo},
      {"output_norm.weight", &w.output_norm},
  };
  if (!c.tied_output) chosen.push_back({"output.weight", &w.output});

  const std::vector<llama::TensorSpec> layout = llama::tensor_layout(c);
  std::vector<WeightSample> out;
  for (const auto& [name, weight] : chosen) {
    const auto spec = std::find_if(layout.begin(), layout.end(),
                                   [&](const llama::TensorSpec& s) { return s.name == name; });
    if (spec == layout.end()) raise(ErrorCode::Internal, "sample_weights: no tensor " + name);
    if (weight->dtype != DType::F32 && weight->dtype != DType::F16 && weight->dtype != DType::BF16)
      continue;
    const llama::HashFill fill = llama::weight_fill(*spec, weight->dtype, seed);
    const uint64_t elem_bytes = weight->dtype == DType::F32 ? 4 : 2;
    for (uint64_t i : sample_indices(uint64_t(spec->rows) * uint64_t(spec->cols))) {
      uint32_t bits = 0;  // little-endian: a 2-byte value lands in the low half
      weight->buffer.download(&bits, elem_bytes, i * elem_bytes);
      const uint32_t want = expected_bits(fill, uint32_t(i));
      if (bits != want)
        raise(ErrorCode::Internal, "hashed " + name + "[" + std::to_string(i) + "] is " +
                                       std::to_string(bits) + " on the device, " +
                                       std::to_string(want) + " by the host formula");
      out.push_back({name, std::string(dtype_name(weight->dtype)), i, bits});
    }
  }
  return out;
}

std::vector<KvSample> sample_kv_cache(Device& device, const llama::LlamaForward& forward,
                                      int positions, uint64_t seed) {
  const llama::LlamaConfig& c = forward.model().config;
  const std::vector<std::pair<Buffer, Buffer>> caches = llama::kv_cache_buffers(device, forward);
  device.synchronize();
  std::vector<KvSample> out;
  for (int layer : {0, c.layers - 1}) {
    for (bool value : {false, true}) {
      const Buffer& cache = value ? caches[size_t(layer)].second : caches[size_t(layer)].first;
      const llama::HashFill fill = llama::kv_fill(seed, layer, value);
      for (int pos : {0, std::min(1, positions - 1), positions - 1}) {
        for (int k = 0; k < 3; ++k) {
          const int head = (k * 5 + pos) % c.kv_heads;
          const int dim = (k * 37 + pos * 11) % c.head_dim;
          const uint64_t offset =
              ((uint64_t(head) * uint64_t(forward.capacity()) + uint64_t(pos)) * c.head_dim +
               uint64_t(dim)) *
              2;
          uint16_t bits = 0;
          cache.download(&bits, 2, offset);
          const uint32_t index = di::kv_hash_index(uint32_t(pos), uint32_t(head), uint32_t(dim),
                                                   uint32_t(c.kv_heads), uint32_t(c.head_dim));
          const uint32_t want = expected_bits(fill, index);
          if (bits != want)
            raise(ErrorCode::Internal, "hashed KV cache of layer " + std::to_string(layer) +
                                           " at position " + std::to_string(pos) + " is " +
                                           std::to_string(bits) + " on the device, " +
                                           std::to_string(want) + " by the host formula");
          out.push_back({layer, value, pos, head, dim, bits});
        }
      }
    }
  }
  return out;
}

}  // namespace stagefence::bench
