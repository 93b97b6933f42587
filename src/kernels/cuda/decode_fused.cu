// "mv.<wt>", "qkv.<wt>", "glu.<wt>" (src/kernels/params/fused_decode.hpp): the decode
// projections with the RMSNorm folded in and their epilogues (bias, residual, RoPE and the KV
// cache write, SwiGLU), on the streaming engine of decode_stream.cuh.
#include <cstdint>
#include <cstring>
#include <mutex>
#include <string>
#include <unordered_map>

#include "kernels/cuda/decode_stream.cuh"
#include "kernels/params/fused_decode.hpp"

namespace stagefence::kernels::cuda {

namespace stream {
namespace {

struct Residency {
  std::mutex mu;
  std::unordered_map<uint64_t, int64_t> blocks;      // key: (kernel, smem, device) hashed
  std::unordered_map<uint64_t, int64_t> smem_limit;  // key: (kernel, device): the attribute set
};

uint64_t mix(const void* kernel, uint64_t v) {
  return (reinterpret_cast<uintptr_t>(kernel) * 0x9E3779B97F4A7C15ull) ^ v;
}

int64_t resident_blocks(const void* kernel, int64_t smem) {
  static Residency r;
  int device = 0;
  if (cudaGetDevice(&device) != cudaSuccess) {
    (void)cudaGetLastError();
    return 1;
  }
  std::lock_guard<std::mutex> lock(r.mu);
  // The kernel's dynamic shared-memory limit only grows: a smaller request after a larger one
  // must not make the larger launch (already in the cache below) fail.
  int64_t& limit = r.smem_limit[mix(kernel, uint64_t(device))];
  if (smem > limit) {
    if (cudaFuncSetAttribute(kernel, cudaFuncAttributeMaxDynamicSharedMemorySize, int(smem)) ==
        cudaSuccess)
      limit = smem;
    else
      (void)cudaGetLastError();  // the launch itself reports the error
  }
  const uint64_t key = mix(kernel, (uint64_t(smem) << 8) ^ uint64_t(device));
  if (auto it = r.blocks.find(key); it != r.blocks.end()) return it->second;
  int sms = 1, per_sm = 0;
  if (cudaDeviceGetAttribute(&sms, cudaDevAttrMultiProcessorCount, device) != cudaSuccess ||
      cudaOccupancyMaxActiveBlocksPerMultiprocessor(&per_sm, kernel, kThreads, size_t(smem)) !=
          cudaSuccess) {
    (void)cudaGetLastError();
    per_sm = 1;
  }
  const int64_t blocks = int64_t(sms) * (per_sm > 0 ? per_sm : 1);
  r.blocks.emplace(key, blocks);
  return blocks;
}

}  // namespace

Launch stream_launch(const void* kernel, int64_t tasks, int64_t smem) {
  Launch l;
  l.block = {kThreads, 1, 1};
  int64_t blocks = (tasks + kWarps - 1) / kWarps;
  const int64_t cap = resident_blocks(kernel, smem);
  if (blocks > cap) blocks = cap;
  if (blocks < 1) blocks = 1;
  l.grid = {uint32_t(blocks), 1, 1};
  l.shared_bytes = uint32_t(smem);
  return l;
}

}  // namespace stream

namespace {

using namespace stream;

__host__ __device__ inline int64_t round16(int64_t v) {
  return (v + 15) / 16 * 16;
}

// Every kernel streams two rows per task.
inline constexpr int kRows = 2;

template <typename T>
__host__ __device__ inline int64_t smem_bytes(int64_t cols) {
  return round16(act_bytes<T>(cols)) + int64_t(kWarps) * ring_bytes<T, kRows>();
}
// This warp's ring, behind the activations.
template <typename T>
__device__ inline uint8_t* warp_ring(uint8_t* smem, int64_t cols, int warp) {
  return smem + round16(act_bytes<T>(cols)) + int64_t(warp) * ring_bytes<T, kRows>();
}

// ---- mv ----
// Task t is rows 2t and 2t + 1; an odd last task reads its row twice and writes it once.
struct MvEpi {
  const uint8_t* w;
  int64_t row_bytes;
  int64_t rows;
  float* y;
  const float* bias;
  uint32_t flags;
  __device__ const uint8_t* row(int64_t task, int r) const {
    const int64_t i = 2 * task + r;
    return w + (i < rows ? i : rows - 1) * row_bytes;
  }
  __device__ void finish(int64_t task, const float (&s)[kRows], int lane) const {
    const int64_t i = 2 * task + lane;
    if (lane >= kRows || i >= rows) return;
    float v = lane == 0 ? s[0] : s[1];
    if (flags & kMvBias) v += bias[i];
    if (flags & kMvAccumulate) v += y[i];
    y[i] = v;
  }
};

template <typename T>
__global__ void __launch_bounds__(kThreads) mv_kernel(KernelArgs a) {
  allow_dependents();
  extern __shared__ __align__(16) uint8_t smem[];
  const MvParams p = a.params<MvParams>();
  const int64_t units = p.cols / T::kUnitElems;
  const MvEpi epi{a.p<const uint8_t>(0), units * T::kUnitBytes, p.rows,
                  a.p<float>(2),         a.p<const float>(3),   p.flags};
  const int warp = threadIdx.x >> 5, lane = threadIdx.x & 31;
  uint8_t* slots = warp_ring<T>(smem, p.cols, warp);
  const int vec = copy_width(reinterpret_cast<uintptr_t>(epi.w), epi.row_bytes);
  run_tasks<T, kRows>(epi, (p.rows + 1) / 2, units, slots, int64_t(blockIdx.x) * kWarps + warp,
                      int64_t(gridDim.x) * kWarps, vec, lane, [&] {
                        return load_acts<T>(smem, a.p<const float>(1), a.p<const float>(4), p.cols,
                                            (p.flags & kMvNorm) != 0, (p.flags & kNormAddOne) != 0,
                                            p.eps, [] { grid_dependency_wait(); });
                      });
}

// ---- qkv ----
// Warps per qkv task (the kernel's teams and the launch's grid both follow it).
template <typename T>
__host__ __device__ inline int qkv_team_size(int64_t dim) {
  return team_fits<T>(dim / T::kUnitElems) ? 2 : 1;
}

struct QkvEpi {
  const uint8_t* wq;
  const uint8_t* wk;
  const uint8_t* wv;
  const float* bq;
  const float* bk;
  const float* bv;
  float* q_out;
  uint16_t* k_cache;
  uint16_t* v_cache;
  int64_t row_bytes;
  int64_t q_tasks, k_tasks;  // pairs of Q rows, of K rows (V has as many as K)
  int hd, rot, mode, pos;
  int64_t cap;
  double theta, freq_scale;
  bool bias;

