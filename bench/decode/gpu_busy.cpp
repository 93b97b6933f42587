#include "gpu_busy.hpp"

#include <cstdlib>
#include <string>

#include "stagefence/error.hpp"
#include "stagefence/trace.hpp"

namespace stagefence::bench {

GpuBusy command_buffer_busy(std::string_view trace_json) {
  // trace::stop() writes one event per line; command-buffer spans are category
  // "command_buffer", phase "X", with "dur" in microseconds.
  GpuBusy busy;
  size_t line_begin = 0;
  while (line_begin < trace_json.size()) {
    size_t line_end = trace_json.find('\n', line_begin);
    if (line_end == std::string_view::npos) line_end = trace_json.size();
    const std::string_view line = trace_json.substr(line_begin, line_end - line_begin);
    line_begin = line_end + 1;
    if (line.find("\"cat\":\"command_buffer\"") == std::string_view::npos ||
        line.find("\"ph\":\"X\"") == std::string_view::npos)
      continue;
    const size_t dur = line.find("\"dur\":");
    if (dur == std::string_view::npos)
      raise(ErrorCode::Format,
            "trace: a command-buffer span has no duration: " + std::string(line.substr(0, 120)));
    const std::string number(line.substr(dur + 6, 32));
    busy.total_us += std::strtod(number.c_str(), nullptr);
    ++busy.buffers;
  }
  return busy;
}

BusyRecorder::~BusyRecorder() {
  if (!started_) return;
  try {
    trace::stop();
  } catch (...) {
    // Already stopped elsewhere: nothing to release.
  }
}

void BusyRecorder::start() {
  trace::start();
  started_ = true;
}

GpuBusy BusyRecorder::finish() {
  if (!started_) raise(ErrorCode::State, "BusyRecorder::finish: the trace was never started");
  started_ = false;
  return command_buffer_busy(trace::stop());
}

}  // namespace stagefence::bench
