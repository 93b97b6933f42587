// "matvec.<wt>": y[r] = sum_c W[r,c]·x[c] (+ bias) (+ y_old), the decode-time projection.
// Memory-bound: the weights are read once, so every weight byte arrives through 16-byte loads
// issued together before first use. A warp computes kRowsPerWarp rows at once so each x load
// (from L1: x is shared by all rows) feeds several rows. A row is split over `warps_per_row`
// warps of a block, chosen from the row length only, and their sums are combined in shared
// memory in a fixed order: deterministic, no atomics, a row's sum independent of the launch.
//   Plain types (f32/f16/bf16): each lane loads kPlainUnroll 16-byte units per row per step.
//   Block types: the grid is one resident wave and each block walks row groups. The warp copies
//   a chunk (whole blocks, a multiple of 16 bytes) of each of its rows into its shared-memory
//   slice with coalesced 16-byte loads, prefetches its next chunk (of these rows or of the next
//   row group) into registers, and decodes the staged blocks with kLanesPerBlock lanes per
//   block (weight_types.cuh).
// Rows whose byte length or base is not 16-byte aligned take an element-by-element fallback.
#include <cstdint>

#include "kernels/cuda/weight_types.cuh"
#include "kernels/params/matrix.hpp"

namespace stagefence::kernels::cuda {
namespace {

constexpr int kWarpsPerBlock = 8;
constexpr int kRowsPerWarp = 2;
constexpr int kPlainUnroll = 4;    // 16-byte units per row per lane per step (plain types)
constexpr int kChunkElems = 2048;  // staged elements per row per chunk (block types)
constexpr int kStagePad = 16;      // slack after a staged row (2-byte-aligned reads overrun)

template <typename W>
constexpr bool kIsPlain = W::kBlockElems == 1;

// Plain types seen as 16-byte units of kUnitElems elements.
template <typename W>
struct Plain {
  static constexpr int kUnitElems = 16 / W::kBlockBytes;
  // sum over the unit of w[e]·x[e], x the unit's first input element.
  __device__ static float dot(const uint4& w, const float* x) {
    if constexpr (kUnitElems == 4) {
      const float4 xv = load_f4(x);
      return __uint_as_float(w.x) * xv.x + __uint_as_float(w.y) * xv.y +
             __uint_as_float(w.z) * xv.z + __uint_as_float(w.w) * xv.w;
    } else {
      const float4 x0 = load_f4(x), x1 = load_f4(x + 4);
      if constexpr (W::kName[1] == 'f') {  // "bf16"
        return lo_bf16_f(w.x) * x0.x + hi_bf16_f(w.x) * x0.y + lo_bf16_f(w.y) * x0.z +
               hi_bf16_f(w.y) * x0.w + lo_bf16_f(w.z) * x1.x + hi_bf16_f(w.z) * x1.y +
               lo_bf16_f(w.w) * x1.z + hi_bf16_f(w.w) * x1.w;
      } else {
        return lo_half_f(w.x) * x0.x + hi_half_f(w.x) * x0.y + lo_half_f(w.y) * x0.z +
               hi_half_f(w.y) * x0.w + lo_half_f(w.z) * x1.x + hi_half_f(w.z) * x1.y +
               lo_half_f(w.w) * x1.z + hi_half_f(w.w) * x1.w;
      }
    }
  }
};

// Staging geometry of a block type: a chunk is kBlocks whole blocks of one row.
template <typename W>
struct Staging {
  // q8_0: 56 blocks (119 vectors, 4 per lane) instead of 64 (136, 5 per lane) so the prefetch
  // buffer of two rows fits the register budget of two blocks per SM.
  static constexpr int kBlocks = W::kBlockBytes == 34 ? 56 : kChunkElems / W::kBlockElems;
  static constexpr int kBytes = kBlocks * W::kBlockBytes;
  static constexpr int kVecs = kBytes / 16;
  static constexpr int kVecsPerLane = (kVecs + 31) / 32;
  static constexpr int kRowStride = kBytes + kStagePad;  // bytes per staged row
  static_assert(kBytes % 16 == 0, "a chunk must be whole 16-byte vectors");
};

// Work items along a row: 16-byte units per step of a warp (plain) or chunks (block types).
template <typename W>
SF_HD int64_t row_items(int64_t cols) {
  if constexpr (kIsPlain<W>) {
    const int64_t units = cols / Plain<W>::kUnitElems;
    return (units + 32 * kPlainUnroll - 1) / (32 * kPlainUnroll);
  } else {
    constexpr int64_t chunk = int64_t(Staging<W>::kBlocks) * W::kBlockElems;
    return (cols + chunk - 1) / chunk;
  }
}

// Warps sharing one row: the largest power of two <= kWarpsPerBlock with at least one item each.
// Depends only on the row length, so a row's sum does not depend on the matrix height.
SF_HD int warps_per_row(int64_t items) {
  int w = 1;
  while (w < kWarpsPerBlock && items >= int64_t(2) * w) w *= 2;
  return w;
}

template <typename W>
__device__ __forceinline__ void plain_rows(const uint8_t* const (&rowp)[kRowsPerWarp],
                                           const float* __restrict__ x, int64_t cols, int part,
                                           int wpr, int lane, float (&acc)[kRowsPerWarp]) {
  using P = Plain<W>;
  const int64_t units = cols / P::kUnitElems;
  const int64_t step = int64_t(32) * kPlainUnroll;
  for (int64_t u0 = int64_t(part) * step + lane; u0 < units; u0 += int64_t(wpr) * step) {
    uint4 wv[kRowsPerWarp][kPlainUnroll];
#pragma unroll
    for (int k = 0; k < kPlainUnroll; ++k) {
      const int64_t u = u0 + 32 * k;
#pragma unroll
      for (int r = 0; r < kRowsPerWarp; ++r) {
        wv[r][k] = u < units ? load_stream_u4(rowp[r] + u * 16) : make_uint4(0, 0, 0, 0);
      }
    }
#pragma unroll
    for (int k = 0; k < kPlainUnroll; ++k) {
      const int64_t u = u0 + 32 * k;
      if (u < units) {
#pragma unroll
        for (int r = 0; r < kRowsPerWarp; ++r) acc[r] += P::dot(wv[r][k], x + u * P::kUnitElems);
      }
    }
  }
}

// Row pointers of row group `group` for the warp-group `wg` of a block (rows past the end are
// clamped to the last row and never written).
template <typename W>
__device__ __forceinline__ void group_rows(const uint8_t* w, int64_t rows, int64_t row_bytes,
                                           int64_t group, int wg, int rows_per_block,
                                           const uint8_t* (&rowp)[kRowsPerWarp], int64_t* row0) {
  *row0 = group * rows_per_block + int64_t(wg) * kRowsPerWarp;
#pragma unroll
  for (int r = 0; r < kRowsPerWarp; ++r) {
    const int64_t row = *row0 + r < rows ? *row0 + r : rows - 1;
    rowp[r] = w + row * row_bytes;
  }
}

// Sums of the warp's rows, combined over the wpr warps of each row in a fixed order and written
// by the row's first warp. Contains __syncthreads: call from all threads of the block.
__device__ __forceinline__ void finish_rows(float (&acc)[kRowsPerWarp], int64_t row0, int64_t rows,
                                            int warp, int part, int wpr, int lane,
                                            float (&partial)[kWarpsPerBlock][kRowsPerWarp],
                                            const float* bias, float* y, uint32_t flags) {
#pragma unroll
  for (int r = 0; r < kRowsPerWarp; ++r) {
    const float s = warp_sum(acc[r]);
    if (lane == 0) partial[warp][r] = s;
  }
  __syncthreads();
  if (part == 0 && lane < kRowsPerWarp && row0 + lane < rows) {
    float s = 0.0f;
    for (int i = 0; i < wpr; ++i) s += partial[warp + i][lane];
    const int64_t row = row0 + lane;
    if (flags & kMatFlagBias) s += bias[row];
    if (flags & kMatFlagAccumulate) s += y[row];
    y[row] = s;
  }
  __syncthreads();  // partial is rewritten by the next row group
}

// Block types: the block walks row groups blockIdx.x, +gridDim.x, ...; each warp handles the
// chunks part, part + wpr, ... of its kRowsPerWarp rows. The load of the warp's next chunk (of
// this row group or of the next) is in flight while the current one is decoded, so the memory
// system stays busy across row groups instead of idling while a whole SM decodes.
template <typename W>
__device__ __forceinline__ void block_type_rows(const uint8_t* w, const float* __restrict__ x,
                                                int64_t rows, int64_t cols, int warp, int part,
                                                int wpr, int lane, uint8_t* stage,
                                                float (&partial)[kWarpsPerBlock][kRowsPerWarp],
                                                const float* bias, float* y, uint32_t flags) {
  using S = Staging<W>;
  constexpr int kLpb = W::kLanesPerBlock, kBlocksPerPass = 32 / kLpb;
  const int64_t nblocks = cols / W::kBlockElems;
  const int64_t row_bytes = nblocks * W::kBlockBytes;
  const int64_t nchunks = (nblocks + S::kBlocks - 1) / S::kBlocks;
  const int sub = lane % kLpb, lane_block = lane / kLpb;
  const int wg = warp / wpr, rows_per_block = (kWarpsPerBlock / wpr) * kRowsPerWarp;
  const int64_t groups = (rows + rows_per_block - 1) / rows_per_block;

  uint4 buf[kRowsPerWarp][S::kVecsPerLane];
  auto fetch = [&](const uint8_t* const(&rp)[kRowsPerWarp], int64_t chunk) {
    const int64_t byte0 = chunk * S::kBytes;
#pragma unroll
    for (int j = 0; j < S::kVecsPerLane; ++j) {
      const int64_t off = byte0 + int64_t(lane + 32 * j) * 16;
      const bool ok = (lane + 32 * j < S::kVecs) && off < row_bytes;
#pragma unroll
      for (int r = 0; r < kRowsPerWarp; ++r) {
        buf[r][j] = ok ? load_stream_u4(rp[r] + off) : make_uint4(0, 0, 0, 0);
      }
    }
  };

  const uint8_t* rowp[kRowsPerWarp];
  int64_t row0;
  int64_t group = blockIdx.x;
  if (group < groups) {
    group_rows<W>(w, rows, row_bytes, group, wg, rows_per_block, rowp, &row0);
    fetch(rowp, part);  // part < nchunks: wpr never exceeds the chunk count
  }
  for (; group < groups; group += gridDim.x) {
    float acc[kRowsPerWarp];
#pragma unroll
    for (int r = 0; r < kRowsPerWarp; ++r) acc[r] = 0.0f;
    const int64_t cur_row0 = row0;
    for (int64_t chunk = part; chunk < nchunks; chunk += wpr) {
      __syncwarp();  // the previous chunk's blocks have been decoded
#pragma unroll
      for (int j = 0; j < S::kVecsPerLane; ++j) {
        if (lane + 32 * j < S::kVecs) {
#pragma unroll
          for (int r = 0; r < kRowsPerWarp; ++r) {
            *reinterpret_cast<uint4*>(stage + r * S::kRowStride + (lane + 32 * j) * 16) = buf[r][j];
          }
        }
      }
      __syncwarp();
      // Next load in flight while this chunk is decoded: same rows, else the next row group.
      if (chunk + wpr < nchunks) {
        fetch(rowp, chunk + wpr);
      } else if (group + gridDim.x < groups) {
        group_rows<W>(w, rows, row_bytes, group + gridDim.x, wg, rows_per_block, rowp, &row0);
        fetch(rowp, part);
      }

      const int64_t first_block = chunk * S::kBlocks;
      const int blocks =
          int(nblocks - first_block < S::kBlocks ? nblocks - first_block : S::kBlocks);
      const float* xc = x + first_block * W::kBlockElems;
#pragma unroll 4
      for (int b = lane_block; b < S::kBlocks; b += kBlocksPerPass) {
        if (b < blocks) {
          const XPart xs = W::load_x(xc + b * W::kBlockElems, sub);
#pragma unroll
          for (int r = 0; r < kRowsPerWarp; ++r) {
            acc[r] += W::dot(stage + r * S::kRowStride + b * W::kBlockBytes, sub, xs);
          }
        }
      }
    }
    finish_rows(acc, cur_row0, rows, warp, part, wpr, lane, partial, bias, y, flags);
  }
}

// Shared-memory staging bytes of a block (a minimal array for plain types).
template <typename W, bool = kIsPlain<W>>
struct StageBytes {
  static constexpr int value = 16;
};
template <typename W>
struct StageBytes<W, false> {
  static constexpr int value = kWarpsPerBlock * kRowsPerWarp * Staging<W>::kRowStride;
};

// Whether cols splits into whole 16-byte units (plain types; block rows are whole blocks).
template <typename W>
__device__ __forceinline__ bool whole_units(int64_t cols) {
  if constexpr (kIsPlain<W>) {
    return cols % Plain<W>::kUnitElems == 0;
  } else {
    return true;
  }
}

template <typename W>
__global__ void __launch_bounds__(kWarpsPerBlock * 32) matvec_kernel(KernelArgs a) {
  allow_dependents();
  grid_dependency_wait();
  const uint8_t* __restrict__ w = a.p<const uint8_t>(0);
  const float* __restrict__ x = a.p<const float>(1);
  float* y = a.p<float>(2);
  const float* bias = a.p<const float>(3);
  const MatvecParams p = a.params<MatvecParams>();
  const int64_t rows = p.rows, cols = p.cols;
  const uint32_t flags = uint32_t(p.flags);
  const int64_t row_bytes = cols / W::kBlockElems * W::kBlockBytes;
  const int wpr = warps_per_row(row_items<W>(cols));
  const int warp = threadIdx.x >> 5, lane = threadIdx.x & 31;
  const int part = warp % wpr;
  const int rows_per_block = (kWarpsPerBlock / wpr) * kRowsPerWarp;
  const int64_t groups = (rows + rows_per_block - 1) / rows_per_block;

  __shared__ __align__(16) uint8_t stage[StageBytes<W>::value];
  __shared__ float partial[kWarpsPerBlock][kRowsPerWarp];

  // The 16-byte paths need 16-byte aligned rows and x; otherwise decode element by element.
  const bool aligned =
      ((reinterpret_cast<uintptr_t>(w) | reinterpret_cast<uintptr_t>(x)) & 15) == 0 &&
      (row_bytes & 15) == 0 && whole_units<W>(cols);
  if constexpr (!kIsPlain<W>) {
    if (aligned) {
      block_type_rows<W>(w, x, rows, cols, warp, part, wpr, lane,
                         stage + warp * kRowsPerWarp * Staging<W>::kRowStride, partial, bias, y,
                         flags);
      return;
    }
  }
  for (int64_t group = blockIdx.x; group < groups; group += gridDim.x) {
    const uint8_t* rowp[kRowsPerWarp];
    int64_t row0;
    group_rows<W>(w, rows, row_bytes, group, warp / wpr, rows_per_block, rowp, &row0);
    float acc[kRowsPerWarp];
#pragma unroll
    for (int r = 0; r < kRowsPerWarp; ++r) acc[r] = 0.0f;
    bool done = false;
    if constexpr (kIsPlain<W>) {
      if (aligned) {
        plain_rows<W>(rowp, x, cols, part, wpr, lane, acc);
        done = true;
      }
    }
    if (!done) {
      for (int64_t c = int64_t(part) * 32 + lane; c < cols; c += int64_t(wpr) * 32) {
        const float xc = x[c];
#pragma unroll
        for (int r = 0; r < kRowsPerWarp; ++r) acc[r] += W::element(rowp[r], int(c)) * xc;
      }
    }
    finish_rows(acc, row0, rows, warp, part, wpr, lane, partial, bias, y, flags);
  }
}

// Blocks of matvec_kernel<W> that fit on one SM at once (device 0's count of SMs times this is
// the grid cap of block types). Asked once per type; the launch rule runs on the host.
template <typename W>
int64_t resident_blocks() {
  static const int64_t value = [] {
    int device = 0, sms = 0, per_sm = 0;
    if (cudaGetDevice(&device) != cudaSuccess ||
        cudaDeviceGetAttribute(&sms, cudaDevAttrMultiProcessorCount, device) != cudaSuccess ||
        cudaOccupancyMaxActiveBlocksPerMultiprocessor(&per_sm, &matvec_kernel<W>,
                                                      kWarpsPerBlock * 32, 0) != cudaSuccess) {
      (void)cudaGetLastError();
      return int64_t(0);  // unknown: one block per row group
    }
    return int64_t(sms) * int64_t(per_sm > 0 ? per_sm : 1);
  }();
  return value;
}

template <typename W>
Launch matvec_launch(const KernelArgs& a) {
  const MatvecParams p = a.params<MatvecParams>();
  const int64_t rows = p.rows, cols = p.cols;
  const int wpr = warps_per_row(row_items<W>(cols));
  const int64_t rows_per_block = int64_t(kWarpsPerBlock / wpr) * kRowsPerWarp;
  int64_t blocks = (rows + rows_per_block - 1) / rows_per_block;
  // Block types: one resident wave; each block walks several row groups with its loads running
  // ahead of its decode. Plain types decode in registers and keep one block per row group.
  if constexpr (!kIsPlain<W>) {
    const int64_t cap = resident_blocks<W>();
    if (cap > 0 && blocks > cap) blocks = cap;
  }
  Launch l;
  l.block = {kWarpsPerBlock * 32, 1, 1};
  l.grid = {static_cast<uint32_t>(blocks), 1, 1};
  return l;
}

}  // namespace

void append_matvec_kernels(std::vector<CudaKernelEntry>& t) {
  for_each_weight_type([&](auto tag) {
    using W = decltype(tag);
    if constexpr (!matvec_streams(W::kName)) {
      static const std::string name = std::string("matvec.") + W::kName;
      t.push_back({name.c_str(), reinterpret_cast<const void*>(&matvec_kernel<W>),
                   &matvec_launch<W>, nullptr, true});
    }
  });
}

}  // namespace stagefence::kernels::cuda
