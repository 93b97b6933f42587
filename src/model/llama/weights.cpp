#include "model/llama/weights.hpp"

#include <algorithm>
#include <cstdint>
#include <map>
#include <set>
#include <string>

#include "kernels/dequant.hpp"
#include "model/gguf/gguf_file.hpp"
#include "model/gguf/mapped_copy.hpp"
#include "model/llama/tensor_layout.hpp"
#include "model/llama/tensor_parallel.hpp"
#include "stagefence/error.hpp"

namespace stagefence::llama {
namespace {

constexpr uint64_t kUploadSlabBytes = 64ull << 20;

std::string dims_text(const std::vector<uint64_t>& dims) {
  std::string s = "[";
  for (size_t i = 0; i < dims.size(); ++i) s += (i ? ", " : "") + std::to_string(dims[i]);
  return s + "]";
}

// The file must hold at least as many tensors as the configuration needs. Checked before the
// whole layout is listed: when it holds fewer, the first missing tensor is found layer by layer
// (a block_count of 2^30 in a small file fails at once instead of listing 2^30 layers).
void check_tensor_count(const gguf::GgufFile& file, const LlamaConfig& config) {
  const int64_t need = tensor_count(config), have = int64_t(file.tensors().size());
  if (need <= have) return;
  const std::string counts =
      " (" + config.architecture + ".block_count = " + std::to_string(config.layers) + " needs " +
      std::to_string(need) + " tensors; the file holds " + std::to_string(have) + ")";
  std::vector<std::string> model_wide = {"token_embd.weight", "output_norm.weight"};
  if (!config.tied_output) model_wide.push_back("output.weight");
  for (const std::string& name : model_wide)
    if (!file.find_tensor(name)) raise(ErrorCode::Format, "missing tensor " + name + counts);
  std::vector<TensorSpec> layer;
  for (int l = 0; l < config.layers; ++l) {  // ends within have / 9 layers
    layer.clear();
    append_layer_tensors(config, l, layer);
    for (const TensorSpec& spec : layer)
      if (!file.find_tensor(spec.name))
        raise(ErrorCode::Format, "missing tensor " + spec.name + counts);
  }
  raise(ErrorCode::Format, "the file lacks tensors" + counts);
}

// Every check a tensor must pass before anything is allocated.
void check_tensor(const gguf::GgufFile& file, const TensorSpec& spec) {
  const gguf::TensorView* t = file.find_tensor(spec.name);
  if (!t) raise(ErrorCode::Format, "missing tensor " + spec.name);
  const std::vector<uint64_t> want = spec.gguf_dims();
  if (t->dims != want)
    raise(ErrorCode::Format, "tensor " + spec.name + " has dims " + dims_text(t->dims) +
                                 ", expected " + dims_text(want));
  if (spec.is_vector()) {
    if (t->dtype != DType::F32 && t->dtype != DType::F16 && t->dtype != DType::BF16)
      raise(ErrorCode::Format, "tensor " + spec.name + " has type " +
                                   std::string(dtype_name(t->dtype)) + ", expected f32/f16/bf16");
  } else if (!kernels::is_forward_weight_type(t->dtype)) {
    raise(ErrorCode::Format, "tensor " + spec.name + " has type " +
                                 std::string(dtype_name(t->dtype)) +
                                 ", which has no forward kernels");
  }
  uint64_t bytes = 0;
  try {
    bytes = dtype_bytes(t->dtype, uint64_t(spec.rows) * uint64_t(spec.cols));
    dtype_bytes(t->dtype, uint64_t(spec.cols));  // rows must be whole blocks
  } catch (const Error&) {
    raise(ErrorCode::Format, "tensor " + spec.name + ": rows of " + std::to_string(spec.cols) +
                                 " are not whole " + std::string(dtype_name(t->dtype)) + " blocks");
  }
  if (bytes != t->n_bytes)
    raise(ErrorCode::Format, "tensor " + spec.name + " holds " + std::to_string(t->n_bytes) +
                                 " bytes, expected " + std::to_string(bytes));
}

Weight upload_raw(Device& device, const TensorSpec& spec, DType dtype, const uint8_t* data,
                  uint64_t bytes, uint64_t& done, uint64_t total, const LoadProgress& progress) {
  Weight w{device.alloc(bytes), dtype, int(spec.rows), int(spec.cols)};
  for (uint64_t off = 0; off < bytes; off += kUploadSlabBytes) {
    const uint64_t n = std::min(kUploadSlabBytes, bytes - off);
    w.buffer.upload(data + off, n, off);
    done += n;
    if (progress) progress(done, total);
  }
  return w;
}

// A tensor uploaded straight out of the file, slab by slab through `staging`: the copy out of a
// mapping is guarded (a file truncated under the load is an error naming it, not SIGBUS).
Weight upload_from_file(Device& device, const gguf::GgufFile& file, const gguf::TensorView& t,
                        const TensorSpec& spec, std::vector<uint8_t>& staging, uint64_t& done,
                        uint64_t total, const LoadProgress& progress) {
  Weight w{device.alloc(t.n_bytes), t.dtype, int(spec.rows), int(spec.cols)};
  const uint64_t slab = std::min(kUploadSlabBytes, t.n_bytes);
  if (staging.size() < slab) staging = gguf::host_bytes(slab, "the upload staging buffer");
  for (uint64_t off = 0; off < t.n_bytes; off += slab) {
    const uint64_t n = std::min(slab, t.n_bytes - off);
    gguf::copy_out(file, t.data + off, size_t(n), staging.data());
    w.buffer.upload(staging.data(), n, off);
    done += n;
    if (progress) progress(done, total);
  }
  return w;
}

void check_complete(const LlamaWeights& w, const LlamaConfig& c, const ShardShape* shard) {
  auto need = [](const Weight& x, const std::string& what) {
    if (!x.present()) raise(ErrorCode::Internal, "weights are missing " + what);
  };
  need(w.token_embd, "token_embd");
  need(w.output_norm, "output_norm");
  need(w.output, "output");
  for (size_t l = 0; l < w.layers.size(); ++l) {
    const LayerWeights& x = w.layers[l];
    for (const Weight* p : {&x.attn_norm, &x.wq, &x.wk, &x.wv, &x.wo, &x.ffn_norm})
      need(*p, "a weight of layer " + std::to_string(l));
    if (!shard || shard->ffn > 0)
      for (const Weight* p : {&x.w_gate, &x.w_up, &x.w_down})
        need(*p, "an FFN weight of layer " + std::to_string(l));
    if (c.qkv_bias) need(x.bv, "a bias of layer " + std::to_string(l));
    if (c.qk_norm) need(x.k_norm, "a QK-norm of layer " + std::to_string(l));
    if (c.post_norms) need(x.post_ffn_norm, "a post-norm of layer " + std::to_string(l));
  }
}

}  // namespace

void tie_output(LlamaWeights& w, const LlamaConfig& c, const ShardShape* shard) {
  if (!c.tied_output) return;
  w.output = w.token_embd;
  if (!shard || !shard->split()) return;
  const uint64_t row = dtype_bytes(w.token_embd.dtype, uint64_t(c.dim));
  w.output.buffer =
      w.token_embd.buffer.view(row * uint64_t(shard->vocab_begin), row * uint64_t(shard->vocab));
  w.output.rows = shard->vocab;
}

Weight& weight_slot(LlamaWeights& w, const TensorSpec& spec) {
  if (spec.layer < 0) {
    if (spec.role == TensorRole::Embedding || spec.role == TensorRole::TiedEmbedding)
      return w.token_embd;
    return spec.role == TensorRole::Output ? w.output : w.output_norm;
  }
  static const std::map<std::string, Weight LayerWeights::*> kSlots = {
      {"attn_norm.weight", &LayerWeights::attn_norm},
      {"attn_q.weight", &LayerWeights::wq},
      {"attn_k.weight", &LayerWeights::wk},
      {"attn_v.weight", &LayerWeights::wv},
      {"attn_output.weight", &LayerWeights::wo},
      {"attn_q.bias", &LayerWeights::bq},
      {"attn_k.bias", &LayerWeights::bk},
      {"attn_v.bias", &LayerWeights::bv},
      {"attn_q_norm.weight", &LayerWeights::q_norm},
      {"attn_k_norm.weight", &LayerWeights::k_norm},
      {"ffn_norm.weight", &LayerWeights::ffn_norm},
      {"ffn_gate.weight", &LayerWeights::w_gate},
      {"ffn_up.weight", &LayerWeights::w_up},
      {"ffn_down.weight", &LayerWeights::w_down},
      {"post_attention_norm.weight", &LayerWeights::post_attn_norm},
      {"post_ffw_norm.weight", &LayerWeights::post_ffn_norm},
  };
  const std::string prefix = "blk." + std::to_string(spec.layer) + ".";
  const auto it = kSlots.find(spec.name.substr(prefix.size()));
  if (spec.name.rfind(prefix, 0) != 0 || it == kSlots.end())
    raise(ErrorCode::Internal, "no weight slot for " + spec.name);
  return w.layers[size_t(spec.layer)].*(it->second);
}

uint64_t LlamaWeights::device_bytes() const {
  std::set<uint64_t> seen;
  uint64_t total = 0;
  auto count = [&](const Weight& w) {
    if (w.present() && seen.insert(w.buffer.allocation_id()).second) total += w.buffer.size();
  };
  count(token_embd);
  count(output_norm);
  count(output);
  for (const LayerWeights& l : layers)
    for (const Weight* p : l.all()) count(*p);
  return total;
}

LlamaWeights load_weights(Device& device, const gguf::GgufFile& file, const LlamaConfig& config,
                          const LoadProgress& progress, const ShardShape* shard) {
  config.validate();
  check_tensor_count(file, config);
  const std::vector<TensorSpec> layout = tensor_layout(config);
  uint64_t total = 0;
  for (const TensorSpec& spec : layout) {
    check_tensor(file, spec);
    const gguf::TensorView& t = file.tensor(spec.name);
    const TensorSpec local = shard ? local_spec(spec, tensor_slice(spec, config, *shard)) : spec;
    const uint64_t elements = uint64_t(local.rows) * uint64_t(local.cols);
    total += spec.is_vector() ? elements * 4 : dtype_bytes(t.dtype, elements);
  }
  // Layers past the first must agree on the optional tensors the first one decided.
  for (int l = 1; l < config.layers; ++l) {
    const std::string b = "blk." + std::to_string(l) + ".";
    if (!config.qkv_bias && file.find_tensor(b + "attn_q.bias"))
      raise(ErrorCode::Format, "tensor " + b + "attn_q.bias present but blk.0 has no biases");
    if (!config.qk_norm && file.find_tensor(b + "attn_q_norm.weight"))
      raise(ErrorCode::Format,
            "tensor " + b + "attn_q_norm.weight present but blk.0 has no QK-norm");
  }

  LlamaWeights w;
  w.layers.resize(size_t(config.layers));
  uint64_t done = 0;
  std::vector<uint8_t> staging;
  for (const TensorSpec& spec : layout) {
    const gguf::TensorView& t = file.tensor(spec.name);
    const TensorSlice slice = shard ? tensor_slice(spec, config, *shard) : TensorSlice{};
    if (shard && slice.count == 0) continue;  // this rank holds none of it
    const TensorSpec local = local_spec(spec, slice);
    const bool whole = slice.kind == TensorSlice::Kind::Whole;
    if (whole && !(spec.is_vector() && t.dtype != DType::F32)) {
      weight_slot(w, spec) =
          upload_from_file(device, file, t, spec, staging, done, total, progress);
      continue;
    }
    const std::vector<uint8_t> copied = gguf::read_tensor(file, t);
    const uint8_t* data = copied.data();
    if (spec.is_vector() && t.dtype != DType::F32) {
      std::vector<float> widened(size_t(spec.cols));
      kernels::dequantize(t.dtype, data, widened.data(), spec.cols);
      const std::vector<uint8_t> bytes =
          slice_bytes(reinterpret_cast<const uint8_t*>(widened.data()), DType::F32, spec, slice);
      weight_slot(w, spec) =
          upload_raw(device, local, DType::F32, bytes.data(), bytes.size(), done, total, progress);
    } else {
      const std::vector<uint8_t> bytes = slice_bytes(data, t.dtype, spec, slice);
      weight_slot(w, spec) =
          upload_raw(device, local, t.dtype, bytes.data(), bytes.size(), done, total, progress);
    }
  }
  tie_output(w, config, shard);
  check_complete(w, config, shard);
  return w;
}

LlamaWeights random_weights(Device& device, const LlamaConfig& config, const WeightTypes& types,
                            uint64_t seed, const LoadProgress& progress) {
  config.validate();
  const std::vector<TensorSpec> layout = tensor_layout(config);
  uint64_t total = 0;
  for (const TensorSpec& spec : layout)
    total += dtype_bytes(types.type_of(spec), uint64_t(spec.rows) * uint64_t(spec.cols));

  LlamaWeights w;
  w.layers.resize(size_t(config.layers));
  uint64_t done = 0;
  for (const TensorSpec& spec : layout) {
    const DType dtype = types.type_of(spec);
    const uint64_t row_bytes = dtype_bytes(dtype, uint64_t(spec.cols));
    Weight weight{device.alloc(row_bytes * uint64_t(spec.rows)), dtype, int(spec.rows),
                  int(spec.cols)};
    const int64_t slab_rows = std::max<int64_t>(1, int64_t(kUploadSlabBytes / row_bytes));
    for (int64_t r0 = 0; r0 < spec.rows; r0 += slab_rows) {
      const int64_t r1 = std::min<int64_t>(spec.rows, r0 + slab_rows);
      const std::vector<uint8_t> bytes = random_tensor_bytes(spec, dtype, seed, r0, r1);
      weight.buffer.upload(bytes.data(), bytes.size(), uint64_t(r0) * row_bytes);
      done += bytes.size();
      if (progress) progress(done, total);
    }
    weight_slot(w, spec) = std::move(weight);
  }
  tie_output(w, config, nullptr);
  check_complete(w, config, nullptr);
  return w;
}

}  // namespace stagefence::llama
