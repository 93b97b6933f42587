// Shared pieces of the Llama forward-pass tests: tiny model configurations written through the
// project's GGUF writer, backend parameterisation, and an independent double-precision
// reference forward pass (straight loops from the definitions, weights dequantised).
#pragma once
#include <gtest/gtest.h>

#include <cmath>
#include <cstddef>
#include <cstdint>
#include <optional>
#include <string>
#include <vector>

#include "kernels/act_q8.hpp"
#include "kernels/dequant.hpp"
#include "kernels/quant_blocks.hpp"
#include "model/gguf/gguf_file.hpp"
#include "model/gguf/gguf_writer.hpp"
#include "model/llama/config.hpp"
#include "model/llama/model_writer.hpp"
#include "stagefence/stagefence.hpp"

namespace sf = stagefence;

namespace llama_test {

using sf::llama::LlamaConfig;
using sf::llama::WeightTypes;

inline std::optional<sf::Device> try_open(sf::BackendKind kind) {
  try {
    sf::DeviceOptions o;
    o.backend = kind;
    return sf::Device::open(o);
  } catch (const sf::Error& e) {
    if (e.code() == sf::ErrorCode::Unsupported) return std::nullopt;
    throw;
  }
}

inline std::string backend_param_name(const ::testing::TestParamInfo<sf::BackendKind>& info) {
  return info.param == sf::BackendKind::Cpu ? "Cpu" : "Cuda";
}

#define LLAMA_INSTANTIATE_BACKENDS(Suite)                                                  \
  INSTANTIATE_TEST_SUITE_P(Backends, Suite,                                                \
                           ::testing::Values(sf::BackendKind::Cpu, sf::BackendKind::Cuda), \
                           llama_test::backend_param_name)

// A small Llama 2/3-style model: adjacent-pair RoPE, GQA (4 heads, 2 kv), separate output.
inline LlamaConfig tiny_llama() {
  LlamaConfig c;
  c.architecture = "llama";
  c.dim = 64;
  c.layers = 2;
  c.heads = 4;
  c.kv_heads = 2;
  c.head_dim = 16;
  c.ffn_dim = 96;
  c.vocab = 160;
  c.context_length = 64;
  c.rope_dim = 16;
  c.rope_theta = 10000.0f;
  c.rms_eps = 1e-5f;
  c.rope_mode = sf::kernels::ops::RopeMode::Adjacent;
  return c;
}

// Qwen2-style: half-split RoPE, Q/K/V biases, tied output, 8 heads over 2 kv heads.
inline LlamaConfig tiny_qwen2() {
  LlamaConfig c = tiny_llama();
  c.architecture = "qwen2";
  c.heads = 8;
  c.kv_heads = 2;
  c.head_dim = 8;
  c.rope_dim = 8;
  c.rope_theta = 1000000.0f;
  c.rms_eps = 1e-6f;
  c.rope_mode = sf::kernels::ops::RopeMode::Neox;
  c.qkv_bias = true;
  c.tied_output = true;
  return c;
}

// Qwen3-style: QK-norm and a head size that is not dim / heads (key_length written).
inline LlamaConfig tiny_qwen3() {
  LlamaConfig c = tiny_llama();
  c.architecture = "qwen3";
  c.layers = 3;
  c.heads = 4;
  c.kv_heads = 1;
  c.head_dim = 32;
  c.rope_dim = 32;
  c.rope_mode = sf::kernels::ops::RopeMode::Neox;
  c.qk_norm = true;
  return c;
}

// Gemma 3-style, as the gemma3 reader fills it: QK-norm, norms after attention and FFN, GELU,
// the embedding scaled by sqrt(dim), and six layers of which the sixth is global (theta 1e6)
// while the others see a window of 4 keys with theta 1e4.
inline LlamaConfig tiny_gemma3() {
  LlamaConfig c = tiny_qwen3();
  c.architecture = "gemma3";
  c.layers = 6;
  c.rope_theta = 1000000.0f;
  c.rms_eps = 1e-6f;
  c.tied_output = true;
  c.embed_scale = std::sqrt(float(c.dim));
  c.attention_scale = float(1.0 / std::sqrt(double(c.head_dim)));
  c.post_norms = true;
  c.ffn_act = sf::kernels::ops::Activation::GeluTanh;
  c.sliding_window = 4;
  c.global_period = 6;
  c.rope_theta_local = 10000.0f;
  return c;
}

inline WeightTypes mixed_types() {
  WeightTypes t;
  t.embedding = sf::DType::F16;
  t.attention = sf::DType::Q8_0;
  t.ffn_gate_up = sf::DType::Q4_0;
  t.ffn_down = sf::DType::BF16;
  t.output = sf::DType::Q8_0;
  return t;
}

inline std::vector<std::byte> write_model(const LlamaConfig& c, const WeightTypes& types,
                                          uint64_t seed) {
  sf::gguf::GgufWriter w;
  sf::llama::add_random_model(w, c, types, seed);
  return w.to_bytes();
}

// ---- Independent reference ---------------------------------------------------------------

inline std::vector<double> dequantised(const sf::gguf::GgufFile& f, const std::string& name) {
  const sf::gguf::TensorView& t = f.tensor(name);
  std::vector<float> v(t.n_elements);
  sf::kernels::dequantize(t.dtype, t.data, v.data(), int64_t(t.n_elements));
  return {v.begin(), v.end()};
}

// The compiler's own f16 where it has one (independent of the project's converter); clang 14 on
// x86, which the sanitizer builds use, has none.
inline double round_to_half(double x) {
#ifdef __FLT16_MAX__
  return double(_Float16(float(x)));
#else
  return double(stagefence::quant::half_to_float(stagefence::quant::float_to_half(float(x))));
#endif
}

// One decoder evaluated token by token in double; K and V are kept rounded to f16, as the
// model's cache stores them. Decode steps multiply block-quantised weights with 8-bit activation
// blocks (kernels/act_q8.hpp: the input rounded to f32, quantised, dequantised exactly), as the
// decode kernels do; prompt steps and the logits keep unquantised activations.
class ReferenceForward {
 public:
  ReferenceForward(const sf::gguf::GgufFile& f, const LlamaConfig& c) : c_(c) {
    auto type = [&](const std::string& name) { return f.tensor(name).dtype; };
    embd_ = dequantised(f, "token_embd.weight");
    out_norm_ = dequantised(f, "output_norm.weight");
    out_ = c.tied_output ? embd_ : dequantised(f, "output.weight");
    for (int l = 0; l < c.layers; ++l) {
      const std::string b = "blk." + std::to_string(l) + ".";
      Layer L;
      L.attn_norm = dequantised(f, b + "attn_norm.weight");
      L.wq = dequantised(f, b + "attn_q.weight");
      L.wk = dequantised(f, b + "attn_k.weight");
      L.wv = dequantised(f, b + "attn_v.weight");
      L.wo = dequantised(f, b + "attn_output.weight");
      L.t_q = type(b + "attn_q.weight");
      L.t_k = type(b + "attn_k.weight");
      L.t_v = type(b + "attn_v.weight");
      L.t_o = type(b + "attn_output.weight");
      L.t_gate = type(b + "ffn_gate.weight");
      L.t_up = type(b + "ffn_up.weight");
      L.t_down = type(b + "ffn_down.weight");
      if (c.qkv_bias) {
        L.bq = dequantised(f, b + "attn_q.bias");
        L.bk = dequantised(f, b + "attn_k.bias");
        L.bv = dequantised(f, b + "attn_v.bias");
      }
      if (c.qk_norm) {
        L.q_norm = dequantised(f, b + "attn_q_norm.weight");
        L.k_norm = dequantised(f, b + "attn_k_norm.weight");
      }
      if (c.post_norms) {
        L.post_attn_norm = dequantised(f, b + "post_attention_norm.weight");
        L.post_ffn_norm = dequantised(f, b + "post_ffw_norm.weight");
      }
      L.ffn_norm = dequantised(f, b + "ffn_norm.weight");
      L.gate = dequantised(f, b + "ffn_gate.weight");
      L.up = dequantised(f, b + "ffn_up.weight");
      L.down = dequantised(f, b + "ffn_down.weight");
      layers_.push_back(std::move(L));
    }
    k_cache_.resize(size_t(c.layers));
    v_cache_.resize(size_t(c.layers));
  }

