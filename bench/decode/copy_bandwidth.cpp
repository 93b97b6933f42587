#include "copy_bandwidth.hpp"

#include <algorithm>
#include <cstdint>
#include <vector>

#include "stagefence/error.hpp"

namespace stagefence::bench {
namespace {

constexpr int kCopiesPerBuffer = 4;
constexpr int kBuffers = 5;

}  // namespace

CopyBandwidth measure_copy_bandwidth(Device& device, uint64_t bytes) {
  const Buffer src = device.alloc(bytes);
  const Buffer dst = device.alloc(bytes);
  const KernelId copy = device.kernels().id("copy_bytes");
  std::vector<double> per_copy_us;
  for (int b = 0; b <= kBuffers; ++b) {  // buffer 0 warms up
    CommandEncoder enc = device.command_encoder();
    enc.set_label("copy bandwidth");
    enc.enable_timestamps();
    // Every copy writes dst, so the hazard tracker runs them one after another.
    for (int c = 0; c < kCopiesPerBuffer; ++c)
      enc.dispatch(copy, {reads(src), writes(dst)}, {Scalar(bytes)});
    enc.commit_and_wait();
    const CommandBufferTimes t = enc.times();
    if (!t.valid)
      raise(ErrorCode::Internal, "the copy-bandwidth buffer completed without GPU timestamps");
    if (b > 0) per_copy_us.push_back(t.gpu_us / kCopiesPerBuffer);
  }
  std::sort(per_copy_us.begin(), per_copy_us.end());
  CopyBandwidth r;
  r.bytes = bytes;
  r.copy_us = per_copy_us[per_copy_us.size() / 2];
  r.bytes_per_s = r.copy_us > 0 ? 2.0 * double(bytes) / (r.copy_us * 1e-6) : 0.0;
  return r;
}

}  // namespace stagefence::bench
