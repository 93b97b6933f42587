#include "core/host_spin.hpp"

#include <string>

#include "stagefence/env.hpp"
#include "stagefence/error.hpp"

namespace stagefence {

namespace {
constexpr int kMaxSpinUs = 10000;  // longer spins burn a core for no gain over a sleep

std::chrono::nanoseconds read_spin_window() {
  return std::chrono::microseconds(
      env::read_int("STAGEFENCE_WAIT_SPIN_US", 50, 0, kMaxSpinUs, "microseconds"));
}
}  // namespace

std::chrono::nanoseconds host_spin_window() {
  static const std::chrono::nanoseconds window = read_spin_window();
  return window;
}

}  // namespace stagefence
