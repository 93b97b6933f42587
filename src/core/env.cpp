#include "stagefence/env.hpp"

#include <algorithm>
#include <charconv>
#include <cstdlib>
#include <initializer_list>
#include <thread>

#include "stagefence/backend_kind.hpp"
#include "stagefence/error.hpp"

namespace stagefence::env {

namespace {
struct FlagDoc {
  const char* name;
  const char* def;
  const char* meaning;
};
constexpr FlagDoc kFlags[] = {
    {"STAGEFENCE_BACKEND", "auto",
     "auto or a backend's name (cpu, cuda): which backend Device::open picks"},
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
    {"STAGEFENCE_CPU_SIMD", "auto",
     "auto | avx3 | avx2 | sse4 | emu128 | scalar: the CPU kernels' instruction set"},
    {"STAGEFENCE_WAIT_SPIN_US", "50", "how long a host wait spins before it sleeps (0 disables)"},
    {"STAGEFENCE_PDL", "1", "0 builds every CUDA graph edge as a full dependency (no PDL)"},
    {"STAGEFENCE_CHECK_FINITE", "0",
     "1 checks every stage's output for NaN/Inf (the logits are always checked)"},
    {"STAGEFENCE_ACTIVATIONS", "q8", "q8 | f32: activations of block-quantised decode products"},
};

constexpr int kMaxCpuWorkers = 256;

[[noreturn]] void bad_value(const char* name, const std::string& value,
                            const std::string& allowed) {
  raise(ErrorCode::InvalidArgument,
        std::string(name) + " = '" + value + "' is not valid: expected " + allowed);
}

// The value of `name` if it is one of `allowed`; unset or empty gives def.
std::string read_choice(const char* name, const std::string& def,
                        std::initializer_list<const char*> allowed) {
  const std::string v = read_string(name, def);
  std::string list;
  for (const char* a : allowed) {
    if (v == a) return v;
    list += list.empty() ? a : std::string(", ") + a;
  }
  bad_value(name, v, "one of " + list);
}
}  // namespace

bool read_bool(const char* name, bool def) {
  const char* v = std::getenv(name);
  if (!v || !*v) return def;
  std::string s(v);
  std::transform(s.begin(), s.end(), s.begin(), [](unsigned char c) { return std::tolower(c); });
  if (s == "1" || s == "true" || s == "on" || s == "yes") return true;
  if (s == "0" || s == "false" || s == "off" || s == "no") return false;
  bad_value(name, v, "1, true, on or yes (on), or 0, false, off or no (off)");
}

int read_int(const char* name, int def, int min, int max, const char* unit) {
  const char* v = std::getenv(name);
  if (!v || !*v) return def;
  const std::string s(v);
  int n = 0;
  const auto [end, ec] = std::from_chars(s.data(), s.data() + s.size(), n);
  if (ec != std::errc() || end != s.data() + s.size() || n < min || n > max)
    bad_value(name, s,
              std::string("a whole number ") + (unit ? std::string("of ") + unit + " " : "") +
                  "from " + std::to_string(min) + " to " + std::to_string(max));
  return n;
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
  // Any registered backend's name (the registry's parser names the variable and the choices).
  const std::string b = read_string("STAGEFENCE_BACKEND", "auto");
  (void)parse_backend(b, "STAGEFENCE_BACKEND");
  return b;
}
bool cuda_graphs() {
  return read_bool("STAGEFENCE_CUDA_GRAPHS", true);
}
std::string fence_kind() {
  return read_choice("STAGEFENCE_FENCE_KIND", "auto", {"auto", "memop", "event"});
}
bool timestamps() {
  return read_bool("STAGEFENCE_TIMESTAMPS", false);
}
bool profile_dispatches() {
  return read_bool("STAGEFENCE_PROFILE_DISPATCHES", false);
}

int cpu_workers() {
  const int hw = static_cast<int>(std::thread::hardware_concurrency());
  return read_int("STAGEFENCE_CPU_WORKERS", std::clamp(hw, 2, kMaxCpuWorkers), 1, kMaxCpuWorkers);
}

bool programmatic_launch() {
  return read_bool("STAGEFENCE_PDL", true);
}

bool check_finite() {
  return read_bool("STAGEFENCE_CHECK_FINITE", false);
}

bool quantised_activations() {
  return read_choice("STAGEFENCE_ACTIVATIONS", "q8", {"q8", "f32"}) == "q8";
}

void check_all() {
  (void)encoder_session_enabled();
  (void)force_serial();
  (void)hazard_tracking();
  (void)unretained_refs();
  (void)no_residency();
  (void)cuda_graphs();
  (void)fence_kind();
  (void)timestamps();
  (void)profile_dispatches();
  (void)cpu_workers();
  (void)programmatic_launch();
  (void)quantised_activations();
  (void)check_finite();
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
