// "matvec.<wt>": y[r] = sum_c W[r,c]·x[c] (+ bias) (+ y_old), the decode-time projection.
// Memory-bound: the weights are read once, so the design keeps many 16-byte (plain types) or
// contiguous narrow (block types) loads in flight. A warp computes kRowsPerWarp rows at once so
// each x load from L1 serves several rows; long rows are split across `warps_per_row` warps of a
// block and combined in shared memory in a fixed order (deterministic, no atomics).
#include "kernels/cuda/weight_types.cuh"

namespace stagefence::kernels::cuda {
namespace {

constexpr int kWarpsPerBlock = 8;
constexpr int kRowsPerWarp = 2;

// Plain types seen as 16-byte units: each lane reads one unit per step.
template <typename W>
struct PlainUnits {
  static constexpr int kBlockBytes = 16, kBlockElems = 16 / W::kBlockBytes, kLanesPerBlock = 1;
  __device__ static float dot(const uint8_t* b, int /*p*/, const float* x) {
    const uint4 w = load_stream_u4(b);
    if constexpr (kBlockElems == 4) {
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

template <typename W>
struct UnitsOf {
  using type = W;
};
template <>
struct UnitsOf<WF32> {
  using type = PlainUnits<WF32>;
};
template <>
struct UnitsOf<WF16> {
  using type = PlainUnits<WF16>;
};
template <>
struct UnitsOf<WBF16> {
  using type = PlainUnits<WBF16>;
};

// Warps sharing one row: enough that each warp does 4 to 8 steps, a power of two <= 8.
// Depends only on the row length, so a row's sum does not depend on the matrix height.
SF_HD int warps_per_row(int64_t units_per_row, int units_per_step) {
  const int64_t steps = (units_per_row + units_per_step - 1) / units_per_step;
  int w = 1;
  while (w < kWarpsPerBlock && steps >= int64_t(8) * w) w *= 2;
  return w;
}

template <typename W>
__global__ void __launch_bounds__(kWarpsPerBlock * 32) matvec_kernel(KernelArgs a) {
  using U = typename UnitsOf<W>::type;
  constexpr int kUnitsPerStep = 32 / U::kLanesPerBlock;
  const uint8_t* __restrict__ w = a.p<const uint8_t>(0);
  const float* __restrict__ x = a.p<const float>(1);
  float* y = a.p<float>(2);
  const float* bias = a.p<const float>(3);
  const int64_t rows = a.i64(0), cols = a.i64(1);
  const uint32_t flags = a.u32(2);
  const int64_t row_bytes = cols / W::kBlockElems * W::kBlockBytes;
  const int64_t units = cols / U::kBlockElems;
  const int wpr = warps_per_row(units, kUnitsPerStep);
  const int warp = threadIdx.x >> 5, lane = threadIdx.x & 31;
  const int part = warp % wpr;
  const int64_t row0 = (int64_t(blockIdx.x) * (kWarpsPerBlock / wpr) + warp / wpr) * kRowsPerWarp;

  // 16-byte units need 16-byte aligned rows and x; otherwise decode element by element.
  const bool aligned = ((reinterpret_cast<uintptr_t>(w) | reinterpret_cast<uintptr_t>(x)) & 15) == 0 &&
                       (row_bytes & 15) == 0 && cols % U::kBlockElems == 0;
  float acc[kRowsPerWarp];
#pragma unroll
  for (int r = 0; r < kRowsPerWarp; ++r) acc[r] = 0.0f;
  const uint8_t* rowp[kRowsPerWarp];
#pragma unroll
  for (int r = 0; r < kRowsPerWarp; ++r) {
    const int64_t row = row0 + r < rows ? row0 + r : rows - 1;  // clamped rows are not written
    rowp[r] = w + row * row_bytes;
  }
  if (aligned) {
    const int sub = lane % U::kLanesPerBlock;
    const int64_t stride = int64_t(wpr) * kUnitsPerStep;
#pragma unroll 2
    for (int64_t u = int64_t(part) * kUnitsPerStep + lane / U::kLanesPerBlock; u < units;
         u += stride) {
      const float* xu = x + u * U::kBlockElems;
#pragma unroll
      for (int r = 0; r < kRowsPerWarp; ++r) acc[r] += U::dot(rowp[r] + u * U::kBlockBytes, sub, xu);
    }
  } else {
    for (int64_t c = int64_t(part) * 32 + lane; c < cols; c += int64_t(wpr) * 32) {
      const float xc = x[c];
#pragma unroll
      for (int r = 0; r < kRowsPerWarp; ++r) acc[r] += W::element(rowp[r], int(c)) * xc;
    }
  }

  __shared__ float partial[kWarpsPerBlock][kRowsPerWarp];
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
}

template <typename W>
Launch matvec_launch(const KernelArgs& a) {
  using U = typename UnitsOf<W>::type;
  const int64_t rows = a.i64(0), cols = a.i64(1);
  const int wpr = warps_per_row(cols / U::kBlockElems, 32 / U::kLanesPerBlock);
  const int64_t rows_per_block = int64_t(kWarpsPerBlock / wpr) * kRowsPerWarp;
  Launch l;
  l.block = {kWarpsPerBlock * 32, 1, 1};
  l.grid = {ceil_div_u32(rows, rows_per_block), 1, 1};
  return l;
}

}  // namespace

void append_matvec_kernels(std::vector<CudaKernelEntry>& t) {
  for_each_weight_type([&](auto tag) {
    using W = decltype(tag);
    static const std::string name = std::string("matvec.") + W::kName;
    t.push_back({name.c_str(), reinterpret_cast<const void*>(&matvec_kernel<W>), &matvec_launch<W>});
  });
}

}  // namespace stagefence::kernels::cuda
