#include "core/host_spin.hpp"

#include <string>

#include "stagefence/env.hpp"
#include "stagefence/error.hpp"

namespace stagefence {

namespace {
constexpr long kMaxSpinUs = 10000;  // longer spins burn a core for no gain over a sleep

std::chrono::nanoseconds read_spin_window() {
  const std::string v = env::read_string("STAGEFENCE_WAIT_SPIN_US", "");
  if (v.empty()) return std::chrono::microseconds(50);
  long us = 0;
  bool ok = v.size() <= 6;
  for (char c : v) {
    if (c < '0' || c > '9') ok = false;
    if (ok) us = us * 10 + (c - '0');
  }
  if (!ok || us > kMaxSpinUs)
    raise(ErrorCode::InvalidArgument, "STAGEFENCE_WAIT_SPIN_US='" + v +
                                          "': expected a whole number of microseconds from 0 to " +
                                          std::to_string(kMaxSpinUs));
  return std::chrono::microseconds(us);
}
}  // namespace

std::chrono::nanoseconds host_spin_window() {
  static const std::chrono::nanoseconds window = read_spin_window();
  return window;
}

}  // namespace stagefence
