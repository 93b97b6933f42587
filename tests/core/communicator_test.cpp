// Collectives across devices: all-reduce and all-gather recorded like dispatches, ordered by the
// hazard tracker, captured and replayed; bad groups and bad ranges rejected; a rank that never
// arrives fails the group with an error naming it instead of hanging. CPU ranks are separate CPU
// devices; CUDA cases need as many GPUs and skip otherwise.
#include <cmath>
#include <cstdint>
#include <memory>
#include <random>

#include "test_support.hpp"

namespace {

using sftest::make_f32;
using sftest::read_f32;

struct Group {
  std::vector<std::unique_ptr<sf::Device>> devices;
  std::vector<sf::Communicator> comms;
};

// n devices of `kind` and their communicators; nothing when this machine has fewer.
std::optional<Group> open_group(sf::BackendKind kind, int n, sf::CommunicatorOptions options = {}) {
  Group g;
  std::vector<sf::Device*> raw;
  for (int r = 0; r < n; ++r) {
    sf::DeviceOptions o;
    o.backend = kind;
    o.cuda_ordinal = r;
    try {
      g.devices.push_back(std::make_unique<sf::Device>(sf::Device::open(o)));
    } catch (const sf::Error& e) {
      if (e.code() == sf::ErrorCode::Unsupported) return std::nullopt;
      throw;
    }
    raw.push_back(g.devices.back().get());
  }
  g.comms = sf::Communicator::create_group(raw, options);
  return g;
}

std::vector<float> random_values(size_t n, uint32_t seed) {
  std::mt19937 rng(seed);
  std::uniform_real_distribution<float> u(-2.0f, 2.0f);
  std::vector<float> v(n);
  for (float& x : v) x = u(rng);
  return v;
}

class CommunicatorTest : public ::testing::TestWithParam<sf::BackendKind> {};

TEST_P(CommunicatorTest, AllReduceSumsEveryRankAndGivesEveryRankTheSameBits) {
  constexpr int kRanks = 3;
  std::optional<Group> group = open_group(GetParam(), kRanks);
  if (!group) GTEST_SKIP() << "fewer than " << kRanks << " devices of this kind";
  Group& g = *group;
  constexpr size_t kN = 4099;
  std::vector<std::vector<float>> inputs;
  std::vector<sf::Buffer> bufs;
  for (int r = 0; r < kRanks; ++r) {
    inputs.push_back(random_values(kN, 11u + r));
    bufs.push_back(make_f32(*g.devices[r], inputs.back()));
  }
  std::vector<sf::CommandEncoder> encs;
  for (int r = 0; r < kRanks; ++r) {
    encs.push_back(g.devices[r]->command_encoder());
    encs.back().set_label("all_reduce rank " + std::to_string(r));
    g.comms[r].all_reduce_sum(encs.back(), bufs[r], kN);
    encs.back().commit();  // every rank must be submitted before any is waited on
  }
  for (auto& e : encs) e.wait();
  const std::vector<float> first = read_f32(bufs[0]);
  for (size_t i = 0; i < kN; ++i) {
    double want = 0;
    for (int r = 0; r < kRanks; ++r) want += inputs[r][i];
    ASSERT_NEAR(first[i], want, 1e-5) << "element " << i;
  }
  for (int r = 1; r < kRanks; ++r) EXPECT_EQ(read_f32(bufs[r]), first) << "rank " << r;
}

TEST_P(CommunicatorTest, AllGatherPlacesEachRanksPartInRankOrder) {
  constexpr int kRanks = 4;
  std::optional<Group> group = open_group(GetParam(), kRanks);
  if (!group) GTEST_SKIP() << "fewer than " << kRanks << " devices of this kind";
  Group& g = *group;
  constexpr size_t kN = 1000;
  std::vector<std::vector<float>> parts;
  std::vector<sf::Buffer> send, recv;
  for (int r = 0; r < kRanks; ++r) {
    parts.push_back(random_values(kN, 100u + r));
    send.push_back(make_f32(*g.devices[r], parts.back()));
    recv.push_back(make_f32(*g.devices[r], std::vector<float>(kN * kRanks, NAN)));  // poisoned
  }
  std::vector<sf::CommandEncoder> encs;
  for (int r = 0; r < kRanks; ++r) {
    encs.push_back(g.devices[r]->command_encoder());
    g.comms[r].all_gather(encs.back(), send[r], recv[r], kN);
    encs.back().commit();
  }
  for (auto& e : encs) e.wait();
  std::vector<float> want;
  for (const auto& p : parts) want.insert(want.end(), p.begin(), p.end());
  for (int r = 0; r < kRanks; ++r) EXPECT_EQ(read_f32(recv[r]), want) << "rank " << r;
}

TEST_P(CommunicatorTest, CollectivesAreOrderedByHazardsAndReplayFromACapture) {
  constexpr int kRanks = 2;
  std::optional<Group> group = open_group(GetParam(), kRanks);
  if (!group) GTEST_SKIP() << "fewer than " << kRanks << " devices of this kind";
  Group& g = *group;
  constexpr size_t kN = 777;
  std::vector<sf::Buffer> x, y;
  std::vector<sf::CaptureGraph> graphs;
  for (int r = 0; r < kRanks; ++r) {
    x.push_back(make_f32(*g.devices[r], std::vector<float>(kN, 0.0f)));
    y.push_back(make_f32(*g.devices[r], std::vector<float>(kN, 0.0f)));
    // y += x (1 + rank) ... x = sum over ranks of y: fill, add, all_reduce, add back.
    sf::CommandEncoder rec = g.devices[r]->command_encoder();
    rec.begin_capture();
    sftest::fill(rec, x[r], float(r + 1));
    sftest::add(rec, y[r], x[r], y[r]);
    g.comms[r].all_reduce_sum(rec, y[r], kN);
    sftest::add(rec, y[r], x[r], x[r]);
    graphs.push_back(rec.end_capture());
  }
  // Each replay: y = sum_r (y + r + 1) over ranks, then x = y + (r + 1).
  std::vector<double> y_model(kRanks, 0.0);
  for (int step = 0; step < 3; ++step) {
    std::vector<sf::CommandEncoder> encs;
    for (int r = 0; r < kRanks; ++r) {
      encs.push_back(g.devices[r]->command_encoder());
      encs.back().replay(graphs[r]);
      encs.back().commit();
    }
    for (auto& e : encs) e.wait();
    double sum = 0;
    for (int r = 0; r < kRanks; ++r) sum += y_model[r] + (r + 1);
    for (int r = 0; r < kRanks; ++r) y_model[r] = sum;
    for (int r = 0; r < kRanks; ++r) {
      EXPECT_EQ(read_f32(y[r]), std::vector<float>(kN, float(sum))) << "step " << step;
      EXPECT_EQ(read_f32(x[r]), std::vector<float>(kN, float(sum + r + 1))) << "step " << step;
    }
  }
}

TEST_P(CommunicatorTest, IndependentCollectivesOfARankRunOneAtATimeInRecordingOrder) {
  // No data links these collectives, so only the communicator's own ordering keeps the ranks
  // from meeting different ones (which would mix their data or deadlock).
  constexpr int kRanks = 2;
  std::optional<Group> group = open_group(GetParam(), kRanks);
  if (!group) GTEST_SKIP() << "fewer than " << kRanks << " devices of this kind";
  Group& g = *group;
  constexpr size_t kN = 64;
  std::vector<std::vector<sf::Buffer>> sums(kRanks);
  std::vector<sf::Buffer> send, recv;
  std::vector<sf::CommandEncoder> encs;
  for (int r = 0; r < kRanks; ++r) {
    for (int k = 0; k < 6; ++k)
      sums[r].push_back(make_f32(*g.devices[r], std::vector<float>(kN, float(k + 10 * r))));
    send.push_back(make_f32(*g.devices[r], std::vector<float>(kN, float(r + 1))));
    recv.push_back(make_f32(*g.devices[r], std::vector<float>(kN * kRanks, NAN)));
    encs.push_back(g.devices[r]->command_encoder());
    for (int k = 0; k < 6; ++k) {
      g.comms[r].all_reduce_sum(encs.back(), sums[r][k], kN);
      if (k == 2) g.comms[r].all_gather(encs.back(), send[r], recv[r], kN);
    }
    encs.back().commit();
  }
  for (auto& e : encs) e.wait(std::chrono::seconds(30));
  for (int r = 0; r < kRanks; ++r) {
    for (int k = 0; k < 6; ++k)
      EXPECT_EQ(read_f32(sums[r][k]), std::vector<float>(kN, float(2 * k + 10)))
          << "rank " << r << " sum " << k;
    std::vector<float> want(kN, 1.0f);
    want.resize(2 * kN, 2.0f);
    EXPECT_EQ(read_f32(recv[r]), want);
  }
}

SF_INSTANTIATE_BACKENDS(CommunicatorTest);

TEST(Communicator, RejectsBadGroupsAndRanges) {
  auto expect_code = [](auto&& fn, sf::ErrorCode code, const std::string& words) {
    try {
      fn();
      ADD_FAILURE() << "no error; expected one mentioning '" << words << "'";
    } catch (const sf::Error& e) {
      EXPECT_EQ(e.code(), code) << e.what();
      EXPECT_NE(std::string(e.what()).find(words), std::string::npos) << e.what();
    }
  };
  expect_code([] { sf::Communicator::create_group({}); }, sf::ErrorCode::InvalidArgument, "empty");
  sf::DeviceOptions o;
  o.backend = sf::BackendKind::Cpu;
  sf::Device a = sf::Device::open(o), b = sf::Device::open(o);
  expect_code(
      [&] {
        sf::Communicator::create_group({&a, &a});
      },
      sf::ErrorCode::InvalidArgument, "device 1 appears twice");
  expect_code(
      [&] {
        sf::Communicator::create_group({&a, nullptr});
      },
      sf::ErrorCode::InvalidArgument, "device 1 is null");
  sf::CommunicatorOptions zero;
  zero.timeout = std::chrono::milliseconds(0);
  expect_code(
      [&] {
        sf::Communicator::create_group({&a, &b}, zero);
      },
      sf::ErrorCode::InvalidArgument, "timeout");

  std::vector<sf::Communicator> comms = sf::Communicator::create_group({&a, &b});
  EXPECT_EQ(comms.size(), 2u);
  EXPECT_EQ(comms[1].rank(), 1);
  EXPECT_EQ(comms[0].size(), 2);
  EXPECT_EQ(comms[0].backend(), sf::BackendKind::Cpu);
  EXPECT_NE(comms[0].describe().find("2 rank"), std::string::npos);
  sf::Buffer small = a.alloc(sf::DType::F32, {8});
  sf::CommandEncoder enc = a.command_encoder();
  expect_code([&] { comms[0].all_reduce_sum(enc, small, 0); }, sf::ErrorCode::InvalidArgument,
              "count is 0");
  expect_code([&] { comms[0].all_reduce_sum(enc, small, 9); }, sf::ErrorCode::OutOfRange,
              "holds 32 bytes, needs 36");
  expect_code([&] { comms[0].all_gather(enc, small, small, 8); }, sf::ErrorCode::OutOfRange,
              "receive buffer");
  EXPECT_EQ(enc.dispatch_count(), 0u);  // nothing half-recorded
}

TEST(Communicator, ARankThatNeverArrivesFailsTheGroupNamingItAndNothingHangs) {
  sf::CommunicatorOptions quick;
  quick.timeout = std::chrono::milliseconds(200);
  Group g = *open_group(sf::BackendKind::Cpu, 3, quick);
  std::vector<sf::Buffer> bufs;
  for (int r = 0; r < 3; ++r) bufs.push_back(make_f32(*g.devices[r], std::vector<float>(16, 1.0f)));
  // Ranks 0 and 1 reach the all-reduce; rank 2 never does.
  std::vector<sf::CommandEncoder> encs;
  for (int r = 0; r < 2; ++r) {
    encs.push_back(g.devices[r]->command_encoder());
    encs.back().set_label("reduce " + std::to_string(r));
    g.comms[r].all_reduce_sum(encs.back(), bufs[r], 16);
    encs.back().commit();
  }
  for (int r = 0; r < 2; ++r) {
    try {
      encs[r].wait(std::chrono::seconds(10));
      ADD_FAILURE() << "rank " << r << " completed without rank 2";
    } catch (const sf::Error& e) {
      EXPECT_EQ(e.code(), sf::ErrorCode::KernelFault) << e.what();
      EXPECT_NE(std::string(e.what()).find("rank(s) 2 did not arrive"), std::string::npos)
          << e.what();
      EXPECT_NE(std::string(e.what()).find("reduce " + std::to_string(r)), std::string::npos)
          << e.what();
    }
  }
  // The group stays failed: a later collective fails at once, even with every rank present.
  std::vector<sf::CommandEncoder> again;
  for (int r = 0; r < 3; ++r) {
    again.push_back(g.devices[r]->command_encoder());
    g.comms[r].all_reduce_sum(again.back(), bufs[r], 16);
    again.back().commit();
  }
  for (auto& e : again) EXPECT_THROW(e.wait(std::chrono::seconds(10)), sf::Error);
  // The devices themselves still work.
  sf::CommandEncoder fine = g.devices[2]->command_encoder();
  sftest::fill(fine, bufs[2], 5.0f);
  fine.commit_and_wait();
  EXPECT_EQ(read_f32(bufs[2]), std::vector<float>(16, 5.0f));
}

TEST(Communicator, AReplayAfterTheGroupIsGoneFailsClearly) {
  auto g = std::make_unique<Group>(*open_group(sf::BackendKind::Cpu, 1));
  sf::Buffer buf = make_f32(*g->devices[0], std::vector<float>(4, 2.0f));
  sf::CommandEncoder rec = g->devices[0]->command_encoder();
  rec.begin_capture();
  g->comms[0].all_reduce_sum(rec, buf, 4);
  const sf::CaptureGraph graph = rec.end_capture();
  sf::CommandEncoder enc = g->devices[0]->command_encoder();
  enc.replay(graph);
  enc.commit_and_wait();  // one rank: the sum is the buffer itself
  EXPECT_EQ(read_f32(buf), std::vector<float>(4, 2.0f));
  g->comms.clear();
  enc.reset();
  enc.replay(graph);
  try {
    enc.commit_and_wait();
    ADD_FAILURE() << "replay ran without its communicator group";
  } catch (const sf::Error& e) {
    EXPECT_NE(std::string(e.what()).find("no longer exists"), std::string::npos) << e.what();
  }
}

}  // namespace
