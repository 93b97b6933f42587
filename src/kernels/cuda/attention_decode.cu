// "attn.decode" (src/kernels/params/attention_decode.hpp): one query token over the f16 KV cache.
// Block (split, kv head) reads its slice of K and V once for the whole query group, in tiles of
// kTile keys: a tile's K and V rows are loaded together up front, the scores of every head of
// the group go to shared memory, one online-softmax update per head and tile turns them into
// weights, and each warp accumulates the weighted V rows of its keys. The last block of a kv head
// to finish (an atomic counter) merges the splits in split order, so the result does not depend
// on which block came last, and resets the counter for the next launch.
#include <cstdint>
#include <cstring>

#include "kernels/cuda/common.cuh"
#include "kernels/params/attention_decode.hpp"

namespace stagefence::kernels::cuda {
namespace {

constexpr int kWarps = 8, kThreads = kWarps * 32;
constexpr int kTile = 64;                     // keys per tile
constexpr int kKeysPerWarp = kTile / kWarps;  // 8
constexpr int kMaxGroup = 8;                  // query heads per kv head
constexpr float kNegInf = -__builtin_huge_valf();

__device__ __forceinline__ void half8(const uint4& w, float* f) {
  f[0] = lo_half_f(w.x), f[1] = hi_half_f(w.x), f[2] = lo_half_f(w.y), f[3] = hi_half_f(w.y);
  f[4] = lo_half_f(w.z), f[5] = hi_half_f(w.z), f[6] = lo_half_f(w.w), f[7] = hi_half_f(w.w);
}

// kDpl halves starting at p (aligned to 2·kDpl bytes) as floats.
template <int kDpl>
__device__ __forceinline__ void load_halves(const uint16_t* p, float* f) {
  if constexpr (kDpl == 8) {
    half8(__ldg(reinterpret_cast<const uint4*>(p)), f);
  } else if constexpr (kDpl == 4) {
    const uint2 w = __ldg(reinterpret_cast<const uint2*>(p));
    f[0] = lo_half_f(w.x), f[1] = hi_half_f(w.x), f[2] = lo_half_f(w.y), f[3] = hi_half_f(w.y);
  } else if constexpr (kDpl == 2) {
    const uint32_t w = __ldg(reinterpret_cast<const uint32_t*>(p));
    f[0] = lo_half_f(w), f[1] = hi_half_f(w);
  } else {
    f[0] = __half2float(__ushort_as_half(__ldg(p)));
  }
}

struct Shared {
  float* q;      // [G][hd], scaled
  float* s;      // [G][kTile]: scores, then weights
  float* m;      // [G] running max
  float* l;      // [G] running sum
  float* c;      // [G] this tile's rescale factor
  float* comb;   // [kWarps][G][hd]
  float* merge;  // [splits][G][3]: m, l, weight
};

__host__ __device__ inline int64_t shared_floats(int group, int hd, int splits) {
  return int64_t(group) * hd + int64_t(group) * kTile + 3 * group + int64_t(kWarps) * group * hd +
         int64_t(splits) * group * 3;
}

// head_dim = 32·kDpl: a lane holds kDpl dims of a V row and 8 dims of a K row (hd/8 lanes per
// key, 256/hd keys per warp step).
template <int kDpl>
__global__ void __launch_bounds__(kThreads) attn_decode_kernel(KernelArgs a) {
  allow_dependents();
  grid_dependency_wait();
  constexpr int kHd = 32 * kDpl, kLpk = kHd / 8, kKps = 32 / kLpk, kSteps = kKeysPerWarp / kKps;
  const AttnDecodeParams p = a.params<AttnDecodeParams>();
  const float* q = a.p<const float>(0);
  const uint16_t* kc = a.p<const uint16_t>(1);
  const uint16_t* vc = a.p<const uint16_t>(2);
  float* partial = a.p<float>(3);
  constexpr int hd = kHd;
  const int group = p.heads / p.kv_heads, splits = p.splits;
  int* counters = reinterpret_cast<int*>(partial + int64_t(p.kv_heads) * splits * group * (hd + 2));
  float* out = a.p<float>(5);
  const int split = blockIdx.x, kvh = blockIdx.y;
  const int tid = threadIdx.x, warp = tid >> 5, lane = tid & 31;
  const int64_t cap = p.cap;

  extern __shared__ __align__(16) float smem[];
  Shared sh;
  sh.q = smem;
  sh.s = sh.q + group * hd;
  sh.m = sh.s + group * kTile;
  sh.l = sh.m + group;
  sh.c = sh.l + group;
  sh.comb = sh.c + group;
  sh.merge = sh.comb + kWarps * group * hd;

  const int64_t pos = *a.p<const int32_t>(4);
  const int64_t hi = pos < cap - 1 ? pos : cap - 1;
  int64_t lo = p.window > 0 ? pos - p.window + 1 : 0;
  if (lo < 0) lo = 0;
  const int64_t n = hi - lo + 1 > 0 ? hi - lo + 1 : 0;
  const int64_t per_split = (n + splits - 1) / splits;
  const int64_t k_begin = lo + int64_t(split) * per_split;
  const int64_t k_end = k_begin + per_split < hi + 1 ? k_begin + per_split : hi + 1;

  const uint16_t* kbase = kc + int64_t(kvh) * cap * hd;
  const uint16_t* vbase = vc + int64_t(kvh) * cap * hd;
  const int chunk = lane % kLpk, slot = lane / kLpk;
  // A tile's K rows for the scores (8 dims per lane) and V rows for the outputs (dpl dims per
  // lane), loaded into registers; the first tile's loads are issued before the queries are staged.
  uint4 kw[kSteps];
  float vf[kKeysPerWarp][kDpl];
  auto load_tile = [&](int64_t t0) {
    const int64_t wk0 = t0 + int64_t(warp) * kKeysPerWarp;  // this warp's first key
#pragma unroll
    for (int st = 0; st < kSteps; ++st) {
      const int64_t key = wk0 + st * kKps + slot;
      kw[st] = key < k_end ? __ldg(reinterpret_cast<const uint4*>(kbase + key * hd + chunk * 8))
                           : make_uint4(0, 0, 0, 0);
    }
#pragma unroll
    for (int k = 0; k < kKeysPerWarp; ++k) {
      const int64_t key = wk0 + k;
      if (key < k_end) {
        load_halves<kDpl>(vbase + key * hd + lane * kDpl, vf[k]);
      } else {
#pragma unroll
        for (int i = 0; i < kDpl; ++i) vf[k][i] = 0.0f;
      }
    }
  };
  if (k_begin < k_end) load_tile(k_begin);

  for (int i = tid; i < group * hd; i += kThreads)
    sh.q[i] = q[(int64_t(kvh) * group) * hd + i] * p.scale;
  if (tid < group) {
    sh.m[tid] = kNegInf;
    sh.l[tid] = 0.0f;
  }
  __syncthreads();

  float acc[kMaxGroup][kDpl];
#pragma unroll
  for (int g = 0; g < kMaxGroup; ++g)
#pragma unroll
    for (int i = 0; i < kDpl; ++i) acc[g][i] = 0.0f;

  for (int64_t t0 = k_begin; t0 < k_end; t0 += kTile) {
    if (t0 != k_begin) load_tile(t0);
      // Scores.
#pragma unroll
    for (int st = 0; st < kSteps; ++st) {
      const int kt = warp * kKeysPerWarp + st * kKps + slot;  // key within the tile
      const bool valid = t0 + kt < k_end;
      float kf[8];
      half8(kw[st], kf);
#pragma unroll
      for (int g = 0; g < kMaxGroup; ++g) {
        if (g >= group) break;
        const float4 q0 = *reinterpret_cast<const float4*>(sh.q + g * hd + chunk * 8);
        const float4 q1 = *reinterpret_cast<const float4*>(sh.q + g * hd + chunk * 8 + 4);
        float d = q0.x * kf[0];
        d = fmaf(q0.y, kf[1], d);
        d = fmaf(q0.z, kf[2], d);
        d = fmaf(q0.w, kf[3], d);
        d = fmaf(q1.x, kf[4], d);
        d = fmaf(q1.y, kf[5], d);
        d = fmaf(q1.z, kf[6], d);
        d = fmaf(q1.w, kf[7], d);
#pragma unroll
        for (int o = kLpk / 2; o > 0; o >>= 1) d += __shfl_xor_sync(kFullMask, d, o);
        if (p.softcap > 0.0f) d = p.softcap * tanhf(d / p.softcap);
        if (chunk == 0) sh.s[g * kTile + kt] = valid ? d : kNegInf;
      }
    }
    __syncthreads();
    // One online-softmax update per head for the whole tile.
    for (int g = warp; g < group; g += kWarps) {
      float tmax = kNegInf;
      for (int k = lane; k < kTile; k += 32) tmax = fmaxf(tmax, sh.s[g * kTile + k]);
      tmax = warp_max(tmax);
      const float m_old = sh.m[g];
      const float m_new = fmaxf(m_old, tmax);
      float sum = 0.0f;
      for (int k = lane; k < kTile; k += 32) {
        const float sv = sh.s[g * kTile + k];
        const float w = sv == kNegInf ? 0.0f : expf(sv - m_new);
        sh.s[g * kTile + k] = w;
        sum += w;
      }
      sum = warp_sum(sum);
      if (lane == 0) {
        const float c = m_old == kNegInf ? 0.0f : expf(m_old - m_new);
        sh.c[g] = c;
        sh.l[g] = sh.l[g] * c + sum;
        sh.m[g] = m_new;
      }
    }
    __syncthreads();
    // Weighted V rows of this warp's keys.
#pragma unroll
    for (int g = 0; g < kMaxGroup; ++g) {
      if (g >= group) break;
      const float c = sh.c[g];
#pragma unroll
      for (int i = 0; i < kDpl; ++i) acc[g][i] *= c;
#pragma unroll
      for (int k = 0; k < kKeysPerWarp; ++k) {
        const float w = sh.s[g * kTile + warp * kKeysPerWarp + k];
#pragma unroll
        for (int i = 0; i < kDpl; ++i) acc[g][i] = fmaf(w, vf[k][i], acc[g][i]);
      }
    }
    __syncthreads();  // the tile's weights are read before the next tile's scores overwrite them
  }

  // Combine the warps (same max per head: the tile updates were block-wide), then write the
  // split's partial result: unnormalised outputs, m, l.
#pragma unroll
  for (int g = 0; g < kMaxGroup; ++g) {
    if (g >= group) break;
#pragma unroll
    for (int i = 0; i < kDpl; ++i) sh.comb[(warp * group + g) * hd + lane * kDpl + i] = acc[g][i];
  }
  __syncthreads();
  const int row = hd + 2;
  float* mine = partial + ((int64_t(kvh) * splits + split) * group) * row;
  for (int idx = tid; idx < group * row; idx += kThreads) {
    const int g = idx / row, d = idx % row;
    float v;
    if (d < hd) {
      v = 0.0f;
      for (int w = 0; w < kWarps; ++w) v += sh.comb[(w * group + g) * hd + d];
    } else {
      v = d == hd ? sh.m[g] : sh.l[g];
    }
    mine[idx] = v;
  }

  // The last block of this kv head merges every split.
  __threadfence();
  __syncthreads();
  __shared__ int last;
  if (tid == 0) last = atomicAdd(&counters[kvh], 1) == splits - 1;
  __syncthreads();
  if (!last) return;
  __threadfence();
  const float* all = partial + int64_t(kvh) * splits * group * row;
  for (int idx = tid; idx < splits * group; idx += kThreads) {
    sh.merge[idx * 3 + 0] = __ldcg(all + int64_t(idx) * row + hd);
    sh.merge[idx * 3 + 1] = __ldcg(all + int64_t(idx) * row + hd + 1);
  }
  __syncthreads();
  // Per head: the largest max, each split's weight, and the total mass (in split order).
  for (int g = warp; g < group; g += kWarps) {
    if (lane == 0) {
      float mm = kNegInf;
      for (int s = 0; s < splits; ++s) mm = fmaxf(mm, sh.merge[(s * group + g) * 3]);
      float den = 0.0f;
      for (int s = 0; s < splits; ++s) {
        const float ms = sh.merge[(s * group + g) * 3];
        const float w = ms == kNegInf ? 0.0f : expf(ms - mm);
        sh.merge[(s * group + g) * 3 + 2] = w;
        den += w * sh.merge[(s * group + g) * 3 + 1];
      }
      sh.c[g] = den;
    }
  }
  __syncthreads();
  // kBatch splits' values are loaded before any is added, so a pass costs one L2 round trip.
  constexpr int kBatch = 16;
  for (int idx = tid; idx < group * hd; idx += kThreads) {
    const int g = idx / hd, d = idx % hd;
    float num = 0.0f;
    for (int s0 = 0; s0 < splits; s0 += kBatch) {
      float v[kBatch];
#pragma unroll
      for (int b = 0; b < kBatch; ++b)
        v[b] = s0 + b < splits ? __ldcg(all + (int64_t(s0 + b) * group + g) * row + d) : 0.0f;
#pragma unroll
      for (int b = 0; b < kBatch; ++b)
        if (s0 + b < splits) num += sh.merge[((s0 + b) * group + g) * 3 + 2] * v[b];
    }
    const float den = sh.c[g];
    out[(int64_t(kvh) * group + g) * hd + d] = den > 0.0f ? num / den : 0.0f;
  }
  if (tid == 0) counters[kvh] = 0;
}

template <int kDpl>
Launch attn_decode_launch(const KernelArgs& a) {
  const AttnDecodeParams p = a.params<AttnDecodeParams>();
  const int group = p.heads / (p.kv_heads > 0 ? p.kv_heads : 1);
  const int64_t bytes = shared_floats(group, p.head_dim, p.splits) * 4;
  static const bool raised = [] {
    const bool ok = cudaFuncSetAttribute(reinterpret_cast<const void*>(&attn_decode_kernel<kDpl>),
                                         cudaFuncAttributeMaxDynamicSharedMemorySize,
                                         200 * 1024) == cudaSuccess;
    (void)cudaGetLastError();
    return ok;
  }();
  (void)raised;
  Launch l;
  l.grid = {uint32_t(p.splits), uint32_t(p.kv_heads), 1};
  l.block = {kThreads, 1, 1};
  l.shared_bytes = uint32_t(bytes);
  return l;
}

}  // namespace

// One entry per supported head size: "attn.decode.hd<N>".
void append_attention_decode_kernels(std::vector<CudaKernelEntry>& t) {
  t.push_back({"attn.decode.hd32", reinterpret_cast<const void*>(&attn_decode_kernel<1>),
               &attn_decode_launch<1>, nullptr, true});
  t.push_back({"attn.decode.hd64", reinterpret_cast<const void*>(&attn_decode_kernel<2>),
               &attn_decode_launch<2>, nullptr, true});
  t.push_back({"attn.decode.hd128", reinterpret_cast<const void*>(&attn_decode_kernel<4>),
               &attn_decode_launch<4>, nullptr, true});
  t.push_back({"attn.decode.hd256", reinterpret_cast<const void*>(&attn_decode_kernel<8>),
               &attn_decode_launch<8>, nullptr, true});
}

}  // namespace stagefence::kernels::cuda
