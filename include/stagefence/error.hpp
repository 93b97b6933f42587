// Typed errors. stagefence reports failures by throwing stagefence::Error.
#pragma once
#include <stdexcept>
#include <string>

namespace stagefence {

enum class ErrorCode {
  InvalidArgument,  // a caller passed something malformed (zero-byte alloc, bad range, ...)
  OutOfRange,       // an index, offset or range lies outside its object
  BudgetExceeded,   // the residency budget would be exceeded; nothing was submitted
  KernelFault,      // a kernel failed while a command buffer executed
  FencePoisoned,    // a fence's producer failed; its waiters fail with the producer's error
  Timeout,          // a host wait ran out of time
  DeviceLost,       // the device hit an unrecoverable error and must be reopened
  Unsupported,      // the backend or build cannot do this
  Format,           // a file (GGUF, capture text) is malformed
  Io,               // the operating system refused a file operation
  State,            // the call is not valid in the object's current state
  Internal,         // a stagefence bug
};

const char* error_code_name(ErrorCode c);

class Error : public std::runtime_error {
 public:
  Error(ErrorCode code, const std::string& message)
      : std::runtime_error(std::string(error_code_name(code)) + ": " + message), code_(code) {}
  ErrorCode code() const noexcept { return code_; }

 private:
  ErrorCode code_;
};

[[noreturn]] void raise(ErrorCode code, const std::string& message);

}  // namespace stagefence
