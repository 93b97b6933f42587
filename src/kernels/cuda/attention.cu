// "attn.split" / "attn.merge": split-K causal attention over an f16 KV cache.
// attn.split: one block per (split, kv head, group of up to 4 query heads, query t); the grid
// depends on the scalars only, never on the sequence length (read from `positions` on the
// device), so a captured decode step replays unchanged. Each block reads its K/V slice once for
// all the query heads that share the kv head. Within a warp, LPK lanes share one key (8 dims per
// lane, 16-byte loads) and each key slot keeps its own online-softmax state; slots, then warps,
// are combined in a fixed order (deterministic).
#include <cstdint>

#include "kernels/cuda/common.cuh"
#include "kernels/params/attention.hpp"

namespace stagefence::kernels::cuda {
namespace {

constexpr int kHeadsPerBlock = 4;
constexpr int kAttnWarps = 4;
constexpr int kKeysUnroll = 4;
constexpr int kMaxHeadDim = 256;
constexpr float kNegInf = -__builtin_huge_valf();

__device__ __forceinline__ void unpack_half8(const uint4& w, float* f) {
  f[0] = lo_half_f(w.x);
  f[1] = hi_half_f(w.x);
  f[2] = lo_half_f(w.y);
  f[3] = hi_half_f(w.y);
  f[4] = lo_half_f(w.z);
  f[5] = hi_half_f(w.z);
  f[6] = lo_half_f(w.w);
  f[7] = hi_half_f(w.w);
}

// Merges state (mb, lb, accb) into (m, l, acc); -inf maxima carry no mass.
__device__ __forceinline__ void merge_state(float& m, float& l, float* acc, float mb, float lb,
                                            const float* accb) {
  const float mn = fmaxf(m, mb);
  const float ca = m == kNegInf ? 0.0f : expf(m - mn);
  const float cb = mb == kNegInf ? 0.0f : expf(mb - mn);
  l = l * ca + lb * cb;
#pragma unroll
  for (int i = 0; i < 8; ++i) acc[i] = acc[i] * ca + accb[i] * cb;
  m = mn;
}

__global__ void __launch_bounds__(kAttnWarps * 32) attn_split_kernel(KernelArgs a) {
  const float* q = a.p<const float>(0);
  const uint16_t* kc = a.p<const uint16_t>(1);
  const uint16_t* vc = a.p<const uint16_t>(2);
  float* partial = a.p<float>(3);
  const int32_t* positions = a.p<const int32_t>(4);
  const AttnSplitParams p = a.params<AttnSplitParams>();
  const int heads = int(p.heads), kv_heads = int(p.kv_heads), hd = int(p.head_dim);
  const int64_t cap = p.cap;
  const float scale = p.scale;
  const int splits = int(p.splits);
  const int64_t window = p.window;
  const float softcap = p.softcap;
  const int group = heads / kv_heads;
  const int tiles = (group + kHeadsPerBlock - 1) / kHeadsPerBlock;
  const int split = blockIdx.x, kvh = blockIdx.y / tiles, tile = blockIdx.y % tiles;
  const int64_t t = blockIdx.z;
  const int warp = threadIdx.x >> 5, lane = threadIdx.x & 31;

  const int chunks = hd / 8;  // 8 dims per lane
  int lpk = 1;
  while (lpk < chunks) lpk *= 2;
  const int kpw = 32 / lpk;  // keys per warp step
  const int slot = lane / lpk, chunk = lane % lpk;
  const bool has_chunk = chunk < chunks;

  // Key slice of this split.
  const int64_t pos = positions[t];
  const int64_t hi = pos < cap - 1 ? pos : cap - 1;
  int64_t lo = window > 0 ? pos - window + 1 : 0;
  if (lo < 0) lo = 0;
  const int64_t n = hi - lo + 1 > 0 ? hi - lo + 1 : 0;
  const int64_t per_split = (n + splits - 1) / splits;
  const int64_t s_begin = lo + int64_t(split) * per_split;
  const int64_t s_end = s_begin + per_split < hi + 1 ? s_begin + per_split : hi + 1;

  float qr[kHeadsPerBlock][8], acc[kHeadsPerBlock][8], m[kHeadsPerBlock], l[kHeadsPerBlock];
#pragma unroll
  for (int g = 0; g < kHeadsPerBlock; ++g) {
    const int gh = tile * kHeadsPerBlock + g;
    const bool live = gh < group && has_chunk;
    const float* qh = q + (t * heads + int64_t(kvh) * group + gh) * hd + chunk * 8;
#pragma unroll
    for (int i = 0; i < 8; ++i) {
      qr[g][i] = live ? qh[i] * scale : 0.0f;
      acc[g][i] = 0.0f;
    }
    m[g] = kNegInf;
    l[g] = 0.0f;
  }

  const uint16_t* kbase = kc + int64_t(kvh) * cap * hd + chunk * 8;
  const uint16_t* vbase = vc + int64_t(kvh) * cap * hd + chunk * 8;
  const int64_t step = int64_t(kpw) * kKeysUnroll;
  for (int64_t base = s_begin + int64_t(warp) * step; base < s_end; base += step * kAttnWarps) {
    uint4 kw[kKeysUnroll], vw[kKeysUnroll];
#pragma unroll
    for (int u = 0; u < kKeysUnroll; ++u) {
      const int64_t key = base + u * kpw + slot;
      const bool ok = key < s_end && has_chunk;
      kw[u] = ok ? __ldg(reinterpret_cast<const uint4*>(kbase + key * hd)) : make_uint4(0, 0, 0, 0);
      vw[u] = ok ? __ldg(reinterpret_cast<const uint4*>(vbase + key * hd)) : make_uint4(0, 0, 0, 0);
    }
#pragma unroll
    for (int u = 0; u < kKeysUnroll; ++u) {
      const bool key_ok = base + u * kpw + slot < s_end;
      float kf[8], vf[8];
      unpack_half8(kw[u], kf);
      unpack_half8(vw[u], vf);
#pragma unroll
      for (int g = 0; g < kHeadsPerBlock; ++g) {
        float s = 0.0f;
#pragma unroll
        for (int i = 0; i < 8; ++i) s += qr[g][i] * kf[i];
        for (int o = lpk / 2; o > 0; o >>= 1) s += __shfl_xor_sync(kFullMask, s, o);
        if (softcap > 0.0f) s = softcap * tanhf(s / softcap);
        if (!key_ok) s = kNegInf;
        if (s > m[g]) {
          const float corr = expf(m[g] - s);  // exp(-inf) = 0 on the first key
          l[g] *= corr;
#pragma unroll
          for (int i = 0; i < 8; ++i) acc[g][i] *= corr;
          m[g] = s;
        }
        const float p = s == kNegInf ? 0.0f : expf(s - m[g]);
        l[g] += p;
#pragma unroll
        for (int i = 0; i < 8; ++i) acc[g][i] += p * vf[i];
      }
    }
  }

  // Combine key slots of the warp (lanes with equal chunk), then warps through shared memory.
  for (int o = lpk; o < 32; o <<= 1) {
#pragma unroll
    for (int g = 0; g < kHeadsPerBlock; ++g) {
      float accb[8];
#pragma unroll
      for (int i = 0; i < 8; ++i) accb[i] = __shfl_xor_sync(kFullMask, acc[g][i], o);
      const float mb = __shfl_xor_sync(kFullMask, m[g], o);
      const float lb = __shfl_xor_sync(kFullMask, l[g], o);
      merge_state(m[g], l[g], acc[g], mb, lb, accb);
    }
  }
  __shared__ float s_acc[kAttnWarps][kHeadsPerBlock][kMaxHeadDim];
  __shared__ float s_ml[kAttnWarps][kHeadsPerBlock][2];
  if (slot == 0 && has_chunk) {
#pragma unroll
    for (int g = 0; g < kHeadsPerBlock; ++g) {
#pragma unroll
      for (int i = 0; i < 8; ++i) s_acc[warp][g][chunk * 8 + i] = acc[g][i];
      if (chunk == 0) {
        s_ml[warp][g][0] = m[g];
        s_ml[warp][g][1] = l[g];
      }
    }
  }
  __syncthreads();
  const int row = hd + 2;
  for (int idx = threadIdx.x; idx < kHeadsPerBlock * row; idx += blockDim.x) {
    const int g = idx / row, d = idx % row;
    const int gh = tile * kHeadsPerBlock + g;
    if (gh >= group) continue;
    float mm = kNegInf;
    for (int w = 0; w < kAttnWarps; ++w) mm = fmaxf(mm, s_ml[w][g][0]);
    float v = 0.0f;
    if (d == hd) {
      v = mm;
    } else {
      for (int w = 0; w < kAttnWarps; ++w) {
        const float mw = s_ml[w][g][0];
        const float c = mw == kNegInf ? 0.0f : expf(mw - mm);
        v += c * (d < hd ? s_acc[w][g][d] : s_ml[w][g][1]);
      }
    }
    const int64_t head = int64_t(kvh) * group + gh;
    partial[((t * heads + head) * splits + split) * row + d] = v;
  }
}

Launch attn_split_launch(const KernelArgs& a) {
  const AttnSplitParams p = a.params<AttnSplitParams>();
  const int64_t heads = p.heads, kv_heads = p.kv_heads;
  const int64_t group = heads / kv_heads;
  Launch l;
  l.grid = {static_cast<uint32_t>(p.splits),
            static_cast<uint32_t>(kv_heads * ((group + kHeadsPerBlock - 1) / kHeadsPerBlock)),
            static_cast<uint32_t>(p.tokens)};
  l.block = {kAttnWarps * 32, 1, 1};
  return l;
}

// out[t, h, d] = sum_s e^(m_s - M) acc_s[d] / sum_s e^(m_s - M) l_s; one block per (h, t).
// The loops over splits are unrolled so that kMergeUnroll independent loads are in flight (the
// partials were just written and sit in L2; a serial loop pays one L2 round trip per split).
constexpr int kMergeUnroll = 8;

__global__ void attn_merge_kernel(KernelArgs a) {
  const float* partial = a.p<const float>(0);
  float* out = a.p<float>(1);
  const AttnMergeParams params = a.params<AttnMergeParams>();
  const int64_t heads = params.heads, hd = params.head_dim, splits = params.splits;
  const int64_t h = blockIdx.x, t = blockIdx.y;
  const int64_t row = hd + 2;
  const float* p = partial + (t * heads + h) * splits * row;
  float mm = kNegInf;
#pragma unroll kMergeUnroll
  for (int64_t s = 0; s < splits; ++s) mm = fmaxf(mm, p[s * row + hd]);
  for (int64_t d = threadIdx.x; d < hd; d += blockDim.x) {
    float num = 0.0f, den = 0.0f;
#pragma unroll kMergeUnroll
    for (int64_t s = 0; s < splits; ++s) {
      const float* ps = p + s * row;
      const float ms = ps[hd];
      const float c = ms == kNegInf ? 0.0f : expf(ms - mm);
      num += c * ps[d];
      den += c * ps[hd + 1];
    }
    out[(t * heads + h) * hd + d] = den > 0.0f ? num / den : 0.0f;
  }
}

Launch attn_merge_launch(const KernelArgs& a) {
  Launch l;
  const AttnMergeParams p = a.params<AttnMergeParams>();
  l.grid = {static_cast<uint32_t>(p.heads), static_cast<uint32_t>(p.tokens), 1};
  l.block = {128, 1, 1};
  return l;
}

}  // namespace

void append_attention_kernels(std::vector<CudaKernelEntry>& t) {
  t.push_back(
      {"attn.split", reinterpret_cast<const void*>(&attn_split_kernel), &attn_split_launch});
  t.push_back(
      {"attn.merge", reinterpret_cast<const void*>(&attn_merge_kernel), &attn_merge_launch});
}

}  // namespace stagefence::kernels::cuda
