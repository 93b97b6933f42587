// SIGINT and SIGTERM as requests to stop: while an InterruptGuard lives, each signal is counted
// instead of killing the process, so a generation can stop at its next token and still write
// its trace and figures. Reads are interrupted too (no SA_RESTART), so a prompt wakes up.
#pragma once

namespace stagefence::cli {

class InterruptGuard {
 public:
  InterruptGuard();   // installs the handlers
  ~InterruptGuard();  // restores the previous ones
  InterruptGuard(const InterruptGuard&) = delete;
  InterruptGuard& operator=(const InterruptGuard&) = delete;

  // Signals received since the guard was made.
  static int count();
  // The last one (SIGINT or SIGTERM), 0 if none.
  static int last_signal();
  // The conventional exit status after a signal: 128 + its number.
  static int exit_status();
};

}  // namespace stagefence::cli
