// Long runs return every live object to its baseline.
#include <algorithm>
#include <cstdint>
#include <cstdlib>

#include "test_support.hpp"

using namespace sftest;

class Soak : public BackendTest {};
SF_INSTANTIATE_BACKENDS(Soak);

// 10,000 cycles by default; the long-run CTest entry sets STAGEFENCE_SOAK_CYCLES=100000.
int soak_cycles() {
  const char* v = std::getenv("STAGEFENCE_SOAK_CYCLES");
  return v ? std::max(1, std::atoi(v)) : 10000;
}

TEST_P(Soak, TenThousandFenceResetCyclesLeakNothing) {
  const int cycles = soak_cycles();
  auto x = dev().alloc(sf::DType::F32, {64});
  {  // warm the pool so the baseline includes the blocks the loop reuses
    auto s = dev().encoder_session();
    auto scratch = dev().alloc(sf::DType::F32, {64});
    fill(s->encoder(), scratch, 1.0f);
    s->commit_and_wait();
  }
  dev().synchronize();
  const auto base = sf::counters::snapshot();
  {
    auto s = dev().encoder_session();
    for (int i = 0; i < cycles; ++i) {
      auto scratch = dev().alloc(sf::DType::F32, {64});
      fill(s->encoder(), scratch, float(i));
      add(s->encoder(), scratch, scratch, x);
      s->fence_stage("cycle");
      s->reset_for_next_stage();
    }
    s->commit_and_wait();
    EXPECT_EQ(s->fence_value(), uint64_t(cycles));
    EXPECT_EQ(s->wait_count(), uint64_t(cycles));
  }
  dev().synchronize();
  const auto end = sf::counters::snapshot();
  EXPECT_EQ(end.live_command_buffers, base.live_command_buffers);
  EXPECT_EQ(end.live_fences, base.live_fences);
  EXPECT_EQ(end.live_allocations, base.live_allocations);
  EXPECT_EQ(end.pool_bytes_in_use, base.pool_bytes_in_use);
  // Blocks cached while buffers were in flight all return to the backend on trim.
  dev().trim_pool();
  EXPECT_EQ(sf::counters::snapshot().pool_bytes_cached, 0);
  EXPECT_EQ(read_f32(x)[0], 2.0f * float(cycles - 1));
}
