#include "model/llama/config.hpp"

#include <cmath>
#include <cstdint>
#include <optional>
#include <sstream>
#include <variant>

#include "model/gguf/gguf_file.hpp"
#include "stagefence/error.hpp"

namespace stagefence::llama {

// Integer metadata of any integer type (writers differ: u32, i32, u64).
std::optional<int64_t> metadata_int(const gguf::GgufFile& file, const std::string& key) {
  const gguf::Value* v = file.find(key);
  if (!v) return std::nullopt;
  std::optional<int64_t> out;
  std::visit(
      [&](const auto& x) {
        using T = std::decay_t<decltype(x)>;
        if constexpr (std::is_integral_v<T> && !std::is_same_v<T, bool>) out = int64_t(x);
      },
      v->storage());
  if (!out)
    raise(ErrorCode::Format,
          "metadata key " + key + " has type " + v->type_name() + ", expected an integer");
  return out;
}

std::optional<double> metadata_float(const gguf::GgufFile& file, const std::string& key) {
  const gguf::Value* v = file.find(key);
  if (!v) return std::nullopt;
  if (const float* f = v->get_if<float>()) return *f;
  if (const double* d = v->get_if<double>()) return *d;
  raise(ErrorCode::Format,
        "metadata key " + key + " has type " + v->type_name() + ", expected a float");
}

namespace {

int require_positive(const gguf::GgufFile& file, const std::string& key) {
  const std::optional<int64_t> v = metadata_int(file, key);
  if (!v) raise(ErrorCode::Format, "missing metadata key " + key);
  if (*v <= 0 || *v > (int64_t(1) << 30))
    raise(ErrorCode::Format,
          "metadata key " + key + " = " + std::to_string(*v) + " is not a plausible positive size");
  return int(*v);
}

}  // namespace

kernels::ops::RopeMode rope_mode_for_architecture(const std::string& architecture) {
  if (architecture == "llama" || architecture == "mistral") return kernels::ops::RopeMode::Adjacent;
  if (architecture == "qwen2" || architecture == "qwen3" || architecture == "gemma3")
    return kernels::ops::RopeMode::Neox;
  raise(ErrorCode::Format, "unsupported general.architecture '" + architecture +
                               "' (supported: llama, mistral, qwen2, qwen3, gemma3)");
}

LlamaConfig::LayerAttention LlamaConfig::layer_attention(int layer) const {
  const bool local = sliding_window > 0 && (global_period <= 0 || (layer + 1) % global_period != 0);
  if (!local) return {rope_theta, rope_freq_scale, 0};
  return {rope_theta_local > 0.0f ? rope_theta_local : rope_theta, 1.0f, sliding_window};
}

float LlamaConfig::query_scale() const {
  return attention_scale > 0.0f ? attention_scale : float(1.0 / std::sqrt(double(head_dim)));
}

void LlamaConfig::validate() const {
  auto fail = [](const std::string& what) {
    raise(ErrorCode::InvalidArgument, "LlamaConfig: " + what);
  };
  if (dim <= 0 || layers <= 0 || heads <= 0 || kv_heads <= 0 || head_dim <= 0 || ffn_dim <= 0 ||
      vocab <= 0 || context_length <= 0)
    fail("every size must be positive (" + summary() + ")");
  if (heads % kv_heads != 0)
    fail("heads = " + std::to_string(heads) +
         " is not a multiple of kv_heads = " + std::to_string(kv_heads));
  if (rope_dim <= 0 || rope_dim > head_dim || rope_dim % 2 != 0)
    fail("rope_dim = " + std::to_string(rope_dim) +
         " must be even and in (0, head_dim = " + std::to_string(head_dim) + "]");
  // Inf passes "> 0" but turns every norm into zeros (eps) or the rotation into nonsense (theta).
  if (!(rms_eps > 0.0f) || !std::isfinite(rms_eps))
    fail("rms_eps = " + std::to_string(rms_eps) + " must be positive and finite");
  if (!(rope_theta > 0.0f) || !std::isfinite(rope_theta))
    fail("rope_theta = " + std::to_string(rope_theta) + " must be positive and finite");
  if (!(rope_theta_local >= 0.0f) || !std::isfinite(rope_theta_local))
    fail("rope_theta_local = " + std::to_string(rope_theta_local) + " must be finite, >= 0");
  if (!(rope_freq_scale > 0.0f) || !std::isfinite(rope_freq_scale))
    fail("rope_freq_scale = " + std::to_string(rope_freq_scale) + " must be positive and finite");
  if (!(embed_scale > 0.0f) || !std::isfinite(embed_scale))
    fail("embed_scale = " + std::to_string(embed_scale) + " must be positive and finite");
  if (!(attention_scale >= 0.0f) || !std::isfinite(attention_scale))
    fail("attention_scale = " + std::to_string(attention_scale) + " must be finite, >= 0");
  if (sliding_window < 0 || global_period < 0)
    fail("sliding_window = " + std::to_string(sliding_window) +
         " and global_period = " + std::to_string(global_period) + " must not be negative");
}

std::string LlamaConfig::summary() const {
  std::ostringstream s;
  s << architecture << ": " << layers << " layers, dim " << dim << ", " << heads << " heads ("
    << kv_heads << " kv) x " << head_dim << ", ffn " << ffn_dim << ", vocab " << vocab
    << ", context " << context_length << ", rope "
    << (rope_mode == kernels::ops::RopeMode::Adjacent ? "adjacent" : "half-split") << " theta "
    << rope_theta << (qkv_bias ? ", qkv bias" : "") << (qk_norm ? ", qk-norm" : "")
    << (tied_output ? ", tied output" : "") << (post_norms ? ", post-norms" : "")
    << (ffn_act == kernels::ops::Activation::GeluTanh ? ", GELU" : "");
  if (sliding_window > 0)
    s << ", window " << sliding_window << " (every " << global_period
      << "th layer global, local theta "
      << (rope_theta_local > 0.0f ? rope_theta_local : rope_theta) << ")";
  return s.str();
}

LlamaConfig config_from_gguf(const gguf::GgufFile& file) {
  LlamaConfig c;
  const gguf::Value* arch = file.find("general.architecture");
  if (!arch) raise(ErrorCode::Format, "missing metadata key general.architecture");
  const std::string* arch_name = arch->get_if<std::string>();
  if (!arch_name) raise(ErrorCode::Format, "metadata key general.architecture is not a string");
  c.architecture = *arch_name;
  c.rope_mode = rope_mode_for_architecture(c.architecture);
  const std::string p = c.architecture + ".";

  c.dim = require_positive(file, p + "embedding_length");
  c.layers = require_positive(file, p + "block_count");
  c.heads = require_positive(file, p + "attention.head_count");
  c.kv_heads = metadata_int(file, p + "attention.head_count_kv")
                   ? require_positive(file, p + "attention.head_count_kv")
                   : c.heads;
  c.ffn_dim = require_positive(file, p + "feed_forward_length");
  c.context_length = require_positive(file, p + "context_length");
  if (metadata_int(file, p + "attention.key_length")) {
    c.head_dim = require_positive(file, p + "attention.key_length");
  } else {
    if (c.dim % c.heads != 0)
      raise(ErrorCode::Format, p + "embedding_length = " + std::to_string(c.dim) +
                                   " is not a multiple of " + p +
                                   "attention.head_count = " + std::to_string(c.heads));
    c.head_dim = c.dim / c.heads;
  }
  if (metadata_int(file, p + "attention.value_length") &&
      require_positive(file, p + "attention.value_length") != c.head_dim)
    raise(ErrorCode::Format, p + "attention.value_length differs from the key length");
  c.rope_dim = metadata_int(file, p + "rope.dimension_count")
                   ? require_positive(file, p + "rope.dimension_count")
                   : c.head_dim;
  if (auto theta = metadata_float(file, p + "rope.freq_base")) c.rope_theta = float(*theta);
  const auto eps = metadata_float(file, p + "attention.layer_norm_rms_epsilon");
  if (!eps)
    raise(ErrorCode::Format, "missing metadata key " + p + "attention.layer_norm_rms_epsilon");
  c.rms_eps = float(*eps);

  if (const gguf::Value* tokens = file.find("tokenizer.ggml.tokens")) {
    if (!tokens->get_if<std::vector<std::string>>())
      raise(ErrorCode::Format, "metadata key tokenizer.ggml.tokens is not an array of strings");
    c.vocab = int(tokens->array_size());
  } else {
    const gguf::TensorView& embd = file.tensor("token_embd.weight");
    if (embd.dims.size() != 2)
      raise(ErrorCode::Format, "tensor token_embd.weight must have 2 dims to give the vocabulary");
    c.vocab = int(embd.dims[1]);
  }

  c.qkv_bias = file.find_tensor("blk.0.attn_q.bias") != nullptr;
  c.qk_norm = file.find_tensor("blk.0.attn_q_norm.weight") != nullptr;
  c.tied_output = file.find_tensor("output.weight") == nullptr;
  if (c.architecture == "gemma3") read_gemma3_config(file, c);
  try {
    c.validate();
  } catch (const Error& e) {
    raise(ErrorCode::Format, std::string("inconsistent model metadata: ") + e.what());
  }
  return c;
}

}  // namespace stagefence::llama
