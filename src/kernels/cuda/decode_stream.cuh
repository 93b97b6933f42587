// The streaming engine of the decode kernels (mv, qkv, glu): a persistent grid whose every warp
// owns a list of tasks (one or two weight rows and an epilogue). A warp streams its rows through
// a ring of kStages shared-memory slots with cp.async, so several pieces of weight bytes are in
// flight per warp without holding registers, while the block's activations (normalised and, for
// block types, quantised to 8-bit blocks once per block) wait in shared memory.
//
// A row's sum is a fixed function of the row: its pieces depend only on the row length, lane l
// takes items l, l+32, ... of each piece, and the lanes are summed by one shuffle tree. Nothing
// depends on the grid, so results are deterministic and independent of the launch.
//
// Programmatic dependent launch: a kernel issues its first weight pieces before it calls
// cudaGridDependencySynchronize(), so under a programmatic edge its weight traffic overlaps the
// previous kernel's tail; every read of an activation or write of an output comes after it.
#pragma once
#include <cstdint>

#include "kernels/cuda/stream_types.cuh"

namespace stagefence::kernels::cuda::stream {

// One block of 16 warps per SM, four slots per warp (three pieces in flight while one is
// decoded): about 100 KB of weight bytes in flight per SM, which the H200's latency needs.
inline constexpr int kWarps = 16;  // per block
inline constexpr int kThreads = kWarps * 32;
inline constexpr int kStages = 4;
inline constexpr int kPieceTarget = 2560;  // bytes of a row per piece, at most (but one step)
inline constexpr int kSlotPad = 16;        // 2-byte-aligned word reads look 2 bytes past a unit

// The fewest units whose bytes are a multiple of 16 (a piece is a multiple of this).
template <typename T>
__host__ __device__ constexpr int unit_step() {
  int k = 1;
  while ((k * T::kUnitBytes) % 16 != 0) ++k;
  return k;
}
// Units of the largest piece: the most whole steps within kPieceTarget, at least one step.
template <typename T>
__host__ __device__ constexpr int piece_units() {
  const int step = unit_step<T>();
  const int steps = kPieceTarget / (step * T::kUnitBytes);
  return (steps > 0 ? steps : 1) * step;
}
// Bytes of one slot: the largest piece plus padding, rounded to 16.
template <typename T>
__host__ __device__ constexpr int slot_bytes() {
  return (piece_units<T>() * T::kUnitBytes + kSlotPad + 15) / 16 * 16;
}

// How a row of `units` units is cut into pieces.
struct Pieces {
  int per_piece = 1;  // units of every piece but maybe the last
  int count = 1;      // pieces per row
};
// As few pieces as the slot allows, of nearly equal size (whole steps but maybe the last).
template <typename T>
__host__ __device__ inline Pieces row_pieces(int64_t units) {
  const int64_t most = piece_units<T>();
  const int64_t want = (units + most - 1) / most;
  const int64_t step = unit_step<T>();
  int64_t per = (units + want - 1) / want;
  per = (per + step - 1) / step * step;
  if (per > most) per = most;
  if (per > units) per = units;
  if (per < 1) per = 1;
  Pieces p;
  p.per_piece = int(per);
  p.count = int((units + per - 1) / per);
  return p;
}

// ---- cp.async ----
__device__ __forceinline__ uint32_t smem_addr(const void* p) {
  return static_cast<uint32_t>(__cvta_generic_to_shared(p));
}
__device__ __forceinline__ void cp_async16(void* dst, const void* src) {
  asm volatile("cp.async.cg.shared.global [%0], [%1], 16;" ::"r"(smem_addr(dst)), "l"(src));
}
__device__ __forceinline__ void cp_async8(void* dst, const void* src) {
  asm volatile("cp.async.ca.shared.global [%0], [%1], 8;" ::"r"(smem_addr(dst)), "l"(src));
}
__device__ __forceinline__ void cp_async4(void* dst, const void* src) {
  asm volatile("cp.async.ca.shared.global [%0], [%1], 4;" ::"r"(smem_addr(dst)), "l"(src));
}
__device__ __forceinline__ void cp_async_commit() {
  asm volatile("cp.async.commit_group;");
}
template <int N>
__device__ __forceinline__ void cp_async_wait() {
  asm volatile("cp.async.wait_group %0;" ::"n"(N));
}

// Copies `bytes` (a multiple of vec) from global to shared with the warp; vec is the alignment
// of both addresses and the size (16, 8, 4, or 2 for a plain synchronous copy).
__device__ __forceinline__ void copy_piece(uint8_t* dst, const uint8_t* src, int bytes, int vec,
                                           int lane) {
  if (vec == 16) {
    for (int o = lane * 16; o < bytes; o += 32 * 16) cp_async16(dst + o, src + o);
  } else if (vec == 8) {
    for (int o = lane * 8; o < bytes; o += 32 * 8) cp_async8(dst + o, src + o);
  } else if (vec == 4) {
    for (int o = lane * 4; o < bytes; o += 32 * 4) cp_async4(dst + o, src + o);
  } else {
    for (int o = lane * 2; o < bytes; o += 32 * 2)
      *reinterpret_cast<uint16_t*>(dst + o) = __ldg(reinterpret_cast<const uint16_t*>(src + o));
  }
}

// The largest of 16, 8, 4, 2 dividing both the weight base addresses and the row byte length.
__device__ __forceinline__ int copy_width(uintptr_t bases, int64_t row_bytes) {
  const uint64_t m = uint64_t(bases) | uint64_t(row_bytes);
  if ((m & 15) == 0) return 16;
  if ((m & 7) == 0) return 8;
  if ((m & 3) == 0) return 4;
  return 2;
}

__device__ __forceinline__ void grid_dependency_wait() {
#if defined(__CUDA_ARCH__) && __CUDA_ARCH__ >= 900
  asm volatile("griddepcontrol.wait;" ::: "memory");
#endif
}
__device__ __forceinline__ void allow_dependents() {
#if defined(__CUDA_ARCH__) && __CUDA_ARCH__ >= 900
  asm volatile("griddepcontrol.launch_dependents;");
#endif
}

// ---- activations ----
// Shared-memory bytes of the activations of a block: f32 values, or 8-bit blocks with scales
// and sums; 32 bytes of reduction scratch in front.
template <typename T>
__host__ __device__ inline int64_t act_bytes(int64_t cols) {
  const int64_t scratch = 32 * 4;
  if constexpr (T::kQuant) {
    const int64_t groups = cols / 32;
    return scratch + (cols + 15) / 16 * 16 + groups * 8;
  } else {
    return scratch + cols * 4;
  }
}

// Fills the block's activations from x[cols] (normalised with w when `norm`): every thread of
// the block calls it. Loads are 16 bytes wide and issued kUnroll at a time, so a pass over x
// costs about one trip to L2. Returns the activations' view; ends with __syncthreads.
inline constexpr int kUnroll = 4;

__device__ __forceinline__ float4 ld4(const float* p) {
  return __ldg(reinterpret_cast<const float4*>(p));
}

template <typename T>
__device__ Acts load_acts(uint8_t* smem, const float* __restrict__ x, const float* __restrict__ w,
                          int64_t cols, bool norm, bool add_one, float eps) {
  float* scratch = reinterpret_cast<float*>(smem);
  uint8_t* base = smem + 32 * 4;
  const int tid = threadIdx.x, nthreads = blockDim.x;
  const bool vec = ((reinterpret_cast<uintptr_t>(x) | reinterpret_cast<uintptr_t>(w)) & 15) == 0;
  const int64_t quads = cols / 4;  // cols is a multiple of 4 (8 for 16-bit types, 32 for blocks)
  float inv = 1.0f;
  if (norm) {
    float ss = 0.0f;
    if (vec) {
      for (int64_t q0 = tid; q0 < quads; q0 += int64_t(kUnroll) * nthreads) {
        float4 v[kUnroll];
#pragma unroll
        for (int u = 0; u < kUnroll; ++u) {
          const int64_t q = q0 + int64_t(u) * nthreads;
          v[u] = q < quads ? ld4(x + 4 * q) : make_float4(0, 0, 0, 0);
        }
#pragma unroll
        for (int u = 0; u < kUnroll; ++u) {
          ss = fmaf(v[u].x, v[u].x, ss);
          ss = fmaf(v[u].y, v[u].y, ss);
          ss = fmaf(v[u].z, v[u].z, ss);
          ss = fmaf(v[u].w, v[u].w, ss);
        }
      }
    } else {
      for (int64_t c = tid; c < cols; c += nthreads) ss = fmaf(x[c], x[c], ss);
    }
    ss = block_sum(ss, scratch);
    inv = 1.0f / sqrtf(ss / float(cols) + eps);
  }
  // The normalised value of element c from its raw value.
  auto scaled = [&](float v, float wc) { return norm ? v * inv * (add_one ? 1.0f + wc : wc) : v; };
  auto quad = [&](int64_t q, float4& v) {
    if (vec) {
      v = ld4(x + 4 * q);
      if (norm) {
        const float4 wv = ld4(w + 4 * q);
        v = make_float4(scaled(v.x, wv.x), scaled(v.y, wv.y), scaled(v.z, wv.z), scaled(v.w, wv.w));
      }
    } else {
      const int64_t c = 4 * q;
      v = make_float4(scaled(x[c], norm ? w[c] : 0.f), scaled(x[c + 1], norm ? w[c + 1] : 0.f),
                      scaled(x[c + 2], norm ? w[c + 2] : 0.f),
                      scaled(x[c + 3], norm ? w[c + 3] : 0.f));
    }
  };
  Acts a;
  if constexpr (T::kQuant) {
    // A warp covers 4 groups of 32 per pass: lane l holds elements 4l..4l+3 of its 128, so
    // group l / 8 is reduced over 8 lanes (shuffles 1, 2, 4 stay inside it).
    int8_t* q = reinterpret_cast<int8_t*>(base);
    const int64_t groups = cols / 32;
    float* d = reinterpret_cast<float*>(base + (cols + 15) / 16 * 16);
    int* sum = reinterpret_cast<int*>(d + groups);
    const int lane = tid & 31, warp = tid >> 5, warps = nthreads >> 5;
    const int64_t passes = (groups + 3) / 4;
    for (int64_t p0 = warp; p0 < passes; p0 += int64_t(kUnroll) * warps) {
      float4 v[kUnroll];
#pragma unroll
      for (int u = 0; u < kUnroll; ++u) {
        const int64_t g = (p0 + int64_t(u) * warps) * 4 + lane / 8;
        if (g < groups)
          quad(g * 8 + lane % 8, v[u]);
        else
          v[u] = make_float4(0, 0, 0, 0);
      }
#pragma unroll
      for (int u = 0; u < kUnroll; ++u) {
        const int64_t g = (p0 + int64_t(u) * warps) * 4 + lane / 8;
        // |v| as bits orders like |v|; NaN and inf sort above every finite value.
        uint32_t bits = max(max(__float_as_uint(fabsf(v[u].x)), __float_as_uint(fabsf(v[u].y))),
                            max(__float_as_uint(fabsf(v[u].z)), __float_as_uint(fabsf(v[u].w))));
#pragma unroll
        for (int o = 1; o < 8; o <<= 1) bits = max(bits, __shfl_xor_sync(kFullMask, bits, o));
        const bool finite = bits < 0x7f800000u;
        const float amax = __uint_as_float(bits);
        const float qinv = finite && amax > 0.0f ? 127.0f / amax : 0.0f;
        const int q0 = finite ? __float2int_rn(v[u].x * qinv) : 0;
        const int q1 = finite ? __float2int_rn(v[u].y * qinv) : 0;
        const int q2 = finite ? __float2int_rn(v[u].z * qinv) : 0;
        const int q3 = finite ? __float2int_rn(v[u].w * qinv) : 0;
        int s = q0 + q1 + q2 + q3;
#pragma unroll
        for (int o = 1; o < 8; o <<= 1) s += __shfl_xor_sync(kFullMask, s, o);
        if (g < groups) {
          const uint32_t packed = (uint32_t(q0) & 0xffu) | ((uint32_t(q1) & 0xffu) << 8) |
                                  ((uint32_t(q2) & 0xffu) << 16) | (uint32_t(q3) << 24);
          *reinterpret_cast<uint32_t*>(q + g * 32 + (lane % 8) * 4) = packed;
          if (lane % 8 == 0) {
            d[g] = finite ? amax / 127.0f : sf_nan();
            sum[g] = s;
          }
        }
      }
    }
    a.q = q;
    a.d = d;
    a.sum = sum;
  } else {
    float* f = reinterpret_cast<float*>(base);
    for (int64_t q0 = tid; q0 < quads; q0 += int64_t(kUnroll) * nthreads) {
      float4 v[kUnroll];
#pragma unroll
      for (int u = 0; u < kUnroll; ++u) {
        const int64_t q = q0 + int64_t(u) * nthreads;
        if (q < quads) quad(q, v[u]);
      }
#pragma unroll
      for (int u = 0; u < kUnroll; ++u) {
        const int64_t q = q0 + int64_t(u) * nthreads;
        if (q < quads) *reinterpret_cast<float4*>(f + 4 * q) = v[u];
      }
    }
    a.f = f;
  }
  __syncthreads();
  return a;
}

// ---- the task loop ----
// A task covers kRows rows; epi.row(task, r) is row r's first byte in global memory, and
// epi.finish(task, sums, lane) consumes the rows' dot products (every lane gets the sums).
// `slots` is this warp's kStages * slot_bytes<T>() bytes of shared memory. After the first
// pieces are in flight, `prepare()` (called by every thread of the block: it may synchronise the
// block) waits for the previous kernel and returns the activations.
template <typename T, int kRows, typename Epi, typename Prepare>
__device__ void run_tasks(const Epi& epi, int64_t tasks, int64_t units, uint8_t* slots,
                          int64_t first_task, int64_t task_stride, int vec, int lane,
                          Prepare&& prepare) {
  constexpr int kSlot = slot_bytes<T>();
  const Pieces pc = row_pieces<T>(units);
  const int per_task = kRows * pc.count;
  const int64_t mine = first_task < tasks ? (tasks - 1 - first_task) / task_stride + 1 : 0;
  const int64_t total = mine * per_task;

  auto issue = [&](int64_t i) {
    const int64_t k = i / per_task;
    const int rem = int(i - k * per_task);
    const int r = rem / pc.count, p = rem % pc.count;
    const int64_t first = int64_t(p) * pc.per_piece;
    const int64_t n = units - first < pc.per_piece ? units - first : pc.per_piece;
    const uint8_t* src = epi.row(first_task + k * task_stride, r) + first * T::kUnitBytes;
    copy_piece(slots + (i % kStages) * kSlot, src, int(n * T::kUnitBytes), vec, lane);
  };
#pragma unroll
  for (int s = 0; s < kStages - 1; ++s) {
    if (s < total) issue(s);
    cp_async_commit();
  }
  const Acts acts = prepare();
  float acc[kRows];
#pragma unroll
  for (int r = 0; r < kRows; ++r) acc[r] = 0.0f;
  for (int64_t i = 0; i < total; ++i) {
    cp_async_wait<kStages - 2>();
    __syncwarp();  // piece i landed for every lane; piece i-1's slot is no longer read
    if (i + kStages - 1 < total) issue(i + kStages - 1);
    cp_async_commit();
    const int64_t k = i / per_task;
    const int rem = int(i - k * per_task);
    const int r = rem / pc.count, p = rem % pc.count;
    const int64_t first = int64_t(p) * pc.per_piece;
    const int64_t n = units - first < pc.per_piece ? units - first : pc.per_piece;
    const uint8_t* slot = slots + (i % kStages) * kSlot;
    const int items = int(n) * T::kItems;
    float part = 0.0f;
    for (int it = lane; it < items; it += 32) {
      const int u = it / T::kItems, j = it % T::kItems;
      part += T::term(slot + u * T::kUnitBytes, j, acts, (first + u) * T::kItems + j);
    }
#pragma unroll
    for (int rr = 0; rr < kRows; ++rr)
      if (rr == r) acc[rr] += part;
    if (p == pc.count - 1 && r == kRows - 1) {
      float sums[kRows];
#pragma unroll
      for (int rr = 0; rr < kRows; ++rr) {
        sums[rr] = warp_sum(acc[rr]);
        acc[rr] = 0.0f;
      }
      epi.finish(first_task + k * task_stride, sums, lane);
    }
  }
  cp_async_wait<0>();
}

}  // namespace stagefence::kernels::cuda::stream
