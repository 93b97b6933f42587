// "matvec.<wt>": y[r] = W[r,:]·x (+ bias[r]) (+ y[r]); one row's dot product is computed whole
// by one block, so its value never depends on the launch.
#include <algorithm>
#include <cstdint>
#include <string>

#include "kernels/cpu/cpu_kernels.hpp"
#include "kernels/cpu/kernel_util.hpp"
#include "kernels/cpu/simd/simd.hpp"
#include "kernels/dequant.hpp"
#include "kernels/kernel_spec.hpp"
#include "kernels/params/matrix.hpp"

namespace stagefence::kernels::cpu {
namespace {

template <DType kType>
void matvec(const KernelArgs& args, const Launch& launch, uint64_t block_begin,
            uint64_t block_end) {
  constexpr const char* kName = "matvec";
  const MatvecParams p = checked_params<MatvecParams>(args, kName);
  const int64_t rows = p.rows, cols = p.cols;
  const uint32_t flags = uint32_t(p.flags);
  const bool has_bias = flags & kMatFlagBias;
  const bool accumulate = flags & kMatFlagAccumulate;
  const uint64_t row_bytes = dtype_bytes(kType, uint64_t(cols));
  require_binding(args, 0, row_bytes * uint64_t(rows), kName, "W");
  require_binding(args, 1, uint64_t(cols) * 4, kName, "x");
  require_binding(args, 2, uint64_t(rows) * 4, kName, "y");
  if (has_bias) require_binding(args, 3, uint64_t(rows) * 4, kName, "bias");

  const uint8_t* w = args.p<const uint8_t>(0);
  const float* x = args.p<const float>(1);
  float* y = args.p<float>(2);
  const float* bias = has_bias ? args.p<const float>(3) : nullptr;
  const ItemRange range = items_of_blocks(rows, launch, block_begin, block_end);
  // Rows in chunks through simd::row_dots (several rows share each load of x; every value is
  // the single-row dot's).
  constexpr int64_t kChunk = 32;
  const uint8_t* row_ptr[kChunk];
  float v[kChunk];
  for (int64_t r0 = range.begin; r0 < range.end; r0 += kChunk) {
    const int64_t count = std::min(kChunk, range.end - r0);
    for (int64_t i = 0; i < count; ++i) row_ptr[i] = w + uint64_t(r0 + i) * row_bytes;
    if (simd::row_dot(kType)) {
      simd::row_dots(kType, row_ptr, count, x, cols, v);
    } else {
      for (int64_t i = 0; i < count; ++i) v[i] = row_codec(kType).dot(row_ptr[i], x, cols);
    }
    for (int64_t i = 0; i < count; ++i) {
      const int64_t r = r0 + i;
      float acc = v[i];
      if (has_bias) acc += bias[r];
      if (accumulate) acc += y[r];
      y[r] = acc;
    }
  }
}

// At least 16 rows per block and at most ~256 blocks.
Launch matvec_launch(const KernelArgs& args) {
  const int64_t rows = args.params<MatvecParams>().rows;
  return grid_for(rows, std::max<int64_t>(16, (rows + 255) / 256));
}

}  // namespace

void append_matvec_kernels(std::vector<CpuKernel>& out) {
  for_each_weight_type([&]<DType kType>() {
    out.push_back({"matvec." + std::string(dtype_name(kType)), matvec<kType>, matvec_launch});
  });
}

}  // namespace stagefence::kernels::cpu
