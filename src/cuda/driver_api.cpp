#include "cuda/driver_api.hpp"

#include <cuda_runtime_api.h>

namespace stagefence::cuda {

namespace {

// The ABI version each function pointer type above was declared for.
constexpr unsigned kAbiVersion = 12000;

template <typename Fn>
bool resolve(const char* symbol, Fn* out, std::string* why_not) {
  void* p = nullptr;
  cudaDriverEntryPointQueryResult status = cudaDriverEntryPointSymbolNotFound;
  const cudaError_t e =
      cudaGetDriverEntryPointByVersion(symbol, &p, kAbiVersion, cudaEnableDefault, &status);
  if (e != cudaSuccess || status != cudaDriverEntryPointSuccess || p == nullptr) {
    if (why_not)
      *why_not = std::string("driver entry point ") + symbol + " unavailable (" +
                 (e != cudaSuccess                                    ? cudaGetErrorName(e)
                  : status == cudaDriverEntryPointVersionNotSufficent ? "driver too old"
                                                                      : "symbol not found") +
                 ")";
    return false;
  }
  *out = reinterpret_cast<Fn>(p);
  return true;
}

}  // namespace

bool DriverApi::load(std::string* why_not) {
  if (!resolve("cuDeviceGet", &device_get, why_not)) return false;
  if (!resolve("cuDeviceGetAttribute", &device_get_attribute, why_not)) return false;
  if (!resolve("cuGetErrorString", &get_error_string, why_not)) return false;
  // Memory operations are optional: without them fences use events.
  std::string ignored;
  resolve("cuStreamWaitValue64", &stream_wait_value64, &ignored);
  resolve("cuStreamWriteValue64", &stream_write_value64, &ignored);
  resolve("cuStreamBatchMemOp", &stream_batch_mem_op, &ignored);
  return true;
}

bool DriverApi::memops_supported(int ordinal) const {
  if (!device_get_attribute || !stream_wait_value64 || !stream_write_value64 ||
      !stream_batch_mem_op)
    return false;
  CUdevice device = 0;
  if (device_get(&device, ordinal) != CUDA_SUCCESS) return false;
  int can = 0;
  if (device_get_attribute(&can, CU_DEVICE_ATTRIBUTE_CAN_USE_64_BIT_STREAM_MEM_OPS, device) !=
      CUDA_SUCCESS)
    return false;
  return can != 0;
}

std::string DriverApi::describe(CUresult r) const {
  const char* s = nullptr;
  if (get_error_string && get_error_string(r, &s) == CUDA_SUCCESS && s)
    return std::string(s) + " (CUresult " + std::to_string(static_cast<int>(r)) + ")";
  return "CUresult " + std::to_string(static_cast<int>(r));
}

}  // namespace stagefence::cuda
