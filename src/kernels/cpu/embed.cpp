// "embed.<wt>": gathers and decodes rows of the embedding table, times an optional scale.
#include "kernels/params/embed.hpp"

#include <cstdint>
#include <cstring>
#include <limits>
#include <string>

#include "kernels/cpu/cpu_kernels.hpp"
#include "kernels/cpu/kernel_util.hpp"
#include "kernels/dequant.hpp"

namespace stagefence::kernels::cpu {
namespace {

template <DType kType>
void embed(const KernelArgs& args, const Launch& launch, uint64_t block_begin, uint64_t block_end) {
  constexpr const char* kName = "embed";
  const EmbedParams p = checked_params<EmbedParams>(args, kName);
  const int64_t dim = p.dim, tokens = p.tokens, vocab = p.vocab;
  const float scale = p.scale;
  const uint64_t row_bytes = dtype_bytes(kType, uint64_t(dim));
  require_binding(args, 0, row_bytes * uint64_t(vocab), kName, "table");
  require_binding(args, 1, uint64_t(tokens) * 4, kName, "ids");
  require_binding(args, 2, uint64_t(tokens * dim) * 4, kName, "out");

  const uint8_t* table = args.p<const uint8_t>(0);
  const int32_t* ids = args.p<const int32_t>(1);
  float* out = args.p<float>(2);
  const DequantizeFn decode = row_codec(kType).dequantize;
  const ItemRange range = items_of_blocks(tokens, launch, block_begin, block_end);
  for (int64_t t = range.begin; t < range.end; ++t) {
    float* y = out + t * dim;
    const int64_t id = ids[t];
    if (id < 0 || id >= vocab) {  // a bad id must be visible, not a crash
      for (int64_t j = 0; j < dim; ++j) y[j] = std::numeric_limits<float>::quiet_NaN();
      continue;
    }
    decode(table + uint64_t(id) * row_bytes, y, dim);
    if (scale != 1.0f)
      for (int64_t j = 0; j < dim; ++j) y[j] *= scale;
  }
}

// Enough rows per block that a block decodes at least ~16k elements.
Launch embed_launch(const KernelArgs& args) {
  const EmbedParams p = args.params<EmbedParams>();
  const int64_t dim = std::max<int64_t>(1, p.dim);
  return grid_for(p.tokens, std::max<int64_t>(1, 16384 / dim));
}

}  // namespace

void append_embed_kernels(std::vector<CpuKernel>& out) {
  for_each_weight_type([&]<DType kType>() {
    out.push_back({"embed." + std::string(dtype_name(kType)), embed<kType>, embed_launch});
  });
}

}  // namespace stagefence::kernels::cpu
