// "sample": greedy argmax (ties to the lowest id) or temperature / top-k / top-p sampling.
// The launch is one cluster of kSampleBlocks blocks of 1024 threads. Greedy: each block takes a
// contiguous slice of the logits, and block 0 combines the blocks' winners in rank order through
// distributed shared memory (deterministic, no atomics). Otherwise block 0 alone finds the exact
// candidate set with a radix select on order-preserving integer keys (ties at the threshold go
// to the lowest ids), sorts it, and draws with sf_uniform(seed, step).
#include <cooperative_groups.h>

#include <cstdint>

#include "kernels/cuda/common.cuh"
#include "kernels/params/sample.hpp"

namespace stagefence::kernels::cuda {
namespace {

namespace cg = cooperative_groups;

constexpr int kSampleThreads = 1024;
constexpr int kSampleBlocks = 8;  // one cluster: 8 SMs pull the logits instead of one
constexpr int kCand = kMaxSampleCandidates;
constexpr int kArgmaxBatch = 4;  // 16-byte loads per thread issued before the first compare

// Larger float gives larger key; NaN maps to the smallest key.
__device__ __forceinline__ uint32_t order_key(float f) {
  if (f != f) return 0u;
  const uint32_t b = __float_as_uint(f);
  return (b & 0x80000000u) ? ~b : (b | 0x80000000u);
}

__device__ __forceinline__ bool better(float v, int i, float bv, int bi) {
  return v > bv || (v == bv && i < bi);
}

// (value, id) winner of the block in s_v[0], s_i[0]: the best of the 16-byte vectors
// [v_begin, v_end) and of the scalar tail elements i = tail_begin + k * tail_stride < vocab.
// Contains __syncthreads: call from all threads.
__device__ void block_argmax(const float* logits, int vocab, int v_begin, int v_end, int tail_begin,
                             int tail_stride, float* s_v, int* s_i) {
  float bv = -__builtin_huge_valf();
  int bi = 0x7fffffff;
  const float4* l4 = reinterpret_cast<const float4*>(logits);
  // Bandwidth of a few SMs is bytes in flight over latency: every load of a batch is issued
  // before any compare.
  for (int base = v_begin + threadIdx.x; base < v_end; base += kSampleThreads * kArgmaxBatch) {
    float4 x[kArgmaxBatch];
#pragma unroll
    for (int j = 0; j < kArgmaxBatch; ++j) {
      const int v = base + j * kSampleThreads;
      x[j] = v < v_end ? __ldg(l4 + v) : make_float4(0.0f, 0.0f, 0.0f, 0.0f);
    }
#pragma unroll
    for (int j = 0; j < kArgmaxBatch; ++j) {
      const int v = base + j * kSampleThreads;
      if (v < v_end) {
        const int i = 4 * v;
        if (better(x[j].x, i, bv, bi)) bv = x[j].x, bi = i;
        if (better(x[j].y, i + 1, bv, bi)) bv = x[j].y, bi = i + 1;
        if (better(x[j].z, i + 2, bv, bi)) bv = x[j].z, bi = i + 2;
        if (better(x[j].w, i + 3, bv, bi)) bv = x[j].w, bi = i + 3;
      }
    }
  }
  for (int i = tail_begin + threadIdx.x; i < vocab; i += tail_stride) {
    const float x = logits[i];
    if (better(x, i, bv, bi)) bv = x, bi = i;
  }
  for (int o = 16; o > 0; o >>= 1) {
    const float ov = __shfl_xor_sync(kFullMask, bv, o);
    const int oi = __shfl_xor_sync(kFullMask, bi, o);
    if (better(ov, oi, bv, bi)) bv = ov, bi = oi;
  }
  const int lane = threadIdx.x & 31, warp = threadIdx.x >> 5;
  __syncthreads();  // s_v / s_i may still be read from an earlier use
  if (lane == 0) s_v[warp] = bv, s_i[warp] = bi;
  __syncthreads();
  if (warp == 0) {
    bv = s_v[lane];
    bi = s_i[lane];
    for (int o = 16; o > 0; o >>= 1) {
      const float ov = __shfl_xor_sync(kFullMask, bv, o);
      const int oi = __shfl_xor_sync(kFullMask, bi, o);
      if (better(ov, oi, bv, bi)) bv = ov, bi = oi;
    }
  }
  __syncthreads();
  if (threadIdx.x == 0) s_v[0] = bv, s_i[0] = bi;
  __syncthreads();
}

// Greedy over the whole cluster; block 0 leaves the token in *s_token.
__device__ void cluster_argmax(const float* logits, int vocab, float* s_v, int* s_i, int* s_token) {
  cg::cluster_group cluster = cg::this_cluster();
  const int rank = int(cluster.block_rank());
  const bool vec = (reinterpret_cast<uintptr_t>(logits) & 15) == 0;
  const int nvec = vec ? vocab / 4 : 0;
  const int per_block = (nvec + kSampleBlocks - 1) / kSampleBlocks;
  const int v_begin = min(nvec, rank * per_block), v_end = min(nvec, v_begin + per_block);
  block_argmax(logits, vocab, v_begin, v_end, 4 * nvec + rank * kSampleThreads,
               kSampleThreads * kSampleBlocks, s_v, s_i);
  cluster.sync();  // every block's winner is in its s_v[0], s_i[0]
  if (rank == 0 && threadIdx.x == 0) {
    float bv = s_v[0];
    int bi = s_i[0];
    for (int r = 1; r < kSampleBlocks; ++r) {
      const float ov = *cluster.map_shared_rank(s_v, r);
      const int oi = *cluster.map_shared_rank(s_i, r);
      if (better(ov, oi, bv, bi)) bv = ov, bi = oi;
    }
    *s_token = bi == 0x7fffffff ? 0 : bi;  // all NaN: id 0
  }
  cluster.sync();  // no block exits while block 0 still reads its shared memory
}

struct SelectShared {
  uint32_t hist[256];
  uint32_t prefix;
  uint32_t k;
};

// The k-th largest (1-based) of value(i) over the i in [0, vocab) with take(i); returns it and
// leaves in sh.k how many elements equal to it are within the top k.
template <typename Value, typename Take>
__device__ uint32_t radix_select(int vocab, uint32_t k, Value value, Take take, SelectShared& sh) {
  uint32_t prefix = 0, mask = 0;
  for (int shift = 24; shift >= 0; shift -= 8) {
    for (int b = threadIdx.x; b < 256; b += kSampleThreads) sh.hist[b] = 0;
    __syncthreads();
    for (int i = threadIdx.x; i < vocab; i += kSampleThreads) {
      if (!take(i)) continue;
      const uint32_t v = value(i);
      if ((v & mask) == prefix) atomicAdd(&sh.hist[(v >> shift) & 255u], 1u);
    }
    __syncthreads();
    if (threadIdx.x == 0) {
      uint32_t cum = 0;
      int b = 255;
      for (; b > 0 && cum + sh.hist[b] < k; --b) cum += sh.hist[b];
      sh.k = k - cum;
      sh.prefix = prefix | (uint32_t(b) << shift);
    }
    __syncthreads();
    prefix = sh.prefix;
    k = sh.k;
    mask |= 255u << shift;
    __syncthreads();
  }
  return prefix;
}

__global__ void __cluster_dims__(kSampleBlocks, 1, 1) __launch_bounds__(kSampleThreads)
    sample_kernel(KernelArgs a) {
  const float* logits = a.p<const float>(0);
  int32_t* token = a.p<int32_t>(1);
  const uint64_t* state = a.p<const uint64_t>(2);
  int32_t* history = a.p<int32_t>(3);
  const SampleParams p = a.params<SampleParams>();
  const int vocab = int(p.vocab);
  const float temperature = p.temperature;
  const int64_t top_k = p.top_k;
  const float top_p = p.top_p;
  const uint64_t max_steps = uint64_t(p.max_steps);

  __shared__ float s_v[32];
  __shared__ int s_i[32];
  __shared__ int s_token;
  __shared__ SelectShared sel;
  __shared__ unsigned long long cand[kCand];
  __shared__ double prob[kCand];
  __shared__ uint32_t s_count, s_eq;

  if (temperature <= 0.0f) {
    cluster_argmax(logits, vocab, s_v, s_i, &s_token);
    if (blockIdx.x != 0) return;
  } else {
    if (blockIdx.x != 0) return;  // the candidate search runs in one block
    int64_t kk = top_k > 0 && top_k < vocab ? top_k : vocab;
    if (kk > kCand) kk = kCand;
    const uint32_t k = uint32_t(kk);
    auto key_of = [&](int i) { return order_key(logits[i]); };
    auto all = [](int) { return true; };
    const uint32_t thresh = radix_select(vocab, k, key_of, all, sel);
    const uint32_t need = sel.k;  // elements equal to thresh that belong to the top k
    if (threadIdx.x == 0) s_eq = 0, s_count = 0;
    __syncthreads();
    uint32_t eq = 0;
    for (int i = threadIdx.x; i < vocab; i += kSampleThreads) eq += key_of(i) == thresh;
    atomicAdd(&s_eq, eq);
    __syncthreads();
    // Among ties at the threshold take the `need` lowest ids: the need-th largest of ~id.
    uint32_t id_floor = 0;  // take ties with ~id >= id_floor
    if (s_eq != need) {
      auto tie = [&](int i) { return key_of(i) == thresh; };
      id_floor = radix_select(
          vocab, need, [](int i) { return ~uint32_t(i); }, tie, sel);
    }
    for (int i = threadIdx.x; i < vocab; i += kSampleThreads) {
      const uint32_t key = key_of(i);
      if (key > thresh || (key == thresh && ~uint32_t(i) >= id_floor)) {
        const uint32_t slot = atomicAdd(&s_count, 1u);
        if (slot < kCand) cand[slot] = (uint64_t(key) << 32) | uint64_t(~uint32_t(i));
      }
    }
    __syncthreads();
    for (int i = threadIdx.x; i < kCand; i += kSampleThreads) {
      if (i >= int(k)) cand[i] = 0;
    }
    // Bitonic sort, descending: by logit, then by id ascending (the low word is ~id).
    for (int size = 2; size <= kCand; size <<= 1) {
      for (int stride = size / 2; stride > 0; stride >>= 1) {
        __syncthreads();
        for (int i = threadIdx.x; i < kCand; i += kSampleThreads) {
          const int j = i ^ stride;
          if (j > i) {
            const bool desc = (i & size) == 0;
            const unsigned long long x = cand[i], y = cand[j];
            if (desc ? x < y : x > y) cand[i] = y, cand[j] = x;
          }
        }
      }
    }
    __syncthreads();
    const float lmax = logits[~uint32_t(cand[0] & 0xffffffffu)];
    for (int i = threadIdx.x; i < int(k); i += kSampleThreads) {
      const float li = logits[~uint32_t(cand[i] & 0xffffffffu)];
      prob[i] = exp((double(li) - double(lmax)) / double(temperature));
    }
    __syncthreads();
    if (threadIdx.x == 0) {
      double total = 0.0;
      for (uint32_t i = 0; i < k; ++i) total += prob[i];
      uint32_t keep = k;
      double kept = total;
      if (top_p < 1.0f) {
        double cum = 0.0;
        for (uint32_t i = 0; i < k; ++i) {
          cum += prob[i];
          if (cum >= double(top_p) * total) {
            keep = i + 1;
            kept = cum;
            break;
          }
        }
      }
      const double u = sf_uniform(state[0], state[1]) * kept;
      uint32_t pick = keep - 1;
      double cum = 0.0;
      for (uint32_t i = 0; i < keep; ++i) {
        cum += prob[i];
        if (cum > u) {
          pick = i;
          break;
        }
      }
      s_token = int(~uint32_t(cand[pick] & 0xffffffffu));
    }
    __syncthreads();
  }
  if (threadIdx.x == 0) {
    token[0] = s_token;
    const uint64_t step = state[1];
    if (step < max_steps) history[step] = s_token;
  }
}

Launch sample_launch(const KernelArgs&) {
  Launch l;
  l.grid = {kSampleBlocks, 1, 1};  // one cluster (the cluster shape is compiled in)
  l.block = {kSampleThreads, 1, 1};
  return l;
}

}  // namespace

void append_sample_kernels(std::vector<CudaKernelEntry>& t) {
  t.push_back({"sample", reinterpret_cast<const void*>(&sample_kernel), &sample_launch});
}

}  // namespace stagefence::kernels::cuda
