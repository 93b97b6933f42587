#include "model/gguf/mapped_copy.hpp"

#include <setjmp.h>
#include <signal.h>

#include <atomic>
#include <cstdint>
#include <cstring>
#include <mutex>
#include <new>
#include <stdexcept>

#include "stagefence/error.hpp"

namespace stagefence::gguf {
namespace {

// The jump buffer of this thread's copy in progress; null outside copy_out. Volatile: the
// handler reads it, so the stores around the copy must not be merged or dropped.
thread_local sigjmp_buf* volatile t_jump = nullptr;
thread_local const void* volatile t_fault = nullptr;

// The SIGBUS handler is shared by every thread copying: the first installs it (keeping the
// previous one), the last restores the previous one.
std::mutex g_handler_mu;
int g_copies = 0;
struct sigaction g_previous;

void on_sigbus(int sig, siginfo_t* info, void* context) {
  if (sigjmp_buf* jump = t_jump) {
    t_fault = info->si_addr;
    siglongjmp(*jump, 1);
  }
  // Not a guarded copy: what would have happened without us.
  if (g_previous.sa_flags & SA_SIGINFO) {
    if (g_previous.sa_sigaction) g_previous.sa_sigaction(sig, info, context);
  } else if (g_previous.sa_handler == SIG_DFL || g_previous.sa_handler == SIG_IGN) {
    signal(SIGBUS, SIG_DFL);  // the faulting access repeats and ends the process as it would
  } else {
    g_previous.sa_handler(sig);
  }
}

class SigbusGuard {
 public:
  SigbusGuard() {
    std::lock_guard<std::mutex> lock(g_handler_mu);
    if (g_copies++ > 0) return;
    struct sigaction ours {};
    ours.sa_sigaction = on_sigbus;
    ours.sa_flags = SA_SIGINFO | SA_NODEFER;
    sigemptyset(&ours.sa_mask);
    sigaction(SIGBUS, &ours, &g_previous);
  }
  ~SigbusGuard() {
    std::lock_guard<std::mutex> lock(g_handler_mu);
    if (--g_copies == 0) sigaction(SIGBUS, &g_previous, nullptr);
  }
  SigbusGuard(const SigbusGuard&) = delete;
  SigbusGuard& operator=(const SigbusGuard&) = delete;
};

// memcpy under the jump buffer; false when a SIGBUS cut it short. Nothing with a destructor
// lives between sigsetjmp and the copy, so the jump back skips nothing.
bool guarded_memcpy(void* dst, const void* src, size_t n) {
  sigjmp_buf jump;
  if (sigsetjmp(jump, 1) != 0) {
    t_jump = nullptr;
    return false;
  }
  t_jump = &jump;
  std::atomic_signal_fence(std::memory_order_seq_cst);
  std::memcpy(dst, src, n);
  std::atomic_signal_fence(std::memory_order_seq_cst);
  t_jump = nullptr;
  return true;
}

}  // namespace

void copy_out(const GgufFile& file, const std::byte* src, size_t n, void* dst) {
  const std::span<const std::byte> all = file.bytes();
  if (n == 0) return;
  if (src < all.data() || size_t(src - all.data()) > all.size() ||
      n > all.size() - size_t(src - all.data()))
    raise(ErrorCode::OutOfRange, file.source() + ": a copy of " + std::to_string(n) +
                                     " bytes lies outside the file's " +
                                     std::to_string(all.size()) + " bytes");
  if (!file.mapped()) {
    std::memcpy(dst, src, n);
    return;
  }
  const SigbusGuard guard;
  if (guarded_memcpy(dst, src, n)) return;
  const auto* fault = static_cast<const std::byte*>(t_fault);
  const bool inside = fault >= all.data() && fault < all.data() + all.size();
  raise(ErrorCode::Io,
        file.source() + ": reading the mapped file failed (SIGBUS)" +
            (inside ? " at byte " + std::to_string(fault - all.data()) : std::string()) + " of " +
            std::to_string(all.size()) +
            ": it was truncated or its storage failed while it was being loaded");
}

std::vector<uint8_t> host_bytes(uint64_t n, const std::string& what) {
  try {
    return std::vector<uint8_t>(size_t(n));
  } catch (const std::bad_alloc&) {
  } catch (const std::length_error&) {
  }
  raise(ErrorCode::OutOfRange, "allocating " + std::to_string(n) + " bytes of host memory for " +
                                   what + " failed: not enough memory");
}

std::vector<uint8_t> read_tensor(const GgufFile& file, const TensorView& t) {
  std::vector<uint8_t> out = host_bytes(t.n_bytes, "tensor " + t.name);
  copy_out(file, t.data, size_t(t.n_bytes), out.data());
  return out;
}

}  // namespace stagefence::gguf
