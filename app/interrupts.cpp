#include "interrupts.hpp"

#include <signal.h>

#include <atomic>

namespace stagefence::cli {
namespace {

std::atomic<int> g_count{0};
std::atomic<int> g_last{0};
struct sigaction g_old_int, g_old_term;

void on_signal(int sig) {
  g_last.store(sig, std::memory_order_relaxed);
  g_count.fetch_add(1, std::memory_order_relaxed);
}

}  // namespace

InterruptGuard::InterruptGuard() {
  g_count.store(0);
  g_last.store(0);
  struct sigaction sa {};
  sa.sa_handler = on_signal;
  sigemptyset(&sa.sa_mask);
  sa.sa_flags = 0;  // no SA_RESTART: a blocking read returns EINTR
  sigaction(SIGINT, &sa, &g_old_int);
  sigaction(SIGTERM, &sa, &g_old_term);
}

InterruptGuard::~InterruptGuard() {
  sigaction(SIGINT, &g_old_int, nullptr);
  sigaction(SIGTERM, &g_old_term, nullptr);
}

int InterruptGuard::count() {
  return g_count.load(std::memory_order_relaxed);
}

int InterruptGuard::last_signal() {
  return g_last.load(std::memory_order_relaxed);
}

int InterruptGuard::exit_status() {
  const int sig = last_signal();
  return sig ? 128 + sig : 0;
}

}  // namespace stagefence::cli