  // Runs `token` at the next position and returns the logits; `decode`: a generated token.
  std::vector<double> step(int token, bool decode = false) {
    decode_ = decode;
    const int pos = pos_++;
    const int D = c_.dim, hd = c_.head_dim;
    std::vector<double> x(embd_.begin() + size_t(token) * D, embd_.begin() + size_t(token + 1) * D);
    for (double& e : x) e *= double(c_.embed_scale);
    for (int l = 0; l < c_.layers; ++l) {
      Layer& L = layers_[size_t(l)];
      // Gemma-style layers: every global_period-th is global, the rest see the last `window`.
      const bool local = c_.sliding_window > 0 && (l + 1) % c_.global_period != 0;
      const double theta = local ? double(c_.rope_theta_local) : double(c_.rope_theta);
      const int first_key = local ? std::max(0, pos - c_.sliding_window + 1) : 0;
      const double scale =
          c_.attention_scale > 0 ? double(c_.attention_scale) : 1.0 / std::sqrt(double(hd));
      std::vector<double> h = rms_norm(x, L.attn_norm);
      std::vector<double> q = mat(L.wq, L.t_q, h, c_.q_dim()), k = mat(L.wk, L.t_k, h, c_.kv_dim()),
                          v = mat(L.wv, L.t_v, h, c_.kv_dim());
      if (c_.qkv_bias)
        for (size_t i = 0; i < q.size(); ++i) q[i] += L.bq[i];
      if (c_.qkv_bias)
        for (size_t i = 0; i < k.size(); ++i) k[i] += L.bk[i], v[i] += L.bv[i];
      for (int h0 = 0; h0 < c_.heads; ++h0) head_norm_rope(q, h0, L.q_norm, pos, theta);
      for (int h0 = 0; h0 < c_.kv_heads; ++h0) head_norm_rope(k, h0, L.k_norm, pos, theta);
      for (double& e : k) e = round_to_half(e);
      for (double& e : v) e = round_to_half(e);
      k_cache_[size_t(l)].push_back(k);
      v_cache_[size_t(l)].push_back(v);

      std::vector<double> attn(size_t(c_.q_dim()), 0.0);
      const int group = c_.heads / c_.kv_heads;
      for (int hq = 0; hq < c_.heads; ++hq) {
        const int hk = hq / group;
        std::vector<double> s(size_t(pos + 1), -INFINITY);
        double mx = -1e300;
        for (int p = first_key; p <= pos; ++p) {
          double dot = 0;
          for (int i = 0; i < hd; ++i)
            dot += q[size_t(hq * hd + i)] * k_cache_[size_t(l)][size_t(p)][size_t(hk * hd + i)];
          s[size_t(p)] = dot * scale;
          mx = std::max(mx, s[size_t(p)]);
        }
        double sum = 0;
        for (double& e : s) sum += (e = std::exp(e - mx));
        for (int p = first_key; p <= pos; ++p)
          for (int i = 0; i < hd; ++i)
            attn[size_t(hq * hd + i)] +=
                s[size_t(p)] / sum * v_cache_[size_t(l)][size_t(p)][size_t(hk * hd + i)];
      }
      std::vector<double> o = mat(L.wo, L.t_o, attn, D);
      if (c_.post_norms) o = rms_norm(o, L.post_attn_norm);
      for (int i = 0; i < D; ++i) x[size_t(i)] += o[size_t(i)];

      h = rms_norm(x, L.ffn_norm);
      const std::vector<double> g = mat(L.gate, L.t_gate, h, c_.ffn_dim),
                                u = mat(L.up, L.t_up, h, c_.ffn_dim);
      std::vector<double> a(g.size());
      const bool gelu = c_.ffn_act == sf::kernels::ops::Activation::GeluTanh;
      for (size_t i = 0; i < g.size(); ++i) {
        const double act = gelu ? 0.5 * g[i] *
                                      (1.0 + std::tanh(std::sqrt(2.0 / M_PI) *
                                                       (g[i] + 0.044715 * g[i] * g[i] * g[i])))
                                : g[i] / (1.0 + std::exp(-g[i]));
        a[i] = act * u[i];
      }
      std::vector<double> d = mat(L.down, L.t_down, a, D);
      if (c_.post_norms) d = rms_norm(d, L.post_ffn_norm);
      for (int i = 0; i < D; ++i) x[size_t(i)] += d[size_t(i)];
    }
    return mat(out_, rms_norm(x, out_norm_), c_.vocab);
  }

