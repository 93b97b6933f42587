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
#include "kernels/cuda/stream_types.cuh"

namespace stagefence::kernels::cuda::stream {

inline constexpr int kWarps = 8;  // per block
inline constexpr int kThreads = kWarps * 32;
inline constexpr int kStages = 3;
inline constexpr int kPieceTarget = 2048;  // bytes of a row per piece, about
inline constexpr int kSlotPad = 16;        // 2-byte-aligned word reads look 2 bytes past a unit

// The fewest units whose bytes are a multiple of 16 (a piece is a multiple of this).
template <typename T>
__host__ __device__ constexpr int unit_step() {
  int k = 1;
  while ((k * T::kUnitBytes) % 16 != 0) ++k;
  return k;
}
// Bytes of one slot: the largest piece plus padding, rounded to 16.
template <typename T>
__host__ __device__ constexpr int slot_bytes() {
  return ((kPieceTarget + unit_step<T>() * T::kUnitBytes + kSlotPad) + 15) / 16 * 16;
}

// How a row of `units` units is cut into pieces.
struct Pieces {
  int per_piece = 1;  // units of every piece but maybe the last
  int count = 1;      // pieces per row
};
template <typename T>
__host__ __device__ inline Pieces row_pieces(int64_t units) {
  const int64_t bytes = units * T::kUnitBytes;
  int64_t want = (bytes + kPieceTarget - 1) / kPieceTarget;
  if (want < 1) want = 1;
  const int64_t step = unit_step<T>();
  int64_t per = (units + want - 1) / want;
  per = (per + step - 1) / step * step;
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
// the block calls it. Returns the activations' view; ends with __syncthreads.
template <typename T>
__device__ Acts load_acts(uint8_t* smem, const float* __restrict__ x, const float* __restrict__ w,
                          int64_t cols, bool norm, bool add_one, float eps) {
  float* scratch = reinterpret_cast<float*>(smem);
  uint8_t* base = smem + 32 * 4;
  float inv = 1.0f;
  if (norm) {
    float ss = 0.0f;
    for (int64_t c = threadIdx.x; c < cols; c += blockDim.x) ss = fmaf(x[c], x[c], ss);
    ss = block_sum(ss, scratch);
    inv = 1.0f / sqrtf(ss / float(cols) + eps);
  }
  auto value = [&](int64_t c) {
    const float v = x[c];
    if (!norm) return v;
    return v * inv * (add_one ? 1.0f + w[c] : w[c]);
  };
  Acts a;
  if constexpr (T::kQuant) {
    int8_t* q = reinterpret_cast<int8_t*>(base);
    const int64_t groups = cols / 32;
    float* d = reinterpret_cast<float*>(base + (cols + 15) / 16 * 16);
    int* sum = reinterpret_cast<int*>(d + groups);
    const int lane = threadIdx.x & 31, warp = threadIdx.x >> 5, warps = blockDim.x >> 5;
    for (int64_t g = warp; g < groups; g += warps) {
      const float v = value(g * 32 + lane);
      // |v| as bits orders like |v| for finite values; NaN and inf sort above every finite one.
      const uint32_t amax_bits = __reduce_max_sync(kFullMask, __float_as_uint(fabsf(v)));
      const bool finite = amax_bits < 0x7f800000u;
      const float amax = __uint_as_float(amax_bits);
      const float qinv = finite ? (amax > 0.0f ? 127.0f / amax : 0.0f) : 0.0f;
      const int qv = finite ? __float2int_rn(v * qinv) : 0;
      q[g * 32 + lane] = int8_t(qv);
      const int s = __reduce_add_sync(kFullMask, qv);
      if (lane == 0) {
        d[g] = finite ? amax / 127.0f : sf_nan();
        sum[g] = s;
      }
    }
    a.q = q;
    a.d = d;
    a.sum = sum;
  } else {
    float* f = reinterpret_cast<float*>(base);
    for (int64_t c = threadIdx.x; c < cols; c += blockDim.x) f[c] = value(c);
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
