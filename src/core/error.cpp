#include "stagefence/error.hpp"

namespace stagefence {

const char* error_code_name(ErrorCode c) {
  switch (c) {
    case ErrorCode::InvalidArgument:
      return "invalid argument";
    case ErrorCode::OutOfRange:
      return "out of range";
    case ErrorCode::BudgetExceeded:
      return "residency budget exceeded";
    case ErrorCode::KernelFault:
      return "kernel fault";
    case ErrorCode::FencePoisoned:
      return "fence poisoned";
    case ErrorCode::Timeout:
      return "timeout";
    case ErrorCode::DeviceLost:
      return "device lost";
    case ErrorCode::Unsupported:
      return "unsupported";
    case ErrorCode::Format:
      return "malformed input";
    case ErrorCode::Io:
      return "i/o error";
    case ErrorCode::State:
      return "invalid state";
    case ErrorCode::Internal:
      return "internal error";
  }
  return "error";
}

void raise(ErrorCode code, const std::string& message) {
  throw Error(code, message);
}

}  // namespace stagefence
