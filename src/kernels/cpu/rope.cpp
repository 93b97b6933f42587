// "rope": rotates the first rot_dim dims of every head in place, angle
// pos·freq_scale·theta_base^(-2i/rot_dim) for pair i; mode 0 pairs (2i, 2i+1), mode 1 (i, i+rot/2).
#include "kernels/params/rope.hpp"

#include <cmath>
#include <cstdint>
#include <string>
#include <vector>

#include "kernels/cpu/cpu_kernels.hpp"
#include "kernels/cpu/kernel_util.hpp"
#include "stagefence/error.hpp"

namespace stagefence::kernels::cpu {
namespace {

void rope(const KernelArgs& args, const Launch& launch, uint64_t block_begin, uint64_t block_end) {
  constexpr const char* kName = "rope";
  const RopeKernelParams p = checked_params<RopeKernelParams>(args, kName);
  const int64_t tokens = p.tokens, heads = p.heads, head_dim = p.head_dim, rot_dim = p.rot_dim;
  const double theta_base = p.theta_base, freq_scale = p.freq_scale;
  const int64_t mode = p.mode;
  require_binding(args, 0, uint64_t(tokens * heads * head_dim) * 4, kName, "x");
  require_binding(args, 1, uint64_t(tokens) * 4, kName, "positions");

  float* x = args.p<float>(0);
  const int32_t* positions = args.p<const int32_t>(1);
  const int64_t pairs = rot_dim / 2;
  // cos/sin of the current token's angles, recomputed when the token changes.
  thread_local std::vector<float> cos_table, sin_table;
  cos_table.resize(size_t(pairs));
  sin_table.resize(size_t(pairs));
  int64_t table_token = -1;

  const ItemRange range = items_of_blocks(tokens * heads, launch, block_begin, block_end);
  for (int64_t item = range.begin; item < range.end; ++item) {
    const int64_t t = item / heads;
    if (t != table_token) {
      const double pos = positions[t];
      for (int64_t i = 0; i < pairs; ++i) {
        const double angle =
            pos * freq_scale * std::pow(theta_base, -2.0 * double(i) / double(rot_dim));
        cos_table[size_t(i)] = float(std::cos(angle));
        sin_table[size_t(i)] = float(std::sin(angle));
      }
      table_token = t;
    }
    float* v = x + item * head_dim;
    const int64_t stride = mode == 0 ? 1 : pairs;  // distance between the two members of a pair
    for (int64_t i = 0; i < pairs; ++i) {
      const int64_t a = mode == 0 ? 2 * i : i;
      const float x0 = v[a], x1 = v[a + stride];
      v[a] = x0 * cos_table[size_t(i)] - x1 * sin_table[size_t(i)];
      v[a + stride] = x0 * sin_table[size_t(i)] + x1 * cos_table[size_t(i)];
    }
  }
}

// About 32 heads per block.
Launch rope_launch(const KernelArgs& args) {
  const RopeKernelParams p = args.params<RopeKernelParams>();
  return grid_for(p.tokens * p.heads, 32);
}

}  // namespace

void append_rope_kernels(std::vector<CpuKernel>& out) {
  out.push_back({"rope", rope, rope_launch});
}

}  // namespace stagefence::kernels::cpu
