#include "stagefence/report.hpp"

#include <time.h>

#include <cmath>
#include <cstdint>
#include <cstdio>
#include <sstream>

namespace stagefence {

std::string json_quote(std::string_view s) {
  std::string out;
  out.reserve(s.size() + 2);
  out += '"';
  for (const char ch : s) {
    const auto c = static_cast<unsigned char>(ch);
    switch (c) {
      case '"':
        out += "\\\"";
        break;
      case '\\':
        out += "\\\\";
        break;
      case '\n':
        out += "\\n";
        break;
      case '\r':
        out += "\\r";
        break;
      case '\t':
        out += "\\t";
        break;
      default:
        if (c < 0x20) {
          char buf[8];
          std::snprintf(buf, sizeof buf, "\\u%04x", c);
          out += buf;
        } else {
          out += ch;
        }
    }
  }
  out += '"';
  return out;
}

std::string json_number(double v) {
  if (!std::isfinite(v)) return "null";
  char buf[40];
  std::snprintf(buf, sizeof buf, "%.6g", v);
  return buf;
}

double thread_cpu_ms() {
  timespec ts{};
  clock_gettime(CLOCK_THREAD_CPUTIME_ID, &ts);
  return static_cast<double>(ts.tv_sec) * 1e3 + static_cast<double>(ts.tv_nsec) * 1e-6;
}

RunMeter::RunMeter() {
  restart();
}

void RunMeter::restart() {
  counters_start_ = counters::snapshot();
  cpu_start_ms_ = thread_cpu_ms();
  wall_start_ = std::chrono::steady_clock::now();
}

RunFigures RunMeter::finish(std::string command, std::string mode, uint64_t tokens) const {
  RunFigures r;
  r.wall_ms =
      std::chrono::duration<double, std::milli>(std::chrono::steady_clock::now() - wall_start_)
          .count();
  r.host_cpu_ms = thread_cpu_ms() - cpu_start_ms_;
  r.counters = counters::snapshot() - counters_start_;
  r.command = std::move(command);
  r.mode = std::move(mode);
  r.tokens = tokens;
  return r;
}

std::string device_json(const DeviceInfo& d) {
  std::ostringstream os;
  const bool gpu = d.backend == BackendKind::Cuda;
  os << "{\"backend\":" << json_quote(backend_name(d.backend)) << ",\"name\":" << json_quote(d.name)
     << ",\"backend_reason\":" << json_quote(d.backend_reason) << ",\"compute_capability\":"
     << (gpu ? json_quote(std::to_string(d.compute_major) + "." + std::to_string(d.compute_minor))
             : "null")
     << ",\"memory_bytes\":" << (gpu ? std::to_string(d.memory_bytes) : "null")
     << ",\"driver_version\":" << (gpu ? std::to_string(d.driver_version) : "null")
     << ",\"runtime_version\":" << (gpu ? std::to_string(d.runtime_version) : "null")
     << ",\"stream_memops\":" << (d.stream_memops ? "true" : "false")
     << ",\"fence_kind\":" << json_quote(d.fence_kind)
     << ",\"graphs\":" << (d.graphs ? "true" : "false") << ",\"cpu_workers\":" << d.cpu_workers
     << '}';
  return os.str();
}

namespace {

// The fields every run object carries, without the enclosing braces.
std::string run_fields(const RunFigures& r) {
  const CounterSnapshot& c = r.counters;
  const uint64_t barriers = c.barriers_explicit + c.barriers_auto;
  std::ostringstream os;
  os << "\"command\":" << json_quote(r.command) << ",\"mode\":" << json_quote(r.mode)
     << ",\"model\":" << (r.model.empty() ? "null" : json_quote(r.model))
     << ",\"tokens\":" << r.tokens;
  os << ",\"total\":{\"wall_ms\":" << json_number(r.wall_ms)
     << ",\"host_cpu_ms\":" << json_number(r.host_cpu_ms) << ",\"syncs\":" << c.syncs
     << ",\"command_buffers\":" << c.command_buffers << ",\"commits\":" << c.commits
     << ",\"dispatches\":" << c.dispatches << ",\"barriers\":" << barriers
     << ",\"fences_signalled\":" << c.fences_signalled << ",\"waits_encoded\":" << c.waits_encoded
     << '}';
  os << ",\"per_token\":";
  if (r.tokens == 0) {
    os << "null";
  } else {
    const double n = static_cast<double>(r.tokens);
    const auto per = [n](uint64_t v) { return json_number(static_cast<double>(v) / n); };
    os << "{\"ms\":" << json_number(r.wall_ms / n)
       << ",\"host_cpu_us\":" << json_number(r.host_cpu_ms * 1e3 / n)
       << ",\"syncs\":" << per(c.syncs) << ",\"command_buffers\":" << per(c.command_buffers)
       << ",\"commits\":" << per(c.commits) << ",\"dispatches\":" << per(c.dispatches)
       << ",\"barriers\":" << per(barriers) << ",\"fences\":" << per(c.fences_signalled)
       << ",\"waits\":" << per(c.waits_encoded) << '}';
  }
  os << ",\"figures\":{";
  const char* sep = "";
  for (const auto& [name, value] : r.figures) {
    os << sep << json_quote(name) << ':' << json_number(value);
    sep = ",";
  }
  os << "},\"counters\":" << c.to_json();
  return os.str();
}

}  // namespace

std::string run_json(const RunFigures& run, const DeviceInfo& device) {
  return "{\"schema\":\"stagefence.run/1\",\"device\":" + device_json(device) + "," +
         run_fields(run) + "}";
}

std::string bench_json(std::string_view benchmark, const std::vector<RunFigures>& runs,
                       const DeviceInfo& device) {
  std::string out = "{\"schema\":\"stagefence.bench/1\",\"benchmark\":" + json_quote(benchmark) +
                    ",\"device\":" + device_json(device) + ",\"runs\":[";
  const char* sep = "";
  for (const RunFigures& r : runs) {
    out += sep;
    out += "{" + run_fields(r) + "}";
    sep = ",";
  }
  return out + "]}";
}

}  // namespace stagefence
