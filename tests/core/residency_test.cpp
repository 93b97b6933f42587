// Residency set: staged operations, one flush per commit, counts, budget, disable flag.
#include <cstdint>

#include "scoped_env.hpp"
#include "test_support.hpp"

using namespace sftest;

class Residency : public BackendTest {};
SF_INSTANTIATE_BACKENDS(Residency);

TEST_P(Residency, HundredAllocationsAndDropsCostZeroFlushesThenOneAtCommit) {
  auto enc = dev().command_encoder();
  enc.commit_and_wait();  // flush whatever earlier setup staged
  const auto before = sf::counters::snapshot();
  std::vector<sf::Buffer> keep;
  for (int i = 0; i < 100; ++i) {
    auto b = dev().alloc(4096);
    if (i % 2 == 0) keep.push_back(b);  // the other half is dropped at once
  }
  EXPECT_EQ((sf::counters::snapshot() - before).residency_flushes, 0u);
  EXPECT_EQ(dev().residency().pending_count(), 50u);
  auto enc2 = dev().command_encoder();
  enc2.commit_and_wait();
  EXPECT_EQ((sf::counters::snapshot() - before).residency_flushes, 1u);
  EXPECT_EQ(dev().residency().pending_count(), 0u);
  auto enc3 = dev().command_encoder();
  enc3.commit_and_wait();  // nothing staged: no flush
  EXPECT_EQ((sf::counters::snapshot() - before).residency_flushes, 1u);
}

TEST_P(Residency, CountsAllocationsAndBytesOncePerAllocation) {
  auto enc = dev().command_encoder();
  enc.commit_and_wait();
  auto res = dev().residency();
  const uint64_t n0 = res.allocation_count(), b0 = res.bytes();
  auto big = dev().alloc(1 << 20);
  auto view1 = big.view(0, 1024), view2 = big.view(4096, 1024);
  EXPECT_TRUE(res.add(view1));
  EXPECT_TRUE(res.add(view2));  // views share one registration
  auto enc2 = dev().command_encoder();
  enc2.commit_and_wait();
  EXPECT_EQ(res.allocation_count(), n0 + 1);
  EXPECT_EQ(res.bytes(), b0 + (1u << 20));
}

TEST_P(Residency, BudgetOverrunFailsBeforeSubmissionAndLosesNothing) {
  auto enc0 = dev().command_encoder();
  enc0.commit_and_wait();
  auto res = dev().residency();
  res.set_budget(res.bytes() + (1 << 20));
  auto out = dev().alloc(sf::DType::F32, {16});  // small, fits
  auto huge = dev().alloc(4 << 20);              // does not fit
  auto enc = dev().command_encoder();
  fill(enc, out, 1.0f);
  const auto before = sf::counters::snapshot();
  try {
    enc.commit();
    FAIL() << "expected BudgetExceeded";
  } catch (const sf::Error& e) {
    EXPECT_EQ(e.code(), sf::ErrorCode::BudgetExceeded);
    EXPECT_NE(std::string(e.what()).find("budget"), std::string::npos);
  }
  EXPECT_FALSE(enc.is_committed());
  EXPECT_EQ((sf::counters::snapshot() - before).commits, 0u);
  EXPECT_EQ(res.pending_count(), 2u);  // still staged
  res.remove(huge);
  huge = sf::Buffer();
  enc.commit_and_wait();  // the same buffer now fits and runs
  EXPECT_EQ(read_f32(out)[0], 1.0f);
  res.set_budget(0);
}

TEST(ResidencyFlag, DisableFlagMakesAddAndRemoveReturnFalse) {
  auto dev = [] {
    sftest::ScopedEnv no_residency("STAGEFENCE_NO_RESIDENCY", "1");
    return sf::Device::open({sf::BackendKind::Cpu});
  }();
  auto res = dev.residency();
  EXPECT_FALSE(res.enabled());
  auto b = dev.alloc(1024);
  EXPECT_FALSE(res.add(b));
  EXPECT_FALSE(res.remove(b));
  auto s = dev.encoder_session();
  if (s) {
    EXPECT_FALSE(s->add_to_residency_set(b));
    EXPECT_FALSE(s->remove_from_residency_set(b));
  }
  auto enc = dev.command_encoder();
  const auto before = sf::counters::snapshot();
  enc.commit_and_wait();
  EXPECT_EQ((sf::counters::snapshot() - before).residency_flushes, 0u);
  EXPECT_EQ(res.allocation_count(), 0u);
}
