// Builds the message of a params struct's check(): the first broken rule, naming the field, its
// value and the bound. Costs no allocation while every rule holds (checks run on every dispatch).
#pragma once
#include <cstdint>
#include <string>

#include "stagefence/kernel_args.hpp"

namespace stagefence::kernels {

inline constexpr int64_t kMaxExtent = 0x7fffffff;

class ShapeCheck {
 public:
  // what = value must lie in [lo, hi].
  ShapeCheck& range(const char* what, int64_t value, int64_t lo, int64_t hi) {
    if (why_.empty() && (value < lo || value > hi))
      why_ = std::string(what) + " = " + std::to_string(value) + " is outside [" +
             std::to_string(lo) + ", " + std::to_string(hi) + "]";
    return *this;
  }
  // what = value must be a multiple of `step`, for `reason`.
  ShapeCheck& multiple(const char* what, int64_t value, int64_t step, const char* reason) {
    if (why_.empty() && value % step != 0)
      why_ = std::string(what) + " = " + std::to_string(value) + " must be a multiple of " +
             std::to_string(step) + " (" + reason + ")";
    return *this;
  }
  // `rule` (a sentence naming the fields) must hold.
  ShapeCheck& require(bool ok, const char* rule) {
    if (why_.empty() && !ok) why_ = rule;
    return *this;
  }
  std::string result() { return std::move(why_); }

 private:
  std::string why_;
};

// The registry hook of a kernel reading P: enough scalar words, then P's own check().
template <typename P>
std::string check_params(const KernelArgs& args) {
  if (args.num_scalars < kParamWords<P>)
    return "needs " + std::to_string(kParamWords<P>) + " scalar words, got " +
           std::to_string(args.num_scalars);
  return args.params<P>().check();
}

}  // namespace stagefence::kernels
