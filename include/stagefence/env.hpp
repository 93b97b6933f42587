// Every environment flag stagefence reads, in one place, with its default and its meaning.
#pragma once
#include <string>
#include <vector>

namespace stagefence::env {

struct FlagInfo {
  std::string name;
  std::string default_value;
  std::string current;  // the raw value now in the environment, or "(unset)"
  std::string meaning;
};

// STAGEFENCE_ENCODER_SESSION (default 1): read once per process; 0 makes
// Device::encoder_session() return nothing.
bool encoder_session_enabled();
// STAGEFENCE_FORCE_SERIAL (default 0): re-read each time a command buffer opens.
bool force_serial();
// STAGEFENCE_AUTO_BARRIER (default 1): hazard tracking; 0 leaves ordering to explicit barriers.
bool hazard_tracking();
// STAGEFENCE_UNRETAINED_REFS (default 0): read when a device opens.
bool unretained_refs();
// STAGEFENCE_NO_RESIDENCY (default 0): read when a device opens.
bool no_residency();
// STAGEFENCE_BACKEND (default auto): auto | cpu | cuda.
std::string backend();
// STAGEFENCE_CUDA_GRAPHS (default 1): 0 runs command buffers as eager stream launches.
bool cuda_graphs();
// STAGEFENCE_FENCE_KIND (default auto): auto | memop | event.
std::string fence_kind();
// STAGEFENCE_TIMESTAMPS (default 0): per-command-buffer GPU times.
bool timestamps();
// STAGEFENCE_PROFILE_DISPATCHES (default 0): per-dispatch GPU times (serialises CUDA work).
bool profile_dispatches();
// STAGEFENCE_CPU_WORKERS (default: hardware threads, at least 2; 1 to 256).
int cpu_workers();
// STAGEFENCE_NCCL_LIBRARY (default libnccl.so.2): the NCCL library CUDA communicators load.
std::string nccl_library();
// STAGEFENCE_PDL (default 1): 0 builds every CUDA graph edge as a full dependency.
bool programmatic_launch();
// STAGEFENCE_ACTIVATIONS (default q8): q8 | f32, the activations of block-quantised decode
// products; true for q8.
bool quantised_activations();
// STAGEFENCE_CHECK_FINITE (default 0): 1 checks every stage's output for NaN and Inf on the
// device (the logits are always checked); read when a forward pass is set up.
bool check_finite();

// Reads every flag above but STAGEFENCE_BACKEND (checked when a backend is chosen, so an explicit
// backend still opens) once: throws InvalidArgument naming the first flag with a value that is
// not allowed. Device::open calls it, so a bad flag fails before any work.
void check_all();

std::vector<FlagInfo> all_flags();

// Shared parsing. Unset or empty gives def. Booleans: "1"/"true"/"on"/"yes" are true,
// "0"/"false"/"off"/"no" false (any case); anything else, or an integer that is not a whole
// number in [min, max], throws InvalidArgument naming the variable, its value and what is allowed.
bool read_bool(const char* name, bool def);
// `unit` ("milliseconds") names what the number counts in the error message.
int read_int(const char* name, int def, int min, int max, const char* unit = nullptr);
std::string read_string(const char* name, const std::string& def);

}  // namespace stagefence::env
