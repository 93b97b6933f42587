#include "kernels/cpu/kernel_util.hpp"

#include <cstdint>
#include <string>

#include "stagefence/error.hpp"

namespace stagefence::kernels::cpu {

void require_binding(const KernelArgs& args, int index, uint64_t bytes, const char* kernel,
                     const char* what) {
  if (uint32_t(index) >= args.num_bindings)
    raise(ErrorCode::InvalidArgument, std::string(kernel) + ": binding " + std::to_string(index) +
                                          " (" + what + ") is missing");
  if (args.len[index] < bytes || (bytes > 0 && args.ptr[index] == nullptr))
    raise(ErrorCode::InvalidArgument,
          std::string(kernel) + ": binding " + std::to_string(index) + " (" + what + ") holds " +
              std::to_string(args.len[index]) + " bytes, needs " + std::to_string(bytes));
}

void require_scalar_count(const KernelArgs& args, uint32_t count, const char* kernel) {
  if (args.num_scalars < count)
    raise(ErrorCode::InvalidArgument, std::string(kernel) + ": needs " + std::to_string(count) +
                                          " scalars, got " + std::to_string(args.num_scalars));
}

int64_t require_scalar(const KernelArgs& args, int index, int64_t lo, int64_t hi,
                       const char* kernel, const char* what) {
  if (uint32_t(index) >= args.num_scalars)
    raise(ErrorCode::InvalidArgument,
          std::string(kernel) + ": scalar " + std::to_string(index) + " (" + what + ") is missing");
  const int64_t v = args.i64(index);
  if (v < lo || v > hi)
    raise(ErrorCode::InvalidArgument, std::string(kernel) + ": " + what + " = " +
                                          std::to_string(v) + " is outside [" + std::to_string(lo) +
                                          ", " + std::to_string(hi) + "]");
  return v;
}

}  // namespace stagefence::kernels::cpu
