// CPU versions of the builtin kernels (see core/builtin_kernels.hpp).
#include "core/builtin_kernels.hpp"

#include <atomic>
#include <cstdint>
#include <cstring>
#include <mutex>
#include <stdexcept>
#include <string>

#include "stagefence/kernel.hpp"
#include "stagefence/loop_control.hpp"

namespace stagefence {
namespace {

constexpr uint64_t kElemsPerBlock = 1 << 14;

Launch elementwise_launch(const KernelArgs& a) {
  Launch l;
  l.grid.x = static_cast<uint32_t>((a.s[0] + kElemsPerBlock - 1) / kElemsPerBlock);
  if (l.grid.x == 0) l.grid.x = 1;
  return l;
}

template <typename F>
void for_blocks(const KernelArgs& a, uint64_t b0, uint64_t b1, F&& f) {
  const uint64_t n = a.s[0];
  const uint64_t begin = b0 * kElemsPerBlock;
  const uint64_t end = std::min(n, b1 * kElemsPerBlock);
  for (uint64_t i = begin; i < end; ++i) f(i);
}

// fill_f32: b0 out f32 [n]; s0 n, s1 value (f32).
void fill_f32(const KernelArgs& a, const Launch&, uint64_t b0, uint64_t b1) {
  float* out = a.p<float>(0);
  const float v = a.f32(1);
  for_blocks(a, b0, b1, [&](uint64_t i) { out[i] = v; });
}

// copy_bytes: b0 src, b1 dst; s0 bytes.
void copy_bytes(const KernelArgs& a, const Launch&, uint64_t b0, uint64_t b1) {
  const uint64_t begin = b0 * kElemsPerBlock;
  const uint64_t end = std::min(a.s[0], b1 * kElemsPerBlock);
  if (end > begin) std::memcpy(a.p<char>(1) + begin, a.p<const char>(0) + begin, end - begin);
}

// add_f32 / mul_f32: b0 a, b1 b, b2 out; s0 n.
void add_f32(const KernelArgs& a, const Launch&, uint64_t b0, uint64_t b1) {
  const float* x = a.p<const float>(0);
  const float* y = a.p<const float>(1);
  float* out = a.p<float>(2);
  for_blocks(a, b0, b1, [&](uint64_t i) { out[i] = x[i] + y[i]; });
}

void mul_f32(const KernelArgs& a, const Launch&, uint64_t b0, uint64_t b1) {
  const float* x = a.p<const float>(0);
  const float* y = a.p<const float>(1);
  float* out = a.p<float>(2);
  for_blocks(a, b0, b1, [&](uint64_t i) { out[i] = x[i] * y[i]; });
}

// fail: fails when s0 != 0 (the value travels in the message); otherwise does nothing.
void fail(const KernelArgs& a, const Launch&, uint64_t, uint64_t) {
  if (a.s[0] != 0)
    throw std::runtime_error("failed on purpose (code " + std::to_string(a.s[0]) + ")");
}

// loop_control (stagefence/loop_control.hpp): publishes the iteration's token to the loop's
// channel and clears the loop condition when the loop must stop.
void loop_control(const KernelArgs& a, const Launch&, uint64_t, uint64_t) {
  struct Channel {
    char* base;
    uint32_t* condition;
    std::atomic_ref<uint64_t> count() const {
      return std::atomic_ref<uint64_t>(*reinterpret_cast<uint64_t*>(base + loop_layout::kCount));
    }
    uint64_t published() const { return count().load(std::memory_order_relaxed); }
    void publish(uint64_t n, int32_t token) const {
      int32_t* ring = reinterpret_cast<int32_t*>(base + loop_layout::kRing);
      std::atomic_ref<int32_t>(ring[n]).store(token, std::memory_order_relaxed);
      count().store(n + 1, std::memory_order_release);  // the token before the counter
    }
    bool cancelled() const {
      return std::atomic_ref<uint32_t>(*reinterpret_cast<uint32_t*>(base + loop_layout::kCancel))
                 .load(std::memory_order_acquire) != 0;
    }
    void finish(LoopStop reason) const {
      std::atomic_ref<uint32_t>(*reinterpret_cast<uint32_t*>(base + loop_layout::kStop))
          .store(uint32_t(reason), std::memory_order_release);
      std::atomic_ref<uint32_t>(*condition).store(0, std::memory_order_release);
    }
  };
  const auto p = a.params<LoopControlParams>();
  const int32_t* status = a.p<const int32_t>(0);
  uint32_t flag = 0;
  std::memcpy(&flag, &status[1], sizeof flag);
  Channel channel{reinterpret_cast<char*>(p.channel), a.p<uint32_t>(1)};
  loop_control_step(p, status[0], flag, channel);
}

}  // namespace

void register_builtin_kernels() {
  static std::once_flag once;
  std::call_once(once, [] {
    auto& r = KernelRegistry::global();
    r.add_cpu("fill_f32", fill_f32, elementwise_launch);
    r.add_cpu("copy_bytes", copy_bytes, elementwise_launch);
    r.add_cpu("add_f32", add_f32, elementwise_launch);
    r.add_cpu("mul_f32", mul_f32, elementwise_launch);
    r.add_cpu("fail", fail);
    r.add_cpu("loop_control", loop_control);
#ifdef STAGEFENCE_WITH_CUDA
    register_cuda_builtin_kernels();
#endif
  });
}

}  // namespace stagefence
