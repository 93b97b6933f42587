// Bounded spinning before a blocking wait: a waiter that polls for a short window sees a fast
// completion at once instead of paying a thread wake-up, and a slow one still sleeps.
#pragma once
#include <chrono>

namespace stagefence {

// The window (STAGEFENCE_WAIT_SPIN_US, default 50 us, 0 disables; read once per process).
std::chrono::nanoseconds host_spin_window();

inline void cpu_relax() {
#if defined(__x86_64__) || defined(__i386__)
  __builtin_ia32_pause();
#elif defined(__aarch64__)
  asm volatile("yield");
#endif
}

// Polls `ready` until it returns true (true) or `window` passes (false).
template <class Ready>
bool spin_for(Ready&& ready, std::chrono::nanoseconds window) {
  if (window.count() <= 0) return ready();
  const auto end = std::chrono::steady_clock::now() + window;
  for (unsigned i = 0;; ++i) {
    if (ready()) return true;
    cpu_relax();
    // The clock is read every 16 polls: it costs more than a poll.
    if ((i & 15) == 15 && std::chrono::steady_clock::now() >= end) return ready();
  }
}

}  // namespace stagefence
