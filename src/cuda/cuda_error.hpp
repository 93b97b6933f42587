// CUDA return codes turned into stagefence errors: every CUDA call goes through check().
#pragma once
#include <cuda_runtime_api.h>

#include <string>

#include "stagefence/error.hpp"

namespace stagefence::cuda {

// True for errors that corrupt the context: after one, every later CUDA call fails.
bool is_sticky(cudaError_t e);

// "an illegal memory access was encountered (cudaErrorIllegalAddress)".
std::string describe(cudaError_t e);

// Throws Error when `e` is not cudaSuccess: DeviceLost for sticky errors, `code` otherwise.
// `what` names the operation ("cudaMalloc of 4096 bytes").
void check(cudaError_t e, const std::string& what, ErrorCode code = ErrorCode::Internal);

// Same, with a C-string operation name so the happy path builds no string.
inline void check(cudaError_t e, const char* what, ErrorCode code = ErrorCode::Internal) {
  if (e != cudaSuccess) check(e, std::string(what), code);
}

}  // namespace stagefence::cuda
