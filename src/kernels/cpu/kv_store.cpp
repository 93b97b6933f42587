// "kv_store": writes T tokens' keys or values into the f16 cache [kv_heads, cap, head_dim] at
// their positions; positions outside [0, cap) are skipped.
#include "kernels/params/kv_store.hpp"

#include <cstdint>

#include "kernels/cpu/cpu_kernels.hpp"
#include "kernels/cpu/kernel_util.hpp"
#include "kernels/quant_blocks.hpp"

namespace stagefence::kernels::cpu {
namespace {

void kv_store(const KernelArgs& args, const Launch& launch, uint64_t block_begin,
              uint64_t block_end) {
  constexpr const char* kName = "kv_store";
  const KvStoreParams p = checked_params<KvStoreParams>(args, kName);
  const int64_t tokens = p.tokens, kv_heads = p.kv_heads, head_dim = p.head_dim, cap = p.cap;
  require_binding(args, 0, uint64_t(tokens * kv_heads * head_dim) * 4, kName, "src");
  require_binding(args, 1, uint64_t(kv_heads * cap * head_dim) * 2, kName, "cache");
  require_binding(args, 2, uint64_t(tokens) * 4, kName, "positions");

  const float* src = args.p<const float>(0);
  uint16_t* cache = args.p<uint16_t>(1);
  const int32_t* positions = args.p<const int32_t>(2);
  const ItemRange range = items_of_blocks(tokens * kv_heads, launch, block_begin, block_end);
  for (int64_t item = range.begin; item < range.end; ++item) {
    const int64_t t = item / kv_heads, h = item % kv_heads;
    const int64_t pos = positions[t];
    if (pos < 0 || pos >= cap) continue;
    const float* s = src + item * head_dim;
    uint16_t* d = cache + (h * cap + pos) * head_dim;
    for (int64_t j = 0; j < head_dim; ++j) d[j] = quant::float_to_half(s[j]);
  }
}

// About 64 head vectors per block.
Launch kv_store_launch(const KernelArgs& args) {
  const KvStoreParams p = args.params<KvStoreParams>();
  return grid_for(p.tokens * p.kv_heads, 64);
}

}  // namespace

void append_kv_store_kernels(std::vector<CpuKernel>& out) {
  out.push_back({"kv_store", kv_store, kv_store_launch});
}

}  // namespace stagefence::kernels::cpu
