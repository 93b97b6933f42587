// Labels for profilers: an NVTX range on the calling thread, named by a command buffer's label.
// Nsight Systems shows them on the CPU timeline; a build without the CUDA toolkit has no NVTX and
// the range is a no-op.
#pragma once

#if defined(STAGEFENCE_WITH_CUDA) && __has_include(<nvtx3/nvToolsExt.h>)
#include <nvtx3/nvToolsExt.h>
#define STAGEFENCE_HAS_NVTX 1
#endif

namespace stagefence::detail {

class NvtxRange {
 public:
  explicit NvtxRange(const char* name) {
#ifdef STAGEFENCE_HAS_NVTX
    nvtxRangePushA(name);
#else
    (void)name;
#endif
  }
  ~NvtxRange() {
#ifdef STAGEFENCE_HAS_NVTX
    nvtxRangePop();
#endif
  }
  NvtxRange(const NvtxRange&) = delete;
  NvtxRange& operator=(const NvtxRange&) = delete;
};

}  // namespace stagefence::detail
