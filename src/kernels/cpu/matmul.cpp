// "matmul.<wt>": Y[t,r] = W[r,:]·X[t,:] (+ bias[r]) (+ Y[t,r]) for T tokens (prefill).
// Rows are decoded once into f32 tiles and reused for every token; each output is dot_f32 of
// the decoded row, which gives the same value as matvec of that row.
#include <cstdint>
#include <string>
#include <vector>

#include "kernels/cpu/cpu_kernels.hpp"
#include "kernels/cpu/kernel_util.hpp"
#include "kernels/cpu/simd/simd.hpp"
#include "kernels/dequant.hpp"
#include "kernels/kernel_spec.hpp"
#include "kernels/params/matrix.hpp"

namespace stagefence::kernels::cpu {
namespace {

constexpr int64_t kTileRows = 16;

template <DType kType>
void matmul(const KernelArgs& args, const Launch& launch, uint64_t block_begin,
            uint64_t block_end) {
  constexpr const char* kName = "matmul";
  const MatmulParams p = checked_params<MatmulParams>(args, kName);
  const int64_t rows = p.rows, cols = p.cols, tokens = p.tokens;
  const uint32_t flags = uint32_t(p.flags);
  const bool has_bias = flags & kMatFlagBias;
  const bool accumulate = flags & kMatFlagAccumulate;
  const uint64_t row_bytes = dtype_bytes(kType, uint64_t(cols));
  require_binding(args, 0, row_bytes * uint64_t(rows), kName, "W");
  require_binding(args, 1, uint64_t(tokens * cols) * 4, kName, "X");
  require_binding(args, 2, uint64_t(tokens * rows) * 4, kName, "Y");
  if (has_bias) require_binding(args, 3, uint64_t(rows) * 4, kName, "bias");

  const uint8_t* w = args.p<const uint8_t>(0);
  const float* x = args.p<const float>(1);
  float* y = args.p<float>(2);
  const float* bias = has_bias ? args.p<const float>(3) : nullptr;
  const DequantizeFn decode = row_codec(kType).dequantize;
  thread_local std::vector<float> tile;
  tile.resize(size_t(kTileRows * cols));

  const ItemRange range = items_of_blocks(rows, launch, block_begin, block_end);
  for (int64_t r0 = range.begin; r0 < range.end; r0 += kTileRows) {
    const int64_t n = std::min(kTileRows, range.end - r0);
    for (int64_t i = 0; i < n; ++i)
      decode(w + uint64_t(r0 + i) * row_bytes, tile.data() + i * cols, cols);
    for (int64_t t = 0; t < tokens; ++t) {
      const float* xt = x + t * cols;
      float* yt = y + t * rows;
      for (int64_t i = 0; i < n; ++i) {
        float acc = simd::dot_f32(tile.data() + i * cols, xt, cols);
        if (has_bias) acc += bias[r0 + i];
        if (accumulate) acc += yt[r0 + i];
        yt[r0 + i] = acc;
      }
    }
  }
}

// At least 16 rows per block and at most ~256 blocks.
Launch matmul_launch(const KernelArgs& args) {
  const int64_t rows = args.params<MatmulParams>().rows;
  return grid_for(rows, std::max<int64_t>(kTileRows, (rows + 255) / 256));
}

}  // namespace

void append_matmul_kernels(std::vector<CpuKernel>& out) {
  for_each_weight_type([&]<DType kType>() {
    out.push_back({"matmul." + std::string(dtype_name(kType)), matmul<kType>, matmul_launch});
  });
}

}  // namespace stagefence::kernels::cpu
