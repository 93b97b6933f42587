// Parameters of "kv_store" (kernel_spec.hpp): one scalar word per field, in the spec's order.
#pragma once
#include <cstdint>

#include "kernels/params/shape_check.hpp"

namespace stagefence::kernels {

struct KvStoreParams {
  int64_t tokens = 0;
  int64_t kv_heads = 0;
  int64_t head_dim = 0;
  int64_t cap = 0;  // cache capacity in positions

  std::string check() const {
    return ShapeCheck()
        .range("T", tokens, 0, kMaxExtent)
        .range("kv_heads", kv_heads, 1, kMaxExtent)
        .range("head_dim", head_dim, 1, kMaxExtent)
        .range("cap", cap, 1, kMaxExtent)
        .result();
  }
};

static_assert(sizeof(KvStoreParams) == 4 * 8, "KvStoreParams: one word per scalar of the spec");

}  // namespace stagefence::kernels
