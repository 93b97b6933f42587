// Machine-readable run reports: the `--json` output of `stagefence generate` and of the
// benchmarks, as documented in docs/json-schema.md.
#pragma once
#include <chrono>
#include <cstdint>
#include <string>
#include <string_view>
#include <utility>
#include <vector>

#include "stagefence/counters.hpp"
#include "stagefence/device.hpp"

namespace stagefence {

// `s` as a JSON string literal: quoted, with quotes, backslashes and control characters escaped.
std::string json_quote(std::string_view s);
// `v` as a JSON number; NaN and infinities become null.
std::string json_number(double v);

// What one measured run did: a decode in `generate`, or one row of a benchmark.
struct RunFigures {
  std::string command;       // "generate", or the benchmark's name
  std::string mode;          // submission mode: blocking | single | session | replay
  std::string model;         // model name or path; may be empty
  uint64_t tokens = 0;       // tokens produced; every per-token figure divides by this
  double wall_ms = 0;        // wall-clock time of the run
  double host_cpu_ms = 0;    // CPU time of the thread that encoded and submitted
  CounterSnapshot counters;  // counter difference over the run
  // Further named figures a command adds (e.g. "prefill_ms"), reported under "figures".
  std::vector<std::pair<std::string, double>> figures;
};

// Measures one run from construction (or restart) to finish(): wall clock, the calling thread's
// CPU clock and the process-wide counters. Construct and finish on the same thread.
class RunMeter {
 public:
  RunMeter();
  void restart();
  RunFigures finish(std::string command, std::string mode, uint64_t tokens) const;

 private:
  std::chrono::steady_clock::time_point wall_start_;
  double cpu_start_ms_ = 0;
  CounterSnapshot counters_start_;
};

// CPU time consumed so far by the calling thread, in milliseconds.
double thread_cpu_ms();

// The "device" object of the schema.
std::string device_json(const DeviceInfo& device);
// One run object (schema "stagefence.run/1").
std::string run_json(const RunFigures& run, const DeviceInfo& device);
// A benchmark's output (schema "stagefence.bench/1"): its runs on one device.
std::string bench_json(std::string_view benchmark, const std::vector<RunFigures>& runs,
                       const DeviceInfo& device);

}  // namespace stagefence
