// "mv.<wt>", "qkv.<wt>", "glu.<wt>" and "attn.decode.hd<N>" on the CPU: the reference for the
// fused decode kernels (src/kernels/params/*.hpp), written as the unfused kernels compose.
#include <algorithm>
#include <cmath>
#include <cstdint>
#include <cstring>
#include <string>
#include <vector>

#include "kernels/cpu/cpu_kernels.hpp"
#include "kernels/cpu/kernel_util.hpp"
#include "kernels/cpu/q8_dot.hpp"
#include "kernels/cpu/simd/simd.hpp"
#include "kernels/dequant.hpp"
#include "kernels/params/attention_decode.hpp"
#include "kernels/params/fused_decode.hpp"
#include "kernels/quant_blocks.hpp"

namespace stagefence::kernels::cpu {
namespace {

// The activations of one product: x (normalised with w when `norm`), as f32 and, for
// block-quantised weights, as 8-bit blocks. Rebuilt by each worker's call (a few microseconds).
struct Activations {
  std::vector<float> f;
  std::vector<ActBlockQ8> q;

  void build(DType wt, const float* x, const float* w, int64_t n, bool norm, bool add_one,
             float eps) {
    f.assign(x, x + n);
    if (norm) {
      const float mean_square = simd::dot_f32(x, x, n) / float(n);
      const float inv_rms = 1.0f / std::sqrt(mean_square + eps);
      for (int64_t j = 0; j < n; ++j)
        f[size_t(j)] = x[j] * inv_rms * (add_one ? 1.0f + w[j] : w[j]);
    }
    if (is_q8_activation_type(wt)) {
      q.resize(size_t(n / kActBlock));
      simd::quantize_activations(f.data(), n, q.data());
    }
  }

  float dot(DType wt, const uint8_t* row, int64_t n) const {
    if (is_q8_activation_type(wt)) return simd::dot_q8_row(wt, row, q.data(), n);
    return simd::row_dot(wt)(row, f.data(), n);
  }

