// The streaming engine of the decode kernels (mv, qkv, glu): a persistent grid whose every warp
// owns a list of tasks (two weight rows and an epilogue). A warp streams its rows side by side
// through a ring of shared-memory slots with cp.async, so several pieces of weight bytes are in
// flight per warp without holding registers, while the block's activations (normalised and, for
// block types, quantised to 8-bit blocks once per block) wait in shared memory and each is read
// once for both rows.
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

// One block of 16 warps per SM. A warp's ring of slots takes at most kWarpRingBytes of shared
// memory, so a block fits beside the largest activations (64 KB); a slot holds one piece of each
// row of a task (about kSlotTarget bytes), and all but one slot are in flight while one is
// decoded: about 100 KB of weight bytes in flight per SM, which the H200's latency needs.
inline constexpr int kWarps = 16;  // per block
inline constexpr int kThreads = kWarps * 32;
inline constexpr int kWarpRingBytes = 10368;
inline constexpr int kSlotTarget = 2560;  // weight bytes of a slot, at most (but one step a row)
inline constexpr int kMaxStages = 6;
inline constexpr int kSlotPad = 16;  // word reads of a 2-byte-aligned unit look past its end

// The fewest units whose bytes are a multiple of 16 (a piece is a multiple of this).
template <typename T>
__host__ __device__ constexpr int unit_step() {
  int k = 1;
  while ((k * T::kUnitBytes) % 16 != 0) ++k;
  return k;
}
// The fewest whole steps that hold a multiple of 32 items, so every lane gets as many.
template <typename T>
__host__ __device__ constexpr int item_align() {
  const int per32 = (32 + T::kItems - 1) / T::kItems;
  int a = unit_step<T>();
  while (a % per32 != 0) a += unit_step<T>();
  return a;
}
// Units of a row's largest piece: the most whole alignments within the slot's share of a row,
// else the most whole steps, at least one step.
template <typename T, int kRows>
__host__ __device__ constexpr int piece_units() {
  const int target = kSlotTarget / kRows;
  const int aligned = target / (item_align<T>() * T::kUnitBytes) * item_align<T>();
  if (aligned > 0) return aligned;
  const int steps = target / (unit_step<T>() * T::kUnitBytes);
  return (steps > 0 ? steps : 1) * unit_step<T>();
}
// Bytes of one row's share of a slot: its largest piece plus padding, rounded to 16.
template <typename T, int kRows>
__host__ __device__ constexpr int row_slot_bytes() {
  return (piece_units<T, kRows>() * T::kUnitBytes + kSlotPad + 15) / 16 * 16;
}
// Slots of a warp's ring, and its bytes.
template <typename T, int kRows>
__host__ __device__ constexpr int ring_stages() {
  const int n = kWarpRingBytes / (kRows * row_slot_bytes<T, kRows>());
  return n < kMaxStages ? n : kMaxStages;
}
template <typename T, int kRows>
__host__ __device__ constexpr int ring_bytes() {
  return ring_stages<T, kRows>() * kRows * row_slot_bytes<T, kRows>();
}

