// The host-wait watchdog on the CPU backend: every host wait has a deadline (DeviceOptions,
// STAGEFENCE_WAIT_TIMEOUT_MS, 60 s); past it the wait fails with a Timeout naming the buffer's
// label, its queue and its fences with their values. Work already running cannot be stopped,
// so the device is then unusable and later submissions fail fast with that reason; a buffer
// still held on a fence wait leaves the device usable.
#include <gtest/gtest.h>

#include <atomic>
#include <chrono>
#include <cstdint>
#include <cstdlib>
#include <future>
#include <memory>
#include <string>
#include <thread>

#include "scoped_env.hpp"
#include "stagefence/stagefence.hpp"

namespace sf = stagefence;
using namespace std::chrono_literals;

namespace {

std::atomic<bool> g_release{false};

// Spins until the test releases it, or for s0 milliseconds at most (so a failing test ends).
void spin_until_released(const sf::KernelArgs& args, const sf::Launch&, uint64_t, uint64_t) {
  const auto end = std::chrono::steady_clock::now() + std::chrono::milliseconds(args.s[0]);
  while (!g_release.load() && std::chrono::steady_clock::now() < end) std::this_thread::yield();
}

sf::KernelId spin_kernel() {
  static const sf::KernelId id = sf::KernelRegistry::global().add_cpu(
      "watchdog_test.spin_until_released", spin_until_released);
  return id;
}

sf::Device open_cpu(std::optional<std::chrono::milliseconds> deadline) {
  sf::DeviceOptions o;
  o.backend = sf::BackendKind::Cpu;
  o.wait_timeout = deadline;
  return sf::Device::open(o);
}

bool mentions(const std::string& text, const std::string& part) {
  return text.find(part) != std::string::npos;
}

// Releases the spinning kernel when the test ends, passed or not.
struct Release {
  Release() { g_release = false; }
  ~Release() { g_release = true; }
};

// A stuck stage with a fence; returns the Timeout's message and how long the wait took.
std::pair<std::string, std::chrono::steady_clock::duration> overrun(sf::Device& dev,
                                                                    sf::CommandEncoder& enc,
                                                                    const sf::Fence& fence) {
  enc.set_label("stuck.stage");
  enc.dispatch(spin_kernel(), {}, {uint64_t(20000)});
  enc.signal(fence, 7);
  const auto start = std::chrono::steady_clock::now();
  try {
    enc.commit_and_wait();
  } catch (const sf::Error& e) {
    EXPECT_EQ(e.code(), sf::ErrorCode::Timeout) << e.what();
    return {e.what(), std::chrono::steady_clock::now() - start};
  }
  ADD_FAILURE() << "a kernel that never ends passed the wait";
  (void)dev;
  return {};
}

}  // namespace

TEST(Watchdog, RunningKernelPastTheDeadlineFailsTheWaitAndMarksTheDeviceUnusable) {
  Release release;
  auto dev = open_cpu(150ms);
  auto fence = dev.new_fence("stuck.fence");
  auto enc = dev.command_encoder();
  const auto [message, took] = overrun(dev, enc, fence);
  EXPECT_TRUE(mentions(message, "'stuck.stage'")) << message;
  EXPECT_TRUE(mentions(message, "queue 'default'")) << message;
  EXPECT_TRUE(mentions(message, "fence 'stuck.fence' value 7 (now at 0)")) << message;
  EXPECT_TRUE(mentions(message, "within 150 ms")) << message;
  EXPECT_TRUE(mentions(message, "cannot be stopped")) << message;
  EXPECT_GE(took, 150ms);
  EXPECT_LT(took, 10s);

  EXPECT_TRUE(dev.lost());
  EXPECT_TRUE(mentions(dev.lost_reason(), "'stuck.stage'")) << dev.lost_reason();
  auto later = dev.command_encoder();
  later.set_label("later");
  later.dispatch(spin_kernel(), {}, {uint64_t(0)});
  try {
    later.commit();
    ADD_FAILURE() << "a submission to an unusable device was accepted";
  } catch (const sf::Error& e) {
    EXPECT_EQ(e.code(), sf::ErrorCode::DeviceLost);
    EXPECT_TRUE(mentions(e.what(), "'stuck.stage'")) << e.what();
  }
  EXPECT_THROW(dev.alloc(64), sf::Error);

  g_release = true;  // the stuck kernel ends; its buffer still completes
  enc.wait(10s);
  EXPECT_EQ(fence.completed_value(), 7u);
}

