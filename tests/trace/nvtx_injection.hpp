// A static NVTX injection compiled into the trace tests: it records the ranges pushed through
// the NVTX API, the way Nsight tools receive them.
#pragma once
#include <string>
#include <vector>

namespace nvtx_probe {
// True when this build has NVTX (built with the CUDA toolkit).
bool available();
std::vector<std::string> pushed();  // every range name pushed so far
int depth();                        // pushes minus pops
}  // namespace nvtx_probe
