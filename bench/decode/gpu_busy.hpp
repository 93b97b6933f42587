// GPU busy time of the command buffers a run committed, from the runtime's trace recorder:
// while a trace records, every command buffer carries timestamps, and its span on the device
// track lasts exactly its CommandBufferTimes::gpu_us.
#pragma once
#include <cstdint>
#include <string_view>

namespace stagefence::bench {

struct GpuBusy {
  double total_us = 0;   // sum of the command buffers' GPU times
  uint64_t buffers = 0;  // command-buffer spans summed
};

// Sums the "command_buffer" spans of a trace written by trace::stop(). Throws Format when a
// span has no duration.
GpuBusy command_buffer_busy(std::string_view trace_json);

// Records a trace from construction until finish(); the destructor stops an unfinished one, so
// an exception never leaves the recorder running.
class BusyRecorder {
 public:
  BusyRecorder() = default;
  BusyRecorder(const BusyRecorder&) = delete;
  BusyRecorder& operator=(const BusyRecorder&) = delete;
  ~BusyRecorder();

  void start();
  bool started() const { return started_; }
  // Stops the trace and sums it. Drain the device first: only completed buffers are in it.
  GpuBusy finish();

 private:
  bool started_ = false;
};

}  // namespace stagefence::bench