  static int argmax(const std::vector<double>& v) {
    int best = 0;
    for (size_t i = 1; i < v.size(); ++i)
      if (v[i] > v[size_t(best)]) best = int(i);
    return best;
  }

 private:
  struct Layer {
    std::vector<double> attn_norm, wq, wk, wv, wo, bq, bk, bv, q_norm, k_norm, ffn_norm, gate, up,
        down, post_attn_norm, post_ffn_norm;
    sf::DType t_q{}, t_k{}, t_v{}, t_o{}, t_gate{}, t_up{}, t_down{};
  };

  // A decode step's product with a block-quantised weight sees x through 8-bit blocks.
  std::vector<double> mat(const std::vector<double>& W, sf::DType t, const std::vector<double>& x,
                          int rows) const {
    if (!decode_ || sf::dtype_info(t)->block_elems == 1) return mat(W, x, rows);
    std::vector<float> xf(x.begin(), x.end());
    std::vector<double> xq(x.size());
    for (size_t g = 0; g + sf::kernels::kActBlock <= x.size(); g += sf::kernels::kActBlock) {
      sf::kernels::ActBlockQ8 b;
      sf::kernels::quantize_act_block(xf.data() + g, &b);
      for (int i = 0; i < sf::kernels::kActBlock; ++i) xq[g + size_t(i)] = double(b.d) * b.q[i];
    }
    return mat(W, xq, rows);
  }