// How a row of `units` units is cut into pieces.
struct Pieces {
  int per_piece = 1;  // units of every piece but maybe the last
  int count = 1;      // pieces per row
};
// As few pieces as the slot allows, of nearly equal size (whole alignments, or whole steps,
// but maybe the last). Depends only on the row length.
template <typename T, int kRows>
__host__ __device__ inline Pieces row_pieces(int64_t units) {
  const int64_t most = piece_units<T, kRows>();
  const int64_t want = (units + most - 1) / most;
  const int64_t step = item_align<T>() <= most ? item_align<T>() : unit_step<T>();
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

// ---- activations ----
// Shared-memory bytes of the activations of a block: f32 values, or 8-bit blocks with scales
// and sums; kScratchBytes in front (the norm's reduction, then the teams' exchange).
inline constexpr int kScratchBytes = 256;
template <typename T>
__host__ __device__ inline int64_t act_bytes(int64_t cols) {
  const int64_t scratch = kScratchBytes;
  if constexpr (T::kQuant) {
    const int64_t groups = cols / 32;
    return scratch + (cols + 15) / 16 * 16 + groups * 8;
  } else {
    return scratch + cols * 4;
  }
}

// Fills the block's activations from x[cols] (normalised with w when `norm`): every thread of
// the block calls it, and it calls wait() (the wait for the previous kernel) before it reads x.
// Loads are 16 bytes wide and issued kUnroll at a time, so a pass over x costs about one trip to
// L2. When x fits the block's registers at once (cols <= 16·kThreads), x is read once and the
// norm's weights before wait(); otherwise the norm reads x twice. Returns the activations' view;
// ends with __syncthreads.
inline constexpr int kUnroll = 4;

__device__ __forceinline__ float4 ld4(const float* p) {
  return __ldg(reinterpret_cast<const float4*>(p));
}

// ss plus the squares of v, in quad and element order.
__device__ __forceinline__ float add_squares(const float4 (&v)[kUnroll], float ss) {
#pragma unroll
  for (int u = 0; u < kUnroll; ++u) {
    ss = fmaf(v[u].x, v[u].x, ss);
    ss = fmaf(v[u].y, v[u].y, ss);
    ss = fmaf(v[u].z, v[u].z, ss);
    ss = fmaf(v[u].w, v[u].w, ss);
  }
  return ss;
}

template <typename T, typename Wait>
__device__ Acts load_acts(uint8_t* smem, const float* __restrict__ x, const float* __restrict__ w,
                          int64_t cols, bool norm, bool add_one, float eps, Wait&& wait) {
  float* scratch = reinterpret_cast<float*>(smem);
  uint8_t* base = smem + kScratchBytes;
  const int tid = threadIdx.x, nthreads = blockDim.x;
  const int lane = tid & 31, warp = tid >> 5, warps = nthreads >> 5;
  const bool vec = ((reinterpret_cast<uintptr_t>(x) | reinterpret_cast<uintptr_t>(w)) & 15) == 0;
  const int64_t quads = cols / 4;  // cols is a multiple of 4 (8 for 16-bit types, 32 for blocks)
  // Held: one pass, thread t holds quads t + u·nthreads (the same quads both outputs below use).
  const bool held = vec && quads <= int64_t(kUnroll) * nthreads;
  float4 wv[kUnroll], hv[kUnroll];
  if (held && norm) {
#pragma unroll
    for (int u = 0; u < kUnroll; ++u) {
      const int64_t q = tid + int64_t(u) * nthreads;
      wv[u] = q < quads ? ld4(w + 4 * q) : make_float4(0, 0, 0, 0);
    }
  }
  wait();
  float inv = 1.0f;
  if (held) {
#pragma unroll
    for (int u = 0; u < kUnroll; ++u) {
      const int64_t q = tid + int64_t(u) * nthreads;
      hv[u] = q < quads ? ld4(x + 4 * q) : make_float4(0, 0, 0, 0);
    }
    if (norm) {
      const float ss = block_sum(add_squares(hv, 0.0f), scratch);
      inv = 1.0f / sqrtf(ss / float(cols) + eps);
    }
  } else if (norm) {
    float ss = 0.0f;
    if (vec) {
      for (int64_t q0 = tid; q0 < quads; q0 += int64_t(kUnroll) * nthreads) {
        float4 v[kUnroll];
#pragma unroll
        for (int u = 0; u < kUnroll; ++u) {
          const int64_t q = q0 + int64_t(u) * nthreads;
          v[u] = q < quads ? ld4(x + 4 * q) : make_float4(0, 0, 0, 0);
        }
        ss = add_squares(v, ss);
      }
    } else {
      for (int64_t c = tid; c < cols; c += nthreads) ss = fmaf(x[c], x[c], ss);
    }
    ss = block_sum(ss, scratch);
    inv = 1.0f / sqrtf(ss / float(cols) + eps);
  }
  // The normalised value of element c from its raw value.
  auto scaled = [&](float v, float wc) { return norm ? v * inv * (add_one ? 1.0f + wc : wc) : v; };
  auto scale4 = [&](float4 v, float4 wc) {
    return make_float4(scaled(v.x, wc.x), scaled(v.y, wc.y), scaled(v.z, wc.z), scaled(v.w, wc.w));
  };
  // Quad q's normalised values: from the registers when held (u is its slot there).
  auto quad = [&](int64_t q, int u, float4& v) {
    if (held) {
      v = norm ? scale4(hv[u], wv[u]) : hv[u];
    } else if (vec) {
      v = ld4(x + 4 * q);
      if (norm) v = scale4(v, ld4(w + 4 * q));
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
    // group l / 8 is reduced over 8 lanes (shuffles 1, 2, 4 stay inside it). Pass p0 + u·warps
    // of warp `warp` is quad tid + u·nthreads when p0 = warp: the held quads.
    int8_t* q = reinterpret_cast<int8_t*>(base);
    const int64_t groups = cols / 32;
    float* d = reinterpret_cast<float*>(base + (cols + 15) / 16 * 16);
    int* sum = reinterpret_cast<int*>(d + groups);
    const int64_t passes = (groups + 3) / 4;
    for (int64_t p0 = warp; p0 < passes; p0 += int64_t(kUnroll) * warps) {
      float4 v[kUnroll];
#pragma unroll
      for (int u = 0; u < kUnroll; ++u) {
        const int64_t g = (p0 + int64_t(u) * warps) * 4 + lane / 8;
        if (g < groups)
          quad(g * 8 + lane % 8, u, v[u]);
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
        if (q < quads) quad(q, u, v[u]);
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

// ---- the launch ----
// A persistent grid of kThreads-thread blocks: as many as fit on the device at once for
// `kernel` with `smem` bytes of shared memory (asked once per pair), never more than `tasks`
// need at kWarps tasks per block.
Launch stream_launch(const void* kernel, int64_t tasks, int64_t smem);

// ---- the task loop ----
// A team of warps shares each of its tasks: warp `index` of a team of `size` (1 or 2) streams
// part `index` of every row (two parts split at a whole alignment), and the second warp's sums
// reach the first through `exchange` (8 floats of shared memory per team) at named
// barrier `barrier` (1 to 15), where they are added in team order before the epilogue. Teams
// of two cut the longest warp's bytes by a quarter when tasks outnumber warps by 1.45x (qkv).
struct Team {
  int size = 1, index = 0, barrier = 0;
  float* exchange = nullptr;
};
// Where part `index` of a row of `units` units begins (size 2: a whole alignment near the middle).
template <typename T>
__host__ __device__ inline int64_t team_split(int64_t units) {
  const int64_t a = item_align<T>();
  const int64_t mid = (units / 2 + a - 1) / a * a;
  return mid < units ? mid : units;
}
// Whether tasks go to teams of two: float rows long enough for two parts of an alignment each.
// Block types keep single warps: at 4096 columns half a row is one piece, and the per-task
// barrier and epilogue then cost more than the tail saves (qkv.q4_0 11.4 -> 14.1 us on the
// H200; qkv.bf16 23.9 -> 22.6 us).
template <typename T>
__host__ __device__ inline bool team_fits(int64_t units) {
  return !T::kQuant && units >= 2 * int64_t(item_align<T>());
}

__device__ __forceinline__ void team_barrier(int id) {
  asm volatile("bar.sync %0, 64;" ::"r"(id) : "memory");
}

// A task covers kRows rows, streamed side by side: a slot holds one piece of each, and each
// activation item is read once for all of them. epi.row(task, r) is row r's first byte in global
// memory, and epi.finish(task, sums, lane) consumes the rows' dot products (every lane of the
// team's first warp gets the sums). `slots` is this warp's ring_bytes<T, kRows>() bytes of shared
// memory. After the first pieces are in flight, `prepare()` (called by every thread of the block:
// it may synchronise the block) waits for the previous kernel and returns the activations.
template <typename T, int kRows, typename Epi, typename Prepare>
__device__ void run_tasks(const Epi& epi, int64_t tasks, int64_t units, uint8_t* slots,
                          int64_t first_task, int64_t task_stride, int vec, int lane,
                          Prepare&& prepare, Team team = {}) {
  constexpr int kRowSlot = row_slot_bytes<T, kRows>();
  constexpr int kSlot = kRows * kRowSlot;
  constexpr int kStages = ring_stages<T, kRows>();
  static_assert(kStages >= 2, "a ring needs a slot in flight and one decoded");
  static_assert(kRows <= 4, "the team exchange holds 4 sums per task parity");
  const int64_t split = team.size == 2 ? team_split<T>(units) : units;
  const int64_t begin = team.index == 0 ? 0 : split;  // this warp's part of every row
  const int64_t part = team.index == 0 ? split : units - split;
  const Pieces pc = row_pieces<T, kRows>(part);
  const int64_t mine = first_task < tasks ? (tasks - 1 - first_task) / task_stride + 1 : 0;
  const int64_t total = mine * pc.count;

  auto issue = [&](int64_t i) {
    const int64_t k = i / pc.count;
    const int p = int(i - k * pc.count);
    const int64_t first = begin + int64_t(p) * pc.per_piece;
    const int64_t n = begin + part - first < pc.per_piece ? begin + part - first : pc.per_piece;
    const int64_t task = first_task + k * task_stride;
    uint8_t* slot = slots + (i % kStages) * kSlot;
#pragma unroll
    for (int r = 0; r < kRows; ++r)
      copy_piece(slot + r * kRowSlot, epi.row(task, r) + first * T::kUnitBytes,
                 int(n * T::kUnitBytes), vec, lane);
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
    const int64_t k = i / pc.count;
    const int p = int(i - k * pc.count);
    const int64_t first = begin + int64_t(p) * pc.per_piece;
    const int64_t n = begin + part - first < pc.per_piece ? begin + part - first : pc.per_piece;
    const uint8_t* slot = slots + (i % kStages) * kSlot;
    const int items = int(n) * T::kItems;
    float sum[kRows];
#pragma unroll
    for (int r = 0; r < kRows; ++r) sum[r] = 0.0f;
    for (int it = lane; it < items; it += 32) {
      const int u = it / T::kItems, j = it % T::kItems;
      const typename T::Act x = T::act(acts, (first + u) * T::kItems + j);
#pragma unroll
      for (int r = 0; r < kRows; ++r)
        sum[r] += T::dot(slot + r * kRowSlot + u * T::kUnitBytes, j, x);
    }
#pragma unroll
    for (int r = 0; r < kRows; ++r) acc[r] += sum[r];
    if (p == pc.count - 1) {
      float sums[kRows];
#pragma unroll
      for (int r = 0; r < kRows; ++r) {
        sums[r] = warp_sum(acc[r]);
        acc[r] = 0.0f;
      }
      if (team.size == 2) {
        // Two exchange slots by task parity: a slot is rewritten only after the next barrier,
        // which the first warp reaches after reading it.
        float* ex = team.exchange + (k & 1) * 4;
        if (team.index == 1 && lane == 0) {
#pragma unroll
          for (int r = 0; r < kRows; ++r) ex[r] = sums[r];
        }
        team_barrier(team.barrier);
        if (team.index == 1) continue;
#pragma unroll
        for (int r = 0; r < kRows; ++r) sums[r] += ex[r];
      }
      epi.finish(first_task + k * task_stride, sums, lane);
    }
  }
  cp_async_wait<0>();
}

}  // namespace stagefence::kernels::cuda::stream