TEST(Watchdog, EnvironmentSetsTheDeadline) {
  Release release;
  sftest::ScopedEnv env("STAGEFENCE_WAIT_TIMEOUT_MS", "120");
  auto dev = open_cpu(std::nullopt);
  auto fence = dev.new_fence("f");
  auto enc = dev.command_encoder();
  const auto [message, took] = overrun(dev, enc, fence);
  EXPECT_TRUE(mentions(message, "within 120 ms")) << message;
  EXPECT_GE(took, 120ms);
  EXPECT_TRUE(dev.lost());
  g_release = true;
  enc.wait(10s);
}

TEST(Watchdog, InvalidDeadlinesAreRejectedNamingTheValue) {
  for (const char* bad : {"abc", "0", "-5", "12ms", "", "86400001", "99999999999999"}) {
    sftest::ScopedEnv env("STAGEFENCE_WAIT_TIMEOUT_MS", bad);
    if (std::string(bad).empty()) {
      EXPECT_NO_THROW(open_cpu(std::nullopt)) << "unset or empty keeps the default";
      continue;
    }
    try {
      open_cpu(std::nullopt);
      ADD_FAILURE() << "STAGEFENCE_WAIT_TIMEOUT_MS=" << bad << " was accepted";
    } catch (const sf::Error& e) {
      EXPECT_EQ(e.code(), sf::ErrorCode::InvalidArgument);
      EXPECT_TRUE(mentions(e.what(), std::string("STAGEFENCE_WAIT_TIMEOUT_MS = '") + bad + "'"))
          << e.what();
      EXPECT_TRUE(mentions(e.what(), "milliseconds from 1 to 86400000")) << e.what();
    }
  }
  try {
    open_cpu(0ms);
    ADD_FAILURE() << "a zero deadline was accepted";
  } catch (const sf::Error& e) {
    EXPECT_EQ(e.code(), sf::ErrorCode::InvalidArgument);
    EXPECT_TRUE(mentions(e.what(), "DeviceOptions::wait_timeout of 0 ms")) << e.what();
  }
}

// A buffer the queue still holds for an unsignalled fence has not started: the wait fails,
// the device stays usable, and the buffer runs once the fence is signalled.
TEST(Watchdog, BufferHeldOnAFenceTimesOutAndLeavesTheDeviceUsable) {
  auto dev = open_cpu(100ms);
  auto never = dev.new_fence("never.signalled");
  auto side = dev.new_queue("side");
  auto enc = dev.command_encoder(side);
  enc.set_label("held");
  enc.wait_for(never, 3);
  enc.dispatch(spin_kernel(), {}, {uint64_t(0)});
  try {
    enc.commit_and_wait();
    ADD_FAILURE() << "a buffer held on a fence passed the wait";
  } catch (const sf::Error& e) {
    EXPECT_EQ(e.code(), sf::ErrorCode::Timeout);
    EXPECT_TRUE(mentions(e.what(), "'held' on queue 'side'")) << e.what();
    EXPECT_TRUE(mentions(e.what(), "waits for fence 'never.signalled' value 3 (now at 0)"))
        << e.what();
    EXPECT_TRUE(mentions(e.what(), "has not started")) << e.what();
  }
  EXPECT_FALSE(dev.lost()) << dev.lost_reason();
  auto other = dev.command_encoder();
  other.dispatch(spin_kernel(), {}, {uint64_t(0)});
  EXPECT_NO_THROW(other.commit_and_wait());
  never.signal(3);
  EXPECT_NO_THROW(enc.wait(10s));
}

