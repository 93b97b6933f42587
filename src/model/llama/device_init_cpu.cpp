// CPU versions of the hash initialiser's kernels ("init.hash", "init.hash_kv"; contract in
// device_init.hpp). The per-unit work is device_init_hash.hpp's, shared with CUDA.
#include <cstdint>

#include "kernels/cpu/kernel_util.hpp"
#include "model/llama/device_init.hpp"
#include "model/llama/device_init_hash.hpp"
#include "stagefence/kernel.hpp"

namespace stagefence::llama {
namespace {

namespace di = device_init;
using kernels::cpu::grid_for;
using kernels::cpu::items_of_blocks;
using kernels::cpu::require_binding;
using kernels::cpu::require_scalar;
using kernels::cpu::require_scalar_count;

constexpr int64_t kMaxUnits = int64_t(1) << 32;

uint64_t unit_bytes(di::HashFormat format) {
  switch (format) {
    case di::HashFormat::F32:
      return 4;
    case di::HashFormat::F16:
    case di::HashFormat::BF16:
      return 2;
    case di::HashFormat::Q8_0:
      return sizeof(quant::block_q8_0);
    case di::HashFormat::Q4_0:
      return sizeof(quant::block_q4_0);
  }
  return 0;
}

void hash_fill(const KernelArgs& args, const Launch& launch, uint64_t block_begin,
               uint64_t block_end) {
  constexpr const char* kName = "init.hash";
  require_scalar_count(args, 7, kName);
  const int64_t units = require_scalar(args, 0, 1, kMaxUnits, kName, "units");
  const auto format = di::HashFormat(require_scalar(args, 1, 0, 4, kName, "format"));
  require_binding(args, 0, uint64_t(units) * unit_bytes(format), kName, "out");
  const uint32_t key_a = args.u32(2), key_b = args.u32(3);
  const float scale = args.f32(4);
  const int32_t offset = args.i32(5);
  const auto block_d = uint16_t(args.s[6]);
  const kernels::cpu::ItemRange range = items_of_blocks(units, launch, block_begin, block_end);
  for (int64_t u = range.begin; u < range.end; ++u)
    di::write_hashed_unit(args.ptr[0], uint64_t(u), format, key_a, key_b, scale, offset, block_d);
}

Launch hash_fill_launch(const KernelArgs& args) {
  return grid_for(args.i64(0), 1 << 14);
}

void hash_kv_fill(const KernelArgs& args, const Launch& launch, uint64_t block_begin,
                  uint64_t block_end) {
  constexpr const char* kName = "init.hash_kv";
  using kernels::cpu::kMaxExtent;
  require_scalar_count(args, 7, kName);
  const int64_t kv_heads = require_scalar(args, 0, 1, kMaxExtent, kName, "kv_heads");
  const int64_t cap = require_scalar(args, 1, 1, kMaxExtent, kName, "capacity");
  const int64_t head_dim = require_scalar(args, 2, 1, kMaxExtent, kName, "head_dim");
  const int64_t positions = require_scalar(args, 3, 0, cap, kName, "positions");
  require_binding(args, 0, uint64_t(kv_heads * cap * head_dim) * 2, kName, "cache");
  uint16_t* cache = args.p<uint16_t>(0);
  const uint32_t key_a = args.u32(4), key_b = args.u32(5);
  const float scale = args.f32(6);
  // One item is the head vector (pos, h).
  const kernels::cpu::ItemRange range =
      items_of_blocks(positions * kv_heads, launch, block_begin, block_end);
  for (int64_t item = range.begin; item < range.end; ++item) {
    const int64_t pos = item / kv_heads, h = item % kv_heads;
    uint16_t* dst = cache + (h * cap + pos) * head_dim;
    for (int64_t d = 0; d < head_dim; ++d) {
      const uint32_t index = di::kv_hash_index(uint32_t(pos), uint32_t(h), uint32_t(d),
                                               uint32_t(kv_heads), uint32_t(head_dim));
      dst[d] =
          quant::float_to_half(di::element_value(di::element_hash(key_a, key_b, index), 0, scale));
    }
  }
}

Launch hash_kv_fill_launch(const KernelArgs& args) {
  return grid_for(args.i64(3) * args.i64(0), 64);
}

}  // namespace

void register_cpu_device_init_kernels() {
  KernelRegistry& registry = KernelRegistry::global();
  registry.add_cpu("init.hash", hash_fill, hash_fill_launch);
  registry.add_cpu("init.hash_kv", hash_kv_fill, hash_kv_fill_launch);
}

}  // namespace stagefence::llama
