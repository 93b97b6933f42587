#include "model/llama/shapes.hpp"

#include "stagefence/error.hpp"

namespace stagefence::llama {
namespace {

struct Shape {
  const char* name;
  int layers, dim, heads, kv_heads, head_dim, ffn_dim, vocab, context_length;
  float rope_theta;
};

// Every shape uses RMSNorm eps 1e-5, adjacent-pair RoPE over the whole head and untied output.
constexpr Shape kShapes[] = {
    {"llama3-8b", 32, 4096, 32, 8, 128, 14336, 128256, 8192, 500000.0f},
    {"llama3-70b", 80, 8192, 64, 8, 128, 28672, 128256, 8192, 500000.0f},
    {"llama3.2-1b", 16, 2048, 32, 8, 64, 8192, 128256, 8192, 500000.0f},
    {"smollm2-135m", 30, 576, 9, 3, 64, 1536, 49152, 8192, 100000.0f},
    {"builtin", 4, 512, 8, 2, 64, 1536, 4096, 1024, 10000.0f},
    {"tiny", 2, 128, 4, 2, 32, 384, 512, 1 << 16, 500000.0f},
    {"tiny-tp", 2, 256, 8, 4, 32, 1024, 1024, 8192, 500000.0f},
};

}  // namespace

LlamaConfig shape_config(std::string_view name) {
  for (const Shape& s : kShapes) {
    if (name != s.name) continue;
    LlamaConfig c;
    c.architecture = "llama";
    c.layers = s.layers;
    c.dim = s.dim;
    c.heads = s.heads;
    c.kv_heads = s.kv_heads;
    c.head_dim = s.head_dim;
    c.rope_dim = s.head_dim;
    c.ffn_dim = s.ffn_dim;
    c.vocab = s.vocab;
    c.context_length = s.context_length;
    c.rope_theta = s.rope_theta;
    c.rms_eps = 1e-5f;
    c.rope_mode = kernels::ops::RopeMode::Adjacent;
    return c;
  }
  std::string known;
  for (const std::string& n : shape_names()) known += (known.empty() ? "" : ", ") + n;
  raise(ErrorCode::InvalidArgument,
        "model shape '" + std::string(name) + "' is not known; known shapes: " + known);
}

std::vector<std::string> shape_names() {
  std::vector<std::string> out;
  for (const Shape& s : kShapes) out.emplace_back(s.name);
  return out;
}

}  // namespace stagefence::llama
