#include "doctor.hpp"

#include <algorithm>
#include <cstdint>
#include <cstdio>
#include <iomanip>
#include <iostream>
#include <optional>
#include <sstream>
#include <string>
#include <thread>
#include <vector>

#include "stagefence/device.hpp"
#include "stagefence/env.hpp"
#include "stagefence/error.hpp"
#include "stagefence/report.hpp"

namespace sf = stagefence;

namespace {

// What the doctor found; gathered once, then printed as text or JSON.
struct Findings {
  std::optional<sf::DeviceInfo> chosen;  // the device Device::open() gives by default
  std::string open_error;                // why the default device could not open
  std::optional<sf::DeviceInfo> gpu;     // a usable GPU, chosen or not
  std::string gpu_status;                // "in use", "present, not used", "none"
  std::string gpu_note;                  // why there is no GPU, or why it is not used
  std::optional<sf::DeviceInfo> cpu;     // the CPU backend as it would run here
  std::string cpu_error;
  unsigned hardware_threads = 0;
  std::vector<sf::env::FlagInfo> flags;
};

Findings examine() {
  Findings f;
  try {
    f.chosen = sf::Device::open().info();
  } catch (const std::exception& e) {
    f.open_error = e.what();
  }
  if (f.chosen && f.chosen->backend == sf::BackendKind::Cuda) {
    f.gpu = f.chosen;
    f.gpu_status = "in use";
  } else {
#ifdef STAGEFENCE_WITH_CUDA
    try {
      f.gpu = sf::Device::open({sf::BackendKind::Cuda}).info();
      f.gpu_status = "present, not used";
      f.gpu_note = f.chosen ? "the CPU backend was chosen: " + f.chosen->backend_reason
                            : "the default device did not open";
    } catch (const std::exception& e) {
      f.gpu_status = "none";
      f.gpu_note = std::string("no usable CUDA GPU: ") + e.what();
    }
#else
    f.gpu_status = "none";
    f.gpu_note = "this build of stagefence has no CUDA backend";
#endif
  }
  if (f.chosen && f.chosen->backend == sf::BackendKind::Cpu) {
    f.cpu = f.chosen;
  } else {
    try {
      f.cpu = sf::Device::open({sf::BackendKind::Cpu}).info();
    } catch (const std::exception& e) {
      f.cpu_error = e.what();
    }
  }
  f.hardware_threads = std::thread::hardware_concurrency();
  f.flags = sf::env::all_flags();
  return f;
}

const char* on_off(bool on) {
  return on ? "on" : "off";
}
const char* yes_no(bool yes) {
  return yes ? "yes" : "no";
}

// CUDA encodes versions as 1000 * major + 10 * minor.
std::string cuda_version(int v) {
  return std::to_string(v / 1000) + "." + std::to_string((v % 1000) / 10);
}

std::string gib(uint64_t bytes) {
  char buf[32];
  std::snprintf(buf, sizeof buf, "%.1f GiB", static_cast<double>(bytes) / (1ull << 30));
  return buf;
}

std::string mib(uint64_t bytes) {
  char buf[32];
  std::snprintf(buf, sizeof buf, "%.1f MiB", static_cast<double>(bytes) / (1ull << 20));
  return buf;
}

void line(std::ostream& out, const std::string& key, const std::string& value) {
  out << "  " << std::left << std::setw(24) << key << value << '\n';
}

void print_text(const Findings& f, std::ostream& out) {
  out << "stagefence doctor\n\nBackend\n";
  if (f.chosen) {
    line(out, "chosen", sf::backend_name(f.chosen->backend));
    line(out, "why", f.chosen->backend_reason);
    line(out, "fence kind in use", f.chosen->fence_kind);
    line(out, "CUDA graphs",
         f.chosen->backend == sf::BackendKind::Cuda ? on_off(f.chosen->graphs)
                                                    : "off (CPU backend)");
  } else {
    line(out, "chosen", "none: the default device did not open");
    line(out, "error", f.open_error);
  }

  out << "\nGPU\n";
  line(out, "status", f.gpu_status);
  if (!f.gpu_note.empty()) line(out, "note", f.gpu_note);
  if (f.gpu) {
    const sf::DeviceInfo& g = *f.gpu;
    line(out, "name", g.name);
    line(out, "compute capability",
         std::to_string(g.compute_major) + "." + std::to_string(g.compute_minor));
    line(out, "memory", gib(g.memory_bytes));
    line(out, "multiprocessors", std::to_string(g.multiprocessors));
    line(out, "L2 cache", mib(g.l2_bytes));
    line(out, "driver version", cuda_version(g.driver_version));
    line(out, "runtime version", cuda_version(g.runtime_version));
    line(out, "stream memory ops", yes_no(g.stream_memops));
    line(out, "fence kind", g.fence_kind);
    line(out, "CUDA graphs", on_off(g.graphs));
  }

  out << "\nCPU\n";
  if (f.cpu) {
    line(out, "name", f.cpu->name);
    line(out, "workers", std::to_string(f.cpu->cpu_workers));
    line(out, "fence kind", f.cpu->fence_kind);
  } else {
    line(out, "error", f.cpu_error);
  }
  line(out, "hardware threads", std::to_string(f.hardware_threads));

  out << "\nRuntime settings\n";
  line(out, "encoder sessions", on_off(sf::env::encoder_session_enabled()));
  line(out, "hazard tracking", on_off(sf::env::hazard_tracking()));
  line(out, "force serial", on_off(sf::env::force_serial()));
  line(out, "retained references", on_off(!sf::env::unretained_refs()));
  line(out, "residency set", on_off(!sf::env::no_residency()));
  line(out, "timestamps", on_off(sf::env::timestamps()));
  line(out, "per-dispatch profiling", on_off(sf::env::profile_dispatches()));

  out << "\nEnvironment flags (name, default, current, meaning)\n";
  size_t width = 0;
  for (const auto& flag : f.flags) width = std::max(width, flag.name.size());
  for (const auto& flag : f.flags) {
    out << "  " << std::left << std::setw(static_cast<int>(width) + 2) << flag.name << "default "
        << std::setw(26) << flag.default_value << "current " << std::setw(10) << flag.current
        << flag.meaning << '\n';
  }
}

void print_json(const Findings& f, std::ostream& out) {
  out << "{\"schema\":\"stagefence.doctor/1\",\"device\":"
      << (f.chosen ? sf::device_json(*f.chosen) : "null")
      << ",\"device_error\":" << (f.chosen ? "null" : sf::json_quote(f.open_error))
      << ",\"gpu\":{\"status\":" << sf::json_quote(f.gpu_status)
      << ",\"note\":" << sf::json_quote(f.gpu_note)
      << ",\"device\":" << (f.gpu ? sf::device_json(*f.gpu) : "null");
  if (f.gpu) {
    out << ",\"multiprocessors\":" << f.gpu->multiprocessors << ",\"l2_bytes\":" << f.gpu->l2_bytes;
  }
  out << "},\"cpu\":{\"device\":" << (f.cpu ? sf::device_json(*f.cpu) : "null")
      << ",\"error\":" << (f.cpu ? "null" : sf::json_quote(f.cpu_error))
      << ",\"hardware_threads\":" << f.hardware_threads << '}';
  out << ",\"settings\":{\"encoder_sessions\":"
      << (sf::env::encoder_session_enabled() ? "true" : "false")
      << ",\"hazard_tracking\":" << (sf::env::hazard_tracking() ? "true" : "false")
      << ",\"force_serial\":" << (sf::env::force_serial() ? "true" : "false")
      << ",\"retained_refs\":" << (!sf::env::unretained_refs() ? "true" : "false")
      << ",\"residency\":" << (!sf::env::no_residency() ? "true" : "false")
      << ",\"timestamps\":" << (sf::env::timestamps() ? "true" : "false")
      << ",\"profile_dispatches\":" << (sf::env::profile_dispatches() ? "true" : "false") << '}';
  out << ",\"flags\":[";
  const char* sep = "";
  for (const auto& flag : f.flags) {
    out << sep << "{\"name\":" << sf::json_quote(flag.name)
        << ",\"default\":" << sf::json_quote(flag.default_value)
        << ",\"current\":" << sf::json_quote(flag.current)
        << ",\"set\":" << (flag.current != "(unset)" ? "true" : "false")
        << ",\"meaning\":" << sf::json_quote(flag.meaning) << '}';
    sep = ",";
  }
  out << "]}\n";
}

void usage(std::ostream& out) {
  out << "usage: stagefence doctor [--json]\n"
         "  Reports the backend this machine gets and why, the GPU and CPU it would use, and\n"
         "  every STAGEFENCE_* environment flag with its default and current value.\n"
         "  --json   print the same as one JSON object\n";
}

}  // namespace

int run_doctor(int argc, char** argv, std::ostream& out, std::ostream& err) {
  bool json = false;
  for (int i = 1; i < argc; ++i) {
    const std::string arg = argv[i];
    if (arg == "--json") {
      json = true;
    } else if (arg == "--help" || arg == "-h") {
      usage(out);
      return 0;
    } else {
      err << "stagefence doctor: unknown option '" << arg << "'\n";
      usage(err);
      return 2;
    }
  }
  const Findings f = examine();
  if (json)
    print_json(f, out);
  else
    print_text(f, out);
  return f.chosen ? 0 : 1;
}

int run_doctor(int argc, char** argv) {
  const int status = run_doctor(argc, argv, std::cout, std::cerr);
  if (!std::cout.flush()) {
    std::cerr << "stagefence doctor: writing the report to standard output failed\n";
    return 1;
  }
  return status;
}
