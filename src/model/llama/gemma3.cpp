// Gemma 3 on the shared decoder: the metadata and the fixed choices llama.cpp makes for
// "gemma3" files (the converter already folds Gemma's 1 + w into the stored norm weights).
#include <cmath>
#include <string>

#include "model/gguf/gguf_file.hpp"
#include "model/llama/config.hpp"
#include "stagefence/error.hpp"

namespace stagefence::llama {

namespace {
constexpr int kGlobalPeriod = 6;             // five sliding-window layers, then a global one
constexpr float kLocalRopeTheta = 10000.0f;  // the sliding-window layers' RoPE base
constexpr int kLayersOf27B = 62;             // the one size whose query scale is dim / heads
}  // namespace

void read_gemma3_config(const gguf::GgufFile& file, LlamaConfig& c) {
  const std::string p = c.architecture + ".";
  c.embed_scale = std::sqrt(float(c.dim));
  c.post_norms = true;
  c.ffn_act = kernels::ops::Activation::GeluTanh;
  c.attention_scale =
      float(1.0 / std::sqrt(double(c.layers == kLayersOf27B ? c.dim / c.heads : c.head_dim)));
  if (const auto window = metadata_int(file, p + "attention.sliding_window")) {
    if (*window < 0 || *window > (int64_t(1) << 30))
      raise(ErrorCode::Format, "metadata key " + p + "attention.sliding_window = " +
                                   std::to_string(*window) + " is not a plausible window");
    c.sliding_window = int(*window);
    c.global_period = kGlobalPeriod;
    c.rope_theta_local = kLocalRopeTheta;
  }
  // Linear RoPE scaling (the 4B and larger files) applies to the global layers only.
  if (const gguf::Value* type = file.find(p + "rope.scaling.type")) {
    const std::string* name = type->get_if<std::string>();
    const auto factor = metadata_float(file, p + "rope.scaling.factor");
    if (name && *name == "linear" && factor && *factor > 0.0)
      c.rope_freq_scale = float(1.0 / *factor);
    else if (!name || (*name != "none" && *name != "linear"))
      raise(ErrorCode::Format, "metadata key " + p +
                                   "rope.scaling.type: only linear scaling is "
                                   "implemented for gemma3");
  }
  for (const char* key : {"final_logit_softcapping", "attn_logit_softcapping"}) {
    const auto cap = metadata_float(file, p + key);
    if (cap && *cap != 0.0)
      raise(ErrorCode::Format, "metadata key " + p + key + " = " + std::to_string(*cap) +
                                   ": logit soft-capping (Gemma 2) is not implemented");
  }
  if (!c.qk_norm)
    raise(ErrorCode::Format, "gemma3 needs blk.0.attn_q_norm.weight and blk.0.attn_k_norm.weight");
}

}  // namespace stagefence::llama