  struct Where {
    int seg;  // 0 q, 1 k, 2 v
    int head;
    RopePair pair;
  };
  __device__ Where where(int64_t task) const {
    const int half = hd / 2;
    int seg = 0;
    if (task >= q_tasks) {
      task -= q_tasks;
      seg = 1;
      if (task >= k_tasks) {
        task -= k_tasks;
        seg = 2;
      }
    }
    const int head = int(task / half), j = int(task % half);
    RopePair pair = seg == 2 ? RopePair{2 * j, 2 * j + 1, 0, false} : rope_pair(j, hd, rot, mode);
    return {seg, head, pair};
  }
  __device__ const uint8_t* row(int64_t task, int r) const {
    const Where at = where(task);
    const uint8_t* w = at.seg == 0 ? wq : (at.seg == 1 ? wk : wv);
    const int64_t row = int64_t(at.head) * hd + (r == 0 ? at.pair.first : at.pair.second);
    return w + row * row_bytes;
  }
  __device__ void finish(int64_t task, const float (&s)[kRows], int lane) const {
    if (lane != 0) return;
    const Where at = where(task);
    const int64_t ra = int64_t(at.head) * hd + at.pair.first;
    const int64_t rb = int64_t(at.head) * hd + at.pair.second;
    float va = s[0], vb = s[1];
    if (bias) {
      const float* b = at.seg == 0 ? bq : (at.seg == 1 ? bk : bv);
      va += b[ra];
      vb += b[rb];
    }
    if (at.pair.rotated) {
      const double angle = double(pos) * freq_scale * pow(theta, -2.0 * at.pair.freq / rot);
      double sn, cs;
      sincos(angle, &sn, &cs);
      const float a0 = va, a1 = vb;
      va = float(a0 * cs - a1 * sn);
      vb = float(a0 * sn + a1 * cs);
    }
    if (at.seg == 0) {
      q_out[ra] = va;
      q_out[rb] = vb;
    } else if (pos >= 0 && pos < cap) {
      uint16_t* cache = at.seg == 1 ? k_cache : v_cache;
      uint16_t* dst = cache + (int64_t(at.head) * cap + pos) * hd;
      dst[at.pair.first] = quant::float_to_half(va);
      dst[at.pair.second] = quant::float_to_half(vb);
    }
  }
};

template <typename T>
__global__ void __launch_bounds__(kThreads) qkv_kernel(KernelArgs a) {
  allow_dependents();
  extern __shared__ __align__(16) uint8_t smem[];
  const QkvParams p = a.params<QkvParams>();
  const int64_t units = p.dim / T::kUnitElems;
  QkvEpi epi;
  epi.wq = a.p<const uint8_t>(0);
  epi.wk = a.p<const uint8_t>(1);
  epi.wv = a.p<const uint8_t>(2);
  epi.bq = a.p<const float>(5);
  epi.bk = a.p<const float>(6);
  epi.bv = a.p<const float>(7);
  epi.q_out = a.p<float>(9);
  epi.k_cache = a.p<uint16_t>(10);
  epi.v_cache = a.p<uint16_t>(11);
  epi.row_bytes = units * T::kUnitBytes;
  epi.q_tasks = int64_t(p.heads) * (p.head_dim / 2);
  epi.k_tasks = int64_t(p.kv_heads) * (p.head_dim / 2);
  epi.hd = p.head_dim;
  epi.rot = p.rot_dim;
  epi.mode = p.rope_mode;
  epi.pos = 0;
  epi.cap = p.cap;
  epi.theta = p.theta_base;
  epi.freq_scale = p.freq_scale;
  epi.bias = (p.flags & kQkvBias) != 0;
  const int warp = threadIdx.x >> 5, lane = threadIdx.x & 31;
  uint8_t* slots = warp_ring<T>(smem, p.dim, warp);
  const uintptr_t bases = reinterpret_cast<uintptr_t>(epi.wq) |
                          reinterpret_cast<uintptr_t>(epi.wk) | reinterpret_cast<uintptr_t>(epi.wv);
  const int vec = copy_width(bases, epi.row_bytes);
  const int64_t tasks = epi.q_tasks + 2 * epi.k_tasks;
  // Teams of two warps for float rows: the pairs outnumber the warps (3072 over 2112 at
  // Llama-3-8B) but not by a whole multiple, so single warps would leave a long tail.
  Team team;
  team.size = qkv_team_size<T>(p.dim);
  team.index = warp % team.size;
  team.barrier = 1 + warp / team.size;
  team.exchange = reinterpret_cast<float*>(smem) + (warp / team.size) * 8;
  const int teams = kWarps / team.size;
  run_tasks<T, kRows>(
      epi, tasks, units, slots, int64_t(blockIdx.x) * teams + warp / team.size,
      int64_t(gridDim.x) * teams, vec, lane,
      [&] {
        return load_acts<T>(smem, a.p<const float>(3), a.p<const float>(4), p.dim, true,
                            (p.flags & kNormAddOne) != 0, p.eps, [&] {
                              grid_dependency_wait();
                              epi.pos = *a.p<const int32_t>(8);
                            });
      },
      team);
}

// ---- glu ----
struct GluEpi {
  const uint8_t* wg;
  const uint8_t* wu;
  int64_t row_bytes;
  float* out;
  int act;
  __device__ const uint8_t* row(int64_t task, int r) const {
    return (r == 0 ? wg : wu) + task * row_bytes;
  }
  __device__ void finish(int64_t task, const float (&s)[kRows], int lane) const {
    if (lane != 0) return;
    const float g = s[0], u = s[1];
    if (act == 0) {
      out[task] = g / (1.0f + expf(-g)) * u;
    } else {
      constexpr float kSqrt2OverPi = 0.7978845608028654f;
      const float z = kSqrt2OverPi * (g + 0.044715f * g * g * g);
      out[task] = g / (1.0f + expf(-2.0f * z)) * u;
    }
  }
};

template <typename T>
__global__ void __launch_bounds__(kThreads) glu_kernel(KernelArgs a) {
  allow_dependents();
  extern __shared__ __align__(16) uint8_t smem[];
  const GluParams p = a.params<GluParams>();
  const int64_t units = p.dim / T::kUnitElems;
  const GluEpi epi{a.p<const uint8_t>(0), a.p<const uint8_t>(1), units * T::kUnitBytes,
                   a.p<float>(4), p.act};
  const int warp = threadIdx.x >> 5, lane = threadIdx.x & 31;
  uint8_t* slots = warp_ring<T>(smem, p.dim, warp);
  const int vec = copy_width(
      reinterpret_cast<uintptr_t>(epi.wg) | reinterpret_cast<uintptr_t>(epi.wu), epi.row_bytes);
  run_tasks<T, kRows>(epi, p.ffn, units, slots, int64_t(blockIdx.x) * kWarps + warp,
                      int64_t(gridDim.x) * kWarps, vec, lane, [&] {
                        return load_acts<T>(smem, a.p<const float>(2), a.p<const float>(3), p.dim,
                                            true, (p.flags & kNormAddOne) != 0, p.eps,
                                            [] { grid_dependency_wait(); });
                      });
}

template <typename T>
Launch mv_launch(const KernelArgs& a) {
  const MvParams p = a.params<MvParams>();
  return stream_launch(reinterpret_cast<const void*>(&mv_kernel<T>), (int64_t(p.rows) + 1) / 2,
                       smem_bytes<T>(p.cols));
}
template <typename T>
Launch qkv_launch(const KernelArgs& a) {
  const QkvParams p = a.params<QkvParams>();
  const int64_t tasks = int64_t(p.heads + 2 * p.kv_heads) * (p.head_dim / 2);
  return stream_launch(reinterpret_cast<const void*>(&qkv_kernel<T>),
                       tasks * qkv_team_size<T>(p.dim), smem_bytes<T>(p.dim));
}
template <typename T>
Launch glu_launch(const KernelArgs& a) {
  const GluParams p = a.params<GluParams>();
  return stream_launch(reinterpret_cast<const void*>(&glu_kernel<T>), p.ffn, smem_bytes<T>(p.dim));
}

}  // namespace

void append_decode_kernels(std::vector<CudaKernelEntry>& t) {
  for_each_stream_type([&](auto tag) {
    using T = decltype(tag);
    static const std::string mv = std::string("mv.") + T::kName;
    static const std::string qkv = std::string("qkv.") + T::kName;
    static const std::string glu = std::string("glu.") + T::kName;
    t.push_back(
        {mv.c_str(), reinterpret_cast<const void*>(&mv_kernel<T>), &mv_launch<T>, nullptr, true});
    t.push_back({qkv.c_str(), reinterpret_cast<const void*>(&qkv_kernel<T>), &qkv_launch<T>,
                 nullptr, true});
    t.push_back({glu.c_str(), reinterpret_cast<const void*>(&glu_kernel<T>), &glu_launch<T>,
                 nullptr, true});
  });
}

}  // namespace stagefence::kernels::cuda