  std::vector<double> rms_norm(const std::vector<double>& x, const std::vector<double>& w) const {
    double ss = 0;
    for (double e : x) ss += e * e;
    const double inv = 1.0 / std::sqrt(ss / double(x.size()) + double(c_.rms_eps));
    std::vector<double> y(x.size());
    for (size_t i = 0; i < x.size(); ++i) y[i] = x[i] * inv * w[i];
    return y;
  }

  // W is [rows, cols] row-major (GGUF dims [cols, rows]).
  static std::vector<double> mat(const std::vector<double>& W, const std::vector<double>& x,
                                 int rows) {
    const size_t cols = x.size();
    std::vector<double> y(size_t(rows), 0.0);
    for (int r = 0; r < rows; ++r)
      for (size_t j = 0; j < cols; ++j) y[size_t(r)] += W[size_t(r) * cols + j] * x[j];
    return y;
  }

  // Optional per-head RMSNorm, then the rotation of the first rope_dim dims of head h.
  void head_norm_rope(std::vector<double>& v, int h, const std::vector<double>& norm, int pos,
                      double theta) const {
    const int hd = c_.head_dim, rot = c_.rope_dim;
    double* p = v.data() + size_t(h * hd);
    if (c_.qk_norm) {
      std::vector<double> head(p, p + hd);
      head = rms_norm(head, norm);
      std::copy(head.begin(), head.end(), p);
    }
    for (int i = 0; i < rot / 2; ++i) {
      const double angle = pos * std::pow(theta, -2.0 * i / rot);
      const int a = c_.rope_mode == sf::kernels::ops::RopeMode::Adjacent ? 2 * i : i;
      const int b = c_.rope_mode == sf::kernels::ops::RopeMode::Adjacent ? 2 * i + 1 : i + rot / 2;
      const double x0 = p[a], x1 = p[b];
      p[a] = x0 * std::cos(angle) - x1 * std::sin(angle);
      p[b] = x0 * std::sin(angle) + x1 * std::cos(angle);
    }
  }

  LlamaConfig c_;
  std::vector<double> embd_, out_norm_, out_;
  std::vector<Layer> layers_;
  std::vector<std::vector<std::vector<double>>> k_cache_, v_cache_;
  int pos_ = 0;
  bool decode_ = false;
};

}  // namespace llama_test
