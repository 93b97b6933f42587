// Byte-exact hazard tracking: the tracker alone, and through the encoder's dependency counts.
#include <cstdint>

#include "core/hazard_tracker.hpp"
#include "scoped_env.hpp"
#include "test_support.hpp"

using namespace sftest;
using sf::Access;
using sf::RangeAccess;

namespace {
std::vector<uint32_t> add(sf::HazardTracker& t, uint32_t index, std::vector<RangeAccess> acc) {
  std::vector<uint32_t> deps;
  t.add(index, acc.data(), acc.size(), deps);
  return deps;
}
}  // namespace

TEST(HazardTracker, ReadAfterReadNeverConflicts) {
  sf::HazardTracker t;
  EXPECT_TRUE(add(t, 0, {{1, 0, 100, Access::Read}}).empty());
  EXPECT_TRUE(add(t, 1, {{1, 0, 100, Access::Read}}).empty());
}

TEST(HazardTracker, RawWarWawConflict) {
  sf::HazardTracker t;
  add(t, 0, {{1, 0, 64, Access::Write}});
  EXPECT_EQ(add(t, 1, {{1, 0, 64, Access::Read}}), std::vector<uint32_t>{0});         // RAW
  EXPECT_EQ(add(t, 2, {{1, 32, 96, Access::Write}}), (std::vector<uint32_t>{0, 1}));  // WAW + WAR
  sf::HazardTracker t2;
  add(t2, 0, {{5, 0, 8, Access::Read}});
  EXPECT_EQ(add(t2, 1, {{5, 4, 12, Access::ReadWrite}}), std::vector<uint32_t>{0});  // WAR
}

TEST(HazardTracker, DisjointViewsDoNotConflictOverlappingOnesDo) {
  sf::HazardTracker t;
  add(t, 0, {{1, 0, 64, Access::Write}});
  EXPECT_TRUE(add(t, 1, {{1, 64, 128, Access::Write}}).empty());  // adjacent, disjoint
  EXPECT_EQ(add(t, 2, {{1, 63, 65, Access::Read}}), (std::vector<uint32_t>{0, 1}));  // straddles
  EXPECT_TRUE(add(t, 3, {{2, 0, 64, Access::Write}}).empty());  // other allocation
}

TEST(HazardTracker, BarrierOrdersEverythingBefore) {
  sf::HazardTracker t;
  add(t, 0, {{1, 0, 8, Access::Write}});
  add(t, 1, {{2, 0, 8, Access::Write}});
  EXPECT_TRUE(t.barrier());
  EXPECT_FALSE(t.barrier());  // nothing new since
  EXPECT_EQ(add(t, 2, {{3, 0, 8, Access::Write}}), (std::vector<uint32_t>{0, 1}));
}

class Hazards : public BackendTest {};
SF_INSTANTIATE_BACKENDS(Hazards);

// A known sequence over views of one allocation yields an exact number of dependency edges:
//   0 fill A            -> none
//   1 fill B            -> none (disjoint view of the same allocation)
//   2 add A+B -> C      -> 0, 1 (RAW)
//   3 mul A*A -> A2     -> 0 (RAW; A2 is disjoint from A, B, C)
//   4 fill A            -> 0 (WAW), 2 and 3 (WAR)
//   5 add C+A2 -> D     -> 2, 3 (RAW)
// total 2 + 1 + 3 + 2 = 8
TEST_P(Hazards, KnownSequenceYieldsExactDependencyCount) {
  auto whole = dev().alloc(5 * 256 * sizeof(float));
  auto view = [&](int i) { return whole.view(i * 1024, 1024).as(sf::DType::F32, {256}); };
  auto A = view(0), B = view(1), C = view(2), A2 = view(3), D = view(4);
  auto enc = dev().command_encoder();
  const auto before = sf::counters::snapshot();
  fill(enc, A, 1.0f);
  fill(enc, B, 2.0f);
  add(enc, A, B, C);
  mul(enc, A, A, A2);
  fill(enc, A, 5.0f);
  add(enc, C, A2, D);
  EXPECT_EQ(enc.dependency_count(), 8u);
  EXPECT_EQ((sf::counters::snapshot() - before).dependencies, 8u);
  enc.commit_and_wait();
  EXPECT_EQ(read_f32(C)[0], 3.0f);
  EXPECT_EQ(read_f32(D)[255], 4.0f);
  EXPECT_EQ(read_f32(A)[7], 5.0f);
}

TEST_P(Hazards, ForceSerialChainsEveryDispatch) {
  auto enc = [&] {  // the flag is read when the buffer opens
    sftest::ScopedEnv serial("STAGEFENCE_FORCE_SERIAL", "1");
    return dev().command_encoder();
  }();
  auto a = dev().alloc(sf::DType::F32, {8});
  auto b = dev().alloc(sf::DType::F32, {8});
  fill(enc, a, 1.0f);
  fill(enc, b, 1.0f);
  fill(enc, a, 2.0f);
  EXPECT_EQ(enc.dependency_count(), 2u);
  enc.commit_and_wait();
}

TEST_P(Hazards, RangeOutsideBufferIsRejectedAtEncodeTime) {
  auto enc = dev().command_encoder();
  auto a = dev().alloc(sf::DType::F32, {16});
  try {
    enc.dispatch("fill_f32", {sf::writes(a, 32, 64)}, {16u, 1.0f});
    FAIL() << "expected OutOfRange";
  } catch (const sf::Error& e) {
    EXPECT_EQ(e.code(), sf::ErrorCode::OutOfRange);
    EXPECT_NE(std::string(e.what()).find("binding 0"), std::string::npos) << e.what();
    EXPECT_NE(std::string(e.what()).find("fill_f32"), std::string::npos) << e.what();
  }
  EXPECT_EQ(enc.dispatch_count(), 0u);  // nothing recorded
  EXPECT_THROW(a.view(60, 8), sf::Error);
  EXPECT_THROW(enc.dispatch("no.such.kernel", {}), sf::Error);
}
