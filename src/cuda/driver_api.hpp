// Driver-API functions reached through the runtime's entry-point lookup, so the binary links
// only the static CUDA runtime and never libcuda (it runs, and falls back, on machines without
// a driver).
#pragma once
#include <cuda.h>
#include <cudaTypedefs.h>

#include <string>

namespace stagefence::cuda {

struct DriverApi {
  PFN_cuDeviceGet_v2000 device_get = nullptr;
  PFN_cuDeviceGetAttribute_v2000 device_get_attribute = nullptr;
  PFN_cuStreamWaitValue64_v11070 stream_wait_value64 = nullptr;
  PFN_cuStreamWriteValue64_v11070 stream_write_value64 = nullptr;
  PFN_cuStreamBatchMemOp_v11070 stream_batch_mem_op = nullptr;
  PFN_cuGetErrorString_v6000 get_error_string = nullptr;

  // Resolves every entry point; false (and `why_not` set) when a required one is missing.
  bool load(std::string* why_not);
  // Stream memory operations with 64-bit values are usable on `ordinal`.
  bool memops_supported(int ordinal) const;
  std::string describe(CUresult r) const;
};

}  // namespace stagefence::cuda
