// "swiglu" (silu or gelu_tanh gate times up) and "add".
#include "kernels/params/elementwise.hpp"

#include <cmath>
#include <cstdint>

#include "kernels/cpu/cpu_kernels.hpp"
#include "kernels/cpu/kernel_util.hpp"

namespace stagefence::kernels::cpu {
namespace {

constexpr int64_t kElementsPerBlock = 16384;

void swiglu(const KernelArgs& args, const Launch& launch, uint64_t block_begin,
            uint64_t block_end) {
  constexpr const char* kName = "swiglu";
  const SwigluParams p = checked_params<SwigluParams>(args, kName);
  const int64_t n = p.n, act = p.act;
  require_binding(args, 0, uint64_t(n) * 4, kName, "gate");
  require_binding(args, 1, uint64_t(n) * 4, kName, "up");
  require_binding(args, 2, uint64_t(n) * 4, kName, "out");
  const float* gate = args.p<const float>(0);
  const float* up = args.p<const float>(1);
  float* out = args.p<float>(2);  // may alias gate or up: element i is read before it is written
  const ItemRange range = items_of_blocks(n, launch, block_begin, block_end);
  if (act == 0) {
    for (int64_t i = range.begin; i < range.end; ++i) {
      const float g = gate[i];
      out[i] = g / (1.0f + std::exp(-g)) * up[i];
    }
  } else {
    // 0.5·g·(1 + tanh(z)) written as g·sigmoid(2z): the same function without the
    // cancellation of 1 + tanh(z) for very negative g.
    constexpr float kSqrt2OverPi = 0.7978845608028654f;
    for (int64_t i = range.begin; i < range.end; ++i) {
      const float g = gate[i];
      const float z = kSqrt2OverPi * (g + 0.044715f * g * g * g);
      out[i] = g / (1.0f + std::exp(-2.0f * z)) * up[i];
    }
  }
}

void add(const KernelArgs& args, const Launch& launch, uint64_t block_begin, uint64_t block_end) {
  constexpr const char* kName = "add";
  const int64_t n = checked_params<AddParams>(args, kName).n;
  require_binding(args, 0, uint64_t(n) * 4, kName, "a");
  require_binding(args, 1, uint64_t(n) * 4, kName, "b");
  require_binding(args, 2, uint64_t(n) * 4, kName, "out");
  const float* a = args.p<const float>(0);
  const float* b = args.p<const float>(1);
  float* out = args.p<float>(2);
  const ItemRange range = items_of_blocks(n, launch, block_begin, block_end);
  for (int64_t i = range.begin; i < range.end; ++i) out[i] = a[i] + b[i];
}

Launch elementwise_launch(const KernelArgs& args) {
  return grid_for(args.params<AddParams>().n, kElementsPerBlock);  // swiglu's n is word 0 too
}

}  // namespace

void append_elementwise_kernels(std::vector<CpuKernel>& out) {
  out.push_back({"swiglu", swiglu, elementwise_launch});
  out.push_back({"add", add, elementwise_launch});
}

}  // namespace stagefence::kernels::cpu
