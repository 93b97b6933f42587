#include "stagefence/env.hpp"

#include <algorithm>
#include <cstdlib>
#include <thread>

namespace stagefence::env {

namespace {
struct FlagDoc {
  const char* name;
  const char* def;
  const char* meaning;
};
constexpr FlagDoc kFlags[] = {
    {"STAGEFENCE_BACKEND", "auto", "auto | cpu | cuda: which backend Device::open picks"},
    {"STAGEFENCE_ENCODER_SESSION", "1",
     "0 makes Device::encoder_session() return nothing (read once)"},
    {"STAGEFENCE_FORCE_SERIAL", "0",
     "1 orders every dispatch after the previous one (re-read per buffer)"},
    {"STAGEFENCE_AUTO_BARRIER", "1",
     "0 turns hazard tracking off; only explicit barriers order work"},
    {"STAGEFENCE_UNRETAINED_REFS", "0",
     "1 skips retaining bound allocations; the caller owns lifetimes"},
    {"STAGEFENCE_NO_RESIDENCY", "0", "1 disables the residency set (add/remove return false)"},
    {"STAGEFENCE_CUDA_GRAPHS", "1", "0 runs CUDA command buffers as eager stream launches"},
    {"STAGEFENCE_FENCE_KIND", "auto", "auto | memop | event: how CUDA fences are encoded"},
    {"STAGEFENCE_TIMESTAMPS", "0", "1 records GPU time per command buffer"},
    {"STAGEFENCE_PROFILE_DISPATCHES", "0", "1 records GPU time per dispatch (serialises work)"},
    {"STAGEFENCE_CPU_WORKERS", "hardware threads (min 2)", "worker threads of the CPU backend"},
    {"STAGEFENCE_NCCL_LIBRARY", "libnccl.so.2", "the NCCL library CUDA communicators load"},
    {"STAGEFENCE_WAIT_TIMEOUT_MS", "60000",
     "deadline of host waits that name none; past it a running buffer makes the device unusable"},
    {"STAGEFENCE_WAIT_SPIN_US", "50", "how long a host wait spins before it sleeps (0 disables)"},
};
}  // namespace

bool read_bool(const char* name, bool def) {
  const char* v = std::getenv(name);
  if (!v) return def;
  std::string s(v);
  std::transform(s.begin(), s.end(), s.begin(), [](unsigned char c) { return std::tolower(c); });
  if (s == "1" || s == "true" || s == "on" || s == "yes") return true;
  if (s == "0" || s == "false" || s == "off" || s == "no") return false;
  return def;
}

std::string read_string(const char* name, const std::string& def) {
  const char* v = std::getenv(name);
  return (v && *v) ? std::string(v) : def;
}

bool encoder_session_enabled() {
  static const bool enabled = read_bool("STAGEFENCE_ENCODER_SESSION", true);
  return enabled;
}
bool force_serial() {
  return read_bool("STAGEFENCE_FORCE_SERIAL", false);
}
bool hazard_tracking() {
  return read_bool("STAGEFENCE_AUTO_BARRIER", true);
}
bool unretained_refs() {
  return read_bool("STAGEFENCE_UNRETAINED_REFS", false);
}
bool no_residency() {
  return read_bool("STAGEFENCE_NO_RESIDENCY", false);
}
std::string backend() {
  return read_string("STAGEFENCE_BACKEND", "auto");
}
bool cuda_graphs() {
  return read_bool("STAGEFENCE_CUDA_GRAPHS", true);
}
std::string fence_kind() {
  return read_string("STAGEFENCE_FENCE_KIND", "auto");
}
bool timestamps() {
  return read_bool("STAGEFENCE_TIMESTAMPS", false);
}
bool profile_dispatches() {
  return read_bool("STAGEFENCE_PROFILE_DISPATCHES", false);
}

int cpu_workers() {
  int hw = static_cast<int>(std::thread::hardware_concurrency());
  int def = std::max(2, hw);
  const char* v = std::getenv("STAGEFENCE_CPU_WORKERS");
  if (!v) return def;
  int n = std::atoi(v);
  return n >= 1 ? std::min(n, 256) : def;
}

std::vector<FlagInfo> all_flags() {
  std::vector<FlagInfo> out;
  for (const auto& f : kFlags) {
    const char* v = std::getenv(f.name);
    out.push_back({f.name, f.def, v ? v : "(unset)", f.meaning});
  }
  return out;
}

std::string nccl_library() {
  return read_string("STAGEFENCE_NCCL_LIBRARY", "libnccl.so.2");
}

}  // namespace stagefence::env