TEST(Watchdog, QueueDrainAndDeviceSynchronizeHaveTheDeadline) {
  Release release;
  auto dev = open_cpu(std::nullopt);
  auto side = dev.new_queue("side");
  auto enc = dev.command_encoder(side);
  enc.set_label("stuck.drain");
  enc.dispatch(spin_kernel(), {}, {uint64_t(20000)});
  enc.commit();
  for (int round = 0; round < 2; ++round) {
    try {
      if (round == 0)
        side.drain(100ms);
      else
        dev.synchronize(100ms);
      ADD_FAILURE() << "a drain past a stuck kernel returned";
    } catch (const sf::Error& e) {
      EXPECT_EQ(e.code(), sf::ErrorCode::Timeout);
      EXPECT_TRUE(mentions(e.what(), "'stuck.drain' on queue 'side'")) << e.what();
    }
  }
  EXPECT_TRUE(dev.lost());
  g_release = true;
  EXPECT_NO_THROW(side.drain(10s));
  EXPECT_NO_THROW(dev.synchronize(10s));
}

// STAGEFENCE_WAIT_SPIN_US is read once per process, so ctest runs this with a bad value in its
// own process (WaitSpinRejected); without the variable set it has nothing to check.
TEST(WaitSpin, BadWindowIsRejectedWhenTheDeviceOpens) {
  const char* v = std::getenv("STAGEFENCE_WAIT_SPIN_US");
  if (!v) GTEST_SKIP() << "run by ctest as WaitSpinRejected, with STAGEFENCE_WAIT_SPIN_US set";
  try {
    open_cpu(std::nullopt);
    ADD_FAILURE() << "STAGEFENCE_WAIT_SPIN_US=" << v << " was accepted";
  } catch (const sf::Error& e) {
    EXPECT_EQ(e.code(), sf::ErrorCode::InvalidArgument);
    EXPECT_TRUE(mentions(e.what(), std::string("STAGEFENCE_WAIT_SPIN_US = '") + v + "'"))
        << e.what();
    EXPECT_TRUE(mentions(e.what(), "microseconds from 0 to 10000")) << e.what();
  }
}

// A fence wait that names no limit gets the device's deadline, not a fixed one of its own.
TEST(Watchdog, FenceWaitWithoutALimitHasTheDevicesDeadline) {
  auto dev = open_cpu(120ms);
  auto never = dev.new_fence("never.signalled");
  const auto start = std::chrono::steady_clock::now();
  try {
    never.wait(1);
    ADD_FAILURE() << "a wait for a fence nobody signals returned";
  } catch (const sf::Error& e) {
    EXPECT_EQ(e.code(), sf::ErrorCode::Timeout);
    EXPECT_TRUE(mentions(e.what(), "fence 'never.signalled' did not reach value 1 within 120 ms"))
        << e.what();
  }
  const auto took = std::chrono::steady_clock::now() - start;
  EXPECT_GE(took, 120ms);
  EXPECT_LT(took, 10s);
}

// Destroying a device whose kernel never ends returns at the deadline: the stuck queue is kept
// alive (not joined, nothing freed) instead of blocking the destructor forever.
TEST(Watchdog, DestroyingADeviceWithAStuckKernelReturnsAtTheDeadline) {
  Release release;
  auto teardown = std::async(std::launch::async, [] {
    auto dev = open_cpu(150ms);
    auto enc = dev.command_encoder();
    enc.set_label("stuck.at.exit");
    enc.dispatch(spin_kernel(), {}, {uint64_t(20000)});
    enc.commit();
  });
  const bool returned = teardown.wait_for(10s) == std::future_status::ready;
  EXPECT_TRUE(returned) << "the device's destructor blocked on a kernel that never ends";
  g_release = true;
  teardown.get();
}

// A queue destroyed while a buffer waits for a fence nobody will signal ends that buffer at
// once (it never started), without waiting for the deadline.
TEST(Watchdog, DestroyingAQueueWithABufferHeldOnAFenceReturnsAtOnce) {
  auto dev = open_cpu(30s);
  auto never = dev.new_fence("never.signalled");
  auto enc = std::make_unique<sf::CommandEncoder>(dev.command_encoder(dev.new_queue("side")));
  enc->set_label("held.at.exit");
  enc->wait_for(never, 1);
  enc->dispatch(spin_kernel(), {}, {uint64_t(0)});
  enc->commit();
  const auto start = std::chrono::steady_clock::now();
  enc.reset();  // the last handle of queue 'side'
  EXPECT_LT(std::chrono::steady_clock::now() - start, 5s);
  EXPECT_FALSE(dev.lost()) << dev.lost_reason();
}
