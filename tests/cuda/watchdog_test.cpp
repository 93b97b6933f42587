// The host-wait watchdog on the GPU: a kernel that runs past the device's wait deadline fails
// the wait with a Timeout naming the buffer's label and its fence with the value, and marks the
// device unusable (a running kernel cannot be stopped), so later submissions fail fast with
// that reason. The kernel spins for a bounded time, so it ends on its own and the process exits.
#include <chrono>
#include <cstdint>

#include "cuda_test_support.hpp"

using namespace cudatest;
using namespace std::chrono_literals;

namespace {

std::optional<sf::Device> open_with_a_200ms_deadline() {
  sf::DeviceOptions o;
  o.wait_timeout = 200ms;
  return open_cuda(o);
}

}  // namespace

TEST(CudaWatchdog, KernelPastTheDeadlineFailsTheWaitNamingLabelAndFence) {
  std::optional<sf::Device> opened = open_with_a_200ms_deadline();
  if (!opened) GTEST_SKIP() << "no usable CUDA device on this machine";
  sf::Device& dev = *opened;
  auto stamp = dev.alloc(16);
  auto fence = dev.new_fence("gpu.stuck.fence");
  auto enc = dev.command_encoder();
  enc.set_label("gpu.stuck.stage");
  spin(enc, stamp, uint64_t(3'000'000'000));  // 3 s on the GPU clock
  enc.signal(fence, 4);
  const auto start = std::chrono::steady_clock::now();
  try {
    enc.commit_and_wait();
    ADD_FAILURE() << "a 3 s kernel passed a 200 ms deadline";
  } catch (const sf::Error& e) {
    const std::string m = e.what();
    EXPECT_EQ(e.code(), sf::ErrorCode::Timeout) << m;
    EXPECT_NE(m.find("'gpu.stuck.stage'"), std::string::npos) << m;
    EXPECT_NE(m.find("fence 'gpu.stuck.fence' value 4"), std::string::npos) << m;
    EXPECT_NE(m.find("cannot be stopped"), std::string::npos) << m;
  }
  const auto took = std::chrono::steady_clock::now() - start;
  EXPECT_GE(took, 200ms);
  EXPECT_LT(took, 2s);
  EXPECT_TRUE(dev.lost());
  EXPECT_NE(dev.lost_reason().find("gpu.stuck.stage"), std::string::npos) << dev.lost_reason();
  auto later = dev.command_encoder();
  later.dispatch("fill_f32", {sf::writes(stamp)}, {uint64_t(2), 1.0f});
  try {
    later.commit();
    ADD_FAILURE() << "a submission to an unusable device was accepted";
  } catch (const sf::Error& e) {
    EXPECT_EQ(e.code(), sf::ErrorCode::DeviceLost) << e.what();
  }
  // The kernel ends by itself; its buffer still completes and signals its fence.
  EXPECT_NO_THROW(enc.wait(30s));
  EXPECT_EQ(fence.completed_value(), 4u);
}

// Destroying the device while its kernel still spins returns at the deadline: the stuck queue
// and the device's memory are kept until exit rather than joined (which would block) or freed
// (which the running kernel still uses).
TEST(CudaWatchdog, DestroyingTheDeviceWithAStuckKernelReturnsAtTheDeadline) {
  std::optional<sf::Device> opened = open_with_a_200ms_deadline();
  if (!opened) GTEST_SKIP() << "no usable CUDA device on this machine";
  auto stamp = opened->alloc(16);
  {
    auto enc = opened->command_encoder();
    enc.set_label("gpu.stuck.at.exit");
    spin(enc, stamp, uint64_t(3'000'000'000));  // 3 s on the GPU clock
    enc.commit();
  }
  const auto start = std::chrono::steady_clock::now();
  stamp = {};
  opened.reset();
  const auto took = std::chrono::steady_clock::now() - start;
  EXPECT_LT(took, 2s) << "the device's destructor waited for a kernel past its deadline";
}
