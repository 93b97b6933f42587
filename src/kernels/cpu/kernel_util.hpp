// Helpers shared by the CPU forward kernels: spreading work items over a launch's blocks,
// choosing grids, and checking bindings before touching memory.
#pragma once
#include <algorithm>
#include <cstdint>

#include "kernels/params/shape_check.hpp"
#include "stagefence/dtype.hpp"
#include "stagefence/error.hpp"
#include "stagefence/kernel.hpp"

namespace stagefence::kernels::cpu {

struct ItemRange {
  int64_t begin = 0;
  int64_t end = 0;
};

// The items owned by grid blocks [block_begin, block_end) when `items` are cut into equal
// ceil-sized chunks, one per block of the launch (trailing blocks may own nothing). Any grid
// works, so a caller-chosen launch is as correct as the kernel's own.
inline ItemRange items_of_blocks(int64_t items, const Launch& launch, uint64_t block_begin,
                                 uint64_t block_end) {
  const int64_t blocks = int64_t(std::max<uint64_t>(1, launch.grid.count()));
  const int64_t per_block = (items + blocks - 1) / blocks;
  return {std::min(items, int64_t(block_begin) * per_block),
          std::min(items, int64_t(block_end) * per_block)};
}

// A one-dimensional grid of ceil(items / per_block) blocks, at least one and at most 2^31.
inline Launch grid_for(int64_t items, int64_t per_block) {
  per_block = std::max<int64_t>(1, per_block);
  const int64_t blocks = std::clamp<int64_t>((items + per_block - 1) / per_block, 1, 1ll << 31);
  Launch launch;
  launch.grid.x = uint32_t(blocks);
  return launch;
}

// Throws InvalidArgument naming the kernel unless binding `index` exists and holds `bytes`.
void require_binding(const KernelArgs& args, int index, uint64_t bytes, const char* kernel,
                     const char* what);
// Throws InvalidArgument naming the kernel unless at least `count` scalars were passed.
void require_scalar_count(const KernelArgs& args, uint32_t count, const char* kernel);
// Throws InvalidArgument naming the kernel unless the integer scalar is in [lo, hi].
int64_t require_scalar(const KernelArgs& args, int index, int64_t lo, int64_t hi,
                       const char* kernel, const char* what);

using kernels::kMaxExtent;

// The kernel's params struct, after its shape contract (the one the registry runs when the
// dispatch is recorded; a kernel called directly, as the tests do, checks it here).
template <typename P>
P checked_params(const KernelArgs& args, const char* kernel) {
  const std::string why = check_params<P>(args);
  if (!why.empty()) raise(ErrorCode::InvalidArgument, std::string(kernel) + ": " + why);
  return args.params<P>();
}

// Calls f.template operator()<T>() for every forward weight type (the list in dequant.cpp).
template <typename F>
void for_each_weight_type(F&& f) {
  f.template operator()<DType::F32>();
  f.template operator()<DType::F16>();
  f.template operator()<DType::BF16>();
  f.template operator()<DType::Q8_0>();
  f.template operator()<DType::Q4_0>();
  f.template operator()<DType::Q4_1>();
  f.template operator()<DType::Q5_0>();
  f.template operator()<DType::Q4_K>();
  f.template operator()<DType::Q5_K>();
  f.template operator()<DType::Q6_K>();
}

}  // namespace stagefence::kernels::cpu
