// The device's memory bandwidth as this program measures it: a `copy_bytes` dispatch through
// the runtime, timed with command-buffer timestamps (no vendor copy call).
#pragma once
#include <cstdint>

#include "stagefence/device.hpp"

namespace stagefence::bench {

struct CopyBandwidth {
  uint64_t bytes = 0;      // bytes copied by one dispatch
  double copy_us = 0;      // median GPU time of one copy
  double bytes_per_s = 0;  // 2 * bytes / copy_us: every byte is read once and written once
};

// Copies a `bytes` buffer into another, kCopiesPerBuffer times per command buffer over several
// buffers (after one warm-up), and takes the median time per copy.
CopyBandwidth measure_copy_bandwidth(Device& device, uint64_t bytes);

}  // namespace stagefence::bench
