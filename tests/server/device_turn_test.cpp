// Device turns: slots that each want several passes get them round robin, and a wait that
// passes its deadline fails without blocking the slots behind it.
#include "server/device_turn.hpp"

#include <gtest/gtest.h>

#include <mutex>
#include <thread>
#include <vector>

#include "stagefence/error.hpp"

namespace stagefence::server {
namespace {

TEST(DeviceTurn, WaitingSlotsTakeTurnsOnePassEach) {
  DeviceTurn turn(std::chrono::seconds(30));
  std::mutex mu;
  std::vector<int> order;
  turn.acquire();  // hold the device until every slot waits
  std::vector<std::thread> slots;
  for (int s = 0; s < 3; ++s) {
    slots.emplace_back([&, s] {
      turn.acquire();
      for (int pass = 0; pass < 4; ++pass) {
        {
          std::lock_guard<std::mutex> lock(mu);
          order.push_back(s);
        }
        if (pass < 3) turn.yield();
      }
      turn.release();
    });
    std::this_thread::sleep_for(std::chrono::milliseconds(50));  // queue in slot order
  }
  turn.release();
  for (auto& t : slots) t.join();
  ASSERT_EQ(order.size(), 12u);
  for (size_t i = 0; i < order.size(); ++i) EXPECT_EQ(order[i], int(i % 3)) << i;
}

TEST(DeviceTurn, ADeadlinePassesWithAnErrorAndTheTurnGoesOn) {
  DeviceTurn turn(std::chrono::milliseconds(50));
  turn.acquire();
  std::thread late([&] {
    try {
      turn.acquire();
      ADD_FAILURE() << "acquired a held turn";
    } catch (const Error& e) {
      EXPECT_EQ(e.code(), ErrorCode::Timeout);
    }
  });
  late.join();
  turn.release();
  turn.acquire();  // the abandoned ticket is skipped
  turn.release();
}

}  // namespace
}  // namespace stagefence::server
