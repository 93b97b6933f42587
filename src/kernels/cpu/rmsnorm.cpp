// "rmsnorm": y = x / sqrt(mean(x²) + eps) · w (or · (1 + w), Gemma; or y += that), one row at
// a time.
#include "kernels/params/rmsnorm.hpp"

#include <cmath>
#include <cstdint>

#include "kernels/cpu/cpu_kernels.hpp"
#include "kernels/cpu/kernel_util.hpp"
#include "kernels/cpu/simd/simd.hpp"
#include "kernels/dequant.hpp"

namespace stagefence::kernels::cpu {
namespace {

void rmsnorm(const KernelArgs& args, const Launch& launch, uint64_t block_begin,
             uint64_t block_end) {
  constexpr const char* kName = "rmsnorm";
  const RmsnormParams p = checked_params<RmsnormParams>(args, kName);
  const int64_t rows = p.rows, n = p.n;
  const float eps = p.eps;
  const bool add_one = p.add_one != 0;
  const bool accumulate = p.accumulate != 0;
  require_binding(args, 0, uint64_t(rows * n) * 4, kName, "x");
  require_binding(args, 1, uint64_t(n) * 4, kName, "w");
  require_binding(args, 2, uint64_t(rows * n) * 4, kName, "y");

  const float* w = args.p<const float>(1);
  const ItemRange range = items_of_blocks(rows, launch, block_begin, block_end);
  for (int64_t r = range.begin; r < range.end; ++r) {
    const float* x = args.p<const float>(0) + r * n;
    float* y = args.p<float>(2) + r * n;  // may be x: each element is read before it is written
    const float mean_square = simd::dot_f32(x, x, n) / float(n);
    const float inv_rms = 1.0f / std::sqrt(mean_square + eps);
    if (accumulate) {
      for (int64_t j = 0; j < n; ++j) {
        const float v = x[j] * inv_rms * (add_one ? 1.0f + w[j] : w[j]);
        y[j] = y[j] + v;
      }
    } else if (add_one) {
      for (int64_t j = 0; j < n; ++j) y[j] = x[j] * inv_rms * (1.0f + w[j]);
    } else {
      for (int64_t j = 0; j < n; ++j) y[j] = x[j] * inv_rms * w[j];
    }
  }
}

// About 16k elements per block.
Launch rmsnorm_launch(const KernelArgs& args) {
  const RmsnormParams p = args.params<RmsnormParams>();
  const int64_t n = std::max<int64_t>(1, p.n);
  return grid_for(p.rows, std::max<int64_t>(1, 16384 / n));
}

}  // namespace

void append_rmsnorm_kernels(std::vector<CpuKernel>& out) {
  out.push_back({"rmsnorm", rmsnorm, rmsnorm_launch});
}

}  // namespace stagefence::kernels::cpu
