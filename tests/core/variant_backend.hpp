// A test-only third backend: the CPU backend under another name and slot, registered from the
// test tree. The runtime contract suite runs on it (SF_INSTANTIATE_BACKENDS), which proves that
// a backend is added without editing src/core, include or app.
#pragma once
#include "stagefence/stagefence.hpp"

namespace sftest {

inline constexpr stagefence::BackendKind kVariantBackend = stagefence::BackendKind(2);
inline constexpr const char* kVariantName = "cpu-variant";

// Registers the variant once per process (later calls do nothing).
void register_variant_backend();

}  // namespace sftest
