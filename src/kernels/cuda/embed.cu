// "embed.<wt>": out[t, :] = table[ids[t], :] · scale, rows decoded element by element (a few
// rows per step, so simplicity wins over speed). Ids outside [0, vocab) give NaN rows.
#include <cstdint>

#include "kernels/cuda/weight_types.cuh"
#include "kernels/params/embed.hpp"

namespace stagefence::kernels::cuda {
namespace {

template <typename W>
__global__ void embed_kernel(KernelArgs a) {
  const uint8_t* table = a.p<const uint8_t>(0);
  const int32_t* ids = a.p<const int32_t>(1);
  float* out = a.p<float>(2);
  const EmbedParams p = a.params<EmbedParams>();
  const int64_t dim = p.dim, vocab = p.vocab;
  const float scale = p.scale;
  const int64_t t = blockIdx.x;
  const int32_t id = ids[t];
  const bool valid = id >= 0 && id < vocab;
  const uint8_t* row = table + (valid ? int64_t(id) : 0) * (dim / W::kBlockElems * W::kBlockBytes);
  for (int64_t c = threadIdx.x; c < dim; c += blockDim.x) {
    out[t * dim + c] = valid ? W::element(row, int(c)) * scale : sf_nan();
  }
}

Launch embed_launch(const KernelArgs& a) {
  Launch l;
  l.grid = {static_cast<uint32_t>(a.params<EmbedParams>().tokens), 1, 1};
  l.block = {256, 1, 1};
  return l;
}

}  // namespace

void append_embed_kernels(std::vector<CudaKernelEntry>& t) {
  for_each_weight_type([&](auto tag) {
    using W = decltype(tag);
    static const std::string name = std::string("embed.") + W::kName;
    t.push_back({name.c_str(), reinterpret_cast<const void*>(&embed_kernel<W>), &embed_launch});
  });
}

}  // namespace stagefence::kernels::cuda