  // out[i] = dot(wt, rows[i], n) for i < count (the q8 dots of several rows share activation
  // loads; the values are the same as row by row).
  void dots(DType wt, const uint8_t* const* rows, int64_t count, int64_t n, float* out) const {
    if (is_q8_activation_type(wt)) return simd::dot_q8_rows(wt, rows, count, q.data(), n, out);
    simd::row_dots(wt, rows, count, f.data(), n, out);
  }
};

// Rows per dots() call in the decode kernels: four passes of eight.
constexpr int64_t kRowChunk = 32;

template <DType kType>
void mv(const KernelArgs& args, const Launch& launch, uint64_t block_begin, uint64_t block_end) {
  const MvParams p = args.params<MvParams>();
  const uint64_t row_bytes = dtype_bytes(kType, uint64_t(p.cols));
  thread_local Activations acts;
  acts.build(kType, args.p<const float>(1), args.p<const float>(4), p.cols,
             (p.flags & kMvNorm) != 0, (p.flags & kNormAddOne) != 0, p.eps);
  const uint8_t* w = args.p<const uint8_t>(0);
  float* y = args.p<float>(2);
  const float* bias = args.p<const float>(3);
  const ItemRange range = items_of_blocks(p.rows, launch, block_begin, block_end);
  const uint8_t* rows[kRowChunk];
  float v[kRowChunk];
  for (int64_t r0 = range.begin; r0 < range.end; r0 += kRowChunk) {
    const int64_t count = std::min(kRowChunk, range.end - r0);
    for (int64_t i = 0; i < count; ++i) rows[i] = w + uint64_t(r0 + i) * row_bytes;
    acts.dots(kType, rows, count, p.cols, v);
    for (int64_t i = 0; i < count; ++i) {
      const int64_t r = r0 + i;
      if (p.flags & kMvBias) v[i] += bias[r];
      if (p.flags & kMvAccumulate) v[i] += y[r];
      y[r] = v[i];
    }
  }
}

Launch mv_launch(const KernelArgs& args) {
  const MvParams p = args.params<MvParams>();
  return grid_for(p.rows, std::max<int64_t>(16, (p.rows + 63) / 64));
}

// The two rows of a rotation pair: rotated as the "rope" kernel does (cos and sin from a double
// angle, the rotation in f32).
void rotate(float& a, float& b, int freq, int rot, double pos, double theta, double freq_scale) {
  const double angle = pos * freq_scale * std::pow(theta, -2.0 * double(freq) / double(rot));
  const float c = float(std::cos(angle)), s = float(std::sin(angle));
  const float x0 = a, x1 = b;
  a = x0 * c - x1 * s;
  b = x0 * s + x1 * c;
}

template <DType kType>
void qkv(const KernelArgs& args, const Launch& launch, uint64_t block_begin, uint64_t block_end) {
  const QkvParams p = args.params<QkvParams>();
  const uint64_t row_bytes = dtype_bytes(kType, uint64_t(p.dim));
  thread_local Activations acts;
  acts.build(kType, args.p<const float>(3), args.p<const float>(4), p.dim, true,
             (p.flags & kNormAddOne) != 0, p.eps);
  const int hd = p.head_dim, half = hd / 2;
  const int64_t q_tasks = int64_t(p.heads) * half, k_tasks = int64_t(p.kv_heads) * half;
  const int pos = *args.p<const int32_t>(8);
  const bool bias = (p.flags & kQkvBias) != 0;
  float* q_out = args.p<float>(9);
  const ItemRange range = items_of_blocks(q_tasks + 2 * k_tasks, launch, block_begin, block_end);
  // Tasks in chunks of kRowChunk / 2: their rows' dots first, through one dots() call.
  constexpr int64_t kTasks = kRowChunk / 2;
  const uint8_t* rows[kRowChunk];
  float dot_out[kRowChunk];
  for (int64_t t0 = range.begin; t0 < range.end; t0 += kTasks) {
    const int64_t chunk = std::min(kTasks, range.end - t0);
    for (int pass = 0; pass < 2; ++pass) {
      if (pass == 1) acts.dots(kType, rows, 2 * chunk, p.dim, dot_out);
      for (int64_t task = t0; task < t0 + chunk; ++task) {
        const int64_t slot = task - t0;
        int seg = 0;
        int64_t t = task;
        if (t >= q_tasks) {
          t -= q_tasks;
          seg = 1;
          if (t >= k_tasks) {
            t -= k_tasks;
            seg = 2;
          }
        }
        const int head = int(t / half), j = int(t % half);
        const RopePair pair = seg == 2 ? RopePair{2 * j, 2 * j + 1, 0, false}
                                       : rope_pair(j, hd, p.rot_dim, p.rope_mode);
        const int64_t ra = int64_t(head) * hd + pair.first, rb = int64_t(head) * hd + pair.second;
        const uint8_t* w = args.p<const uint8_t>(seg);
        if (pass == 0) {
          rows[2 * slot] = w + uint64_t(ra) * row_bytes;
          rows[2 * slot + 1] = w + uint64_t(rb) * row_bytes;
          continue;
        }
        float va = dot_out[2 * slot], vb = dot_out[2 * slot + 1];
        if (bias) {
          const float* b = args.p<const float>(5 + seg);
          va += b[ra];
          vb += b[rb];
        }
        if (pair.rotated) rotate(va, vb, pair.freq, p.rot_dim, pos, p.theta_base, p.freq_scale);
        if (seg == 0) {
          q_out[ra] = va;
          q_out[rb] = vb;
        } else if (pos >= 0 && pos < p.cap) {
          uint16_t* dst = args.p<uint16_t>(9 + seg) + (int64_t(head) * p.cap + pos) * hd;
          dst[pair.first] = quant::float_to_half(va);
          dst[pair.second] = quant::float_to_half(vb);
        }
      }
    }
  }
}

Launch qkv_launch(const KernelArgs& args) {
  const QkvParams p = args.params<QkvParams>();
  const int64_t tasks = int64_t(p.heads + 2 * p.kv_heads) * (p.head_dim / 2);
  return grid_for(tasks, std::max<int64_t>(8, (tasks + 63) / 64));
}

template <DType kType>
void glu(const KernelArgs& args, const Launch& launch, uint64_t block_begin, uint64_t block_end) {
  const GluParams p = args.params<GluParams>();
  const uint64_t row_bytes = dtype_bytes(kType, uint64_t(p.dim));
  thread_local Activations acts;
  acts.build(kType, args.p<const float>(2), args.p<const float>(3), p.dim, true,
             (p.flags & kNormAddOne) != 0, p.eps);
  const uint8_t* wg = args.p<const uint8_t>(0);
  const uint8_t* wu = args.p<const uint8_t>(1);
  float* out = args.p<float>(4);
  const ItemRange range = items_of_blocks(p.ffn, launch, block_begin, block_end);
  // Gate and up rows in chunks of kRowChunk / 2 each, through one dots() call.
  constexpr int64_t kPairs = kRowChunk / 2;
  const uint8_t* rows[kRowChunk];
  float dot_out[kRowChunk];
  for (int64_t i0 = range.begin; i0 < range.end; i0 += kPairs) {
    const int64_t count = std::min(kPairs, range.end - i0);
    for (int64_t k = 0; k < count; ++k) {
      rows[k] = wg + uint64_t(i0 + k) * row_bytes;
      rows[count + k] = wu + uint64_t(i0 + k) * row_bytes;
    }
    acts.dots(kType, rows, 2 * count, p.dim, dot_out);
    for (int64_t k = 0; k < count; ++k) {
      const int64_t i = i0 + k;
      const float g = dot_out[k];
      const float u = dot_out[count + k];
      if (p.act == 0) {
        out[i] = g / (1.0f + std::exp(-g)) * u;
      } else {
        constexpr float kSqrt2OverPi = 0.7978845608028654f;
        const float z = kSqrt2OverPi * (g + 0.044715f * g * g * g);
        out[i] = g / (1.0f + std::exp(-2.0f * z)) * u;
      }
    }
  }
}

Launch glu_launch(const KernelArgs& args) {
  const GluParams p = args.params<GluParams>();
  return grid_for(p.ffn, std::max<int64_t>(16, (p.ffn + 63) / 64));
}

// One block per query head: its keys in order with a running max (the scratch is not used).
void attn_decode(const KernelArgs& args, const Launch& launch, uint64_t block_begin,
                 uint64_t block_end) {
  const AttnDecodeParams p = args.params<AttnDecodeParams>();
  const float* q = args.p<const float>(0);
  const uint16_t* kc = args.p<const uint16_t>(1);
  const uint16_t* vc = args.p<const uint16_t>(2);
  float* out = args.p<float>(5);
  const int64_t pos = *args.p<const int32_t>(4), cap = p.cap, hd = p.head_dim;
  const int64_t hi = std::min(pos, cap - 1);
  const int64_t lo = p.window > 0 ? std::max<int64_t>(0, pos - p.window + 1) : 0;
  const int group = p.heads / p.kv_heads;
  std::vector<float> acc(static_cast<size_t>(hd)), k(static_cast<size_t>(hd)),
      v(static_cast<size_t>(hd));
  const ItemRange range = items_of_blocks(p.heads, launch, block_begin, block_end);
  for (int64_t h = range.begin; h < range.end; ++h) {
    const int64_t kvh = h / group;
    const float* qh = q + h * hd;
    float m = -INFINITY, l = 0.0f;
    std::fill(acc.begin(), acc.end(), 0.0f);
    for (int64_t key = lo; key <= hi; ++key) {
      half_to_float_row(kc + (kvh * cap + key) * hd, k.data(), hd);
      float s = 0.0f;
      for (int64_t d = 0; d < hd; ++d) s += qh[d] * p.scale * k[size_t(d)];
      if (p.softcap > 0.0f) s = p.softcap * std::tanh(s / p.softcap);
      const float m_new = std::max(m, s);
      const float c = m == -INFINITY ? 0.0f : std::exp(m - m_new);
      const float w = std::exp(s - m_new);
      half_to_float_row(vc + (kvh * cap + key) * hd, v.data(), hd);
      for (int64_t d = 0; d < hd; ++d) acc[size_t(d)] = acc[size_t(d)] * c + w * v[size_t(d)];
      l = l * c + w;
      m = m_new;
    }
    for (int64_t d = 0; d < hd; ++d) out[h * hd + d] = l > 0.0f ? acc[size_t(d)] / l : 0.0f;
  }
}

Launch attn_decode_launch(const KernelArgs& args) {
  return grid_for(args.params<AttnDecodeParams>().heads, 1);
}

}  // namespace

void append_decode_fused_kernels(std::vector<CpuKernel>& out) {
  for_each_weight_type([&]<DType kType>() {
    const std::string wt(dtype_name(kType));
    out.push_back({"mv." + wt, mv<kType>, mv_launch});
    out.push_back({"qkv." + wt, qkv<kType>, qkv_launch});
    out.push_back({"glu." + wt, glu<kType>, glu_launch});
  });
  for (int hd : {32, 64, 128, 256})
    out.push_back({"attn.decode.hd" + std::to_string(hd), attn_decode, attn_decode_launch});
}

}  // namespace stagefence::kernels::cpu
