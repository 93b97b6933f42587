// Replay of a capture into an empty buffer appends the capture's compiled form in one step. It
// must record exactly what re-recording every node records (dispatches, dependencies, counters,
// hazard state for what follows), keep its memory alive, and fall back to re-recording where the
// compiled form does not apply (a non-empty buffer, other recording flags, edited graphs).
#include <algorithm>
#include <cstdint>
#include <cstdlib>
#include <cstring>
#include <functional>
#include <optional>
#include <random>
#include <string>
#include <unordered_map>

#include "core/command_buffer.hpp"
#include "core/hazard_tracker.hpp"
#include "scoped_env.hpp"
#include "test_support.hpp"

using namespace sftest;

namespace {

// The tracker as first written (one list of ranges per allocation): the reference the faster
// tracker must agree with, dependency for dependency.
class ReferenceTracker {
 public:
  void add(uint32_t index, const sf::RangeAccess* accesses, size_t count,
           std::vector<uint32_t>& deps) {
    deps.assign(barrier_deps_.begin(), barrier_deps_.end());
    for (size_t i = 0; i < count; ++i) {
      const auto& a = accesses[i];
      const bool writes = is_write(a.access);
      auto it = by_alloc_.find(a.alloc_id);
      if (it == by_alloc_.end()) continue;
      for (const Entry& e : it->second)
        if (e.begin < a.end && a.begin < e.end && (writes || e.writes)) deps.push_back(e.index);
    }
    std::sort(deps.begin(), deps.end());
    deps.erase(std::unique(deps.begin(), deps.end()), deps.end());
    for (size_t i = 0; i < count; ++i) {
      const auto& a = accesses[i];
      const bool writes = is_write(a.access);
      auto& list = by_alloc_[a.alloc_id];
      if (writes)
        std::erase_if(list, [&](const Entry& e) {
          return e.index != index && e.begin >= a.begin && e.end <= a.end;
        });
      list.push_back({a.begin, a.end, index, writes});
    }
    since_barrier_.push_back(index);
  }
  bool barrier() {
    if (since_barrier_.empty()) return false;
    barrier_deps_ = since_barrier_;
    since_barrier_.clear();
    by_alloc_.clear();
    return true;
  }
  size_t barrier_dep_count() const { return barrier_deps_.size(); }

 private:
  static bool is_write(sf::Access a) {
    return (static_cast<uint8_t>(a) & static_cast<uint8_t>(sf::Access::Write)) != 0;
  }
  struct Entry {
    uint64_t begin, end;
    uint32_t index;
    bool writes;
  };
  std::unordered_map<uint64_t, std::vector<Entry>> by_alloc_;
  std::vector<uint32_t> since_barrier_, barrier_deps_;
};

// What a buffer recorded, comparable field by field.
struct Recorded {
  std::vector<sf::DispatchRecord> dispatches;
  std::vector<uint32_t> deps;
};

Recorded recorded(const sf::CommandEncoder& enc) {
  return {enc.current()->dispatches, enc.current()->deps};
}

void expect_same(const Recorded& want, const Recorded& got) {
  ASSERT_EQ(want.dispatches.size(), got.dispatches.size());
  for (size_t i = 0; i < want.dispatches.size(); ++i) {
    const auto& w = want.dispatches[i];
    const auto& g = got.dispatches[i];
    EXPECT_EQ(w.kernel, g.kernel) << "dispatch " << i;
    EXPECT_EQ(w.def, g.def) << "dispatch " << i;
    EXPECT_EQ(std::memcmp(&w.launch, &g.launch, sizeof w.launch), 0) << "launch of dispatch " << i;
    EXPECT_EQ(std::memcmp(&w.args, &g.args, sizeof w.args), 0) << "args of dispatch " << i;
    EXPECT_EQ(w.dep_begin, g.dep_begin) << "dispatch " << i;
    EXPECT_EQ(w.dep_count, g.dep_count) << "dispatch " << i;
  }
  EXPECT_EQ(want.deps, got.deps);
}

struct Counted {
  uint64_t dispatches, dependencies, concurrent, barriers_auto, barriers_explicit;
  bool operator==(const Counted&) const = default;
};

std::ostream& operator<<(std::ostream& os, const Counted& c) {
  return os << "{dispatches " << c.dispatches << ", dependencies " << c.dependencies
            << ", concurrent " << c.concurrent << ", auto barriers " << c.barriers_auto
            << ", explicit barriers " << c.barriers_explicit << "}";
}

// The recording counters that `body` moves.
template <typename Body>
Counted counted(Body body) {
  const auto before = sf::counters::snapshot();
  body();
  const auto d = sf::counters::snapshot() - before;
  return {d.dispatches, d.dependencies, d.concurrent_dispatches, d.barriers_auto,
          d.barriers_explicit};
}

// Views of one allocation, independent buffers, barriers, a read-write binding and an explicit
// launch: every path of the tracker and of launch resolution.
struct Mixed {
  sf::Buffer big, lo, hi, c, d, e;
  explicit Mixed(sf::Device& dev)
      : big(dev.alloc(sf::DType::F32, {256})),
        lo(big.view(0, 512).as(sf::DType::F32, {128})),
        hi(big.view(512, 512).as(sf::DType::F32, {128})),
        c(dev.alloc(sf::DType::F32, {128})),
        d(dev.alloc(sf::DType::F32, {128})),
        e(dev.alloc(sf::DType::F32, {128})) {}

  void record(sf::CommandEncoder& enc) const {
    fill(enc, lo, 1.0f);
    fill(enc, hi, 2.0f);  // disjoint view: concurrent
    add(enc, lo, hi, c);
    enc.barrier();
    mul(enc, c, c, d);
    fill(enc, lo, 3.0f);
    add(enc, d, lo, e);
    enc.dispatch("add_f32", {sf::reads(e), sf::reads(d), sf::reads_writes(c)}, {128});
    enc.barrier();
    enc.barrier();  // orders nothing new
    sf::Launch l;
    l.grid.x = 3;
    l.block.x = 32;
    enc.dispatch("fill_f32", {sf::writes(e)}, {128, 0.5f}, l);
    add(enc, big.view(256, 512).as(sf::DType::F32, {128}), c, d);  // straddles lo and hi
  }
};

sf::CaptureGraph capture(sf::Device& dev, const std::function<void(sf::CommandEncoder&)>& body) {
  auto enc = dev.command_encoder();
  enc.begin_capture();
  body(enc);
  return enc.end_capture();
}

}  // namespace

TEST(HazardTrackerRewrite, AgreesWithTheReferenceOnRandomSequences) {
  std::mt19937_64 rng(7);
  sf::HazardTracker fast;
  for (int round = 0; round < 40; ++round) {
    fast.reset();  // reuse across rounds, as an encoder does across buffers
    ReferenceTracker ref;
    const int allocs = 1 + round % 6;
    for (uint32_t index = 0; index < 300; ++index) {
      if (rng() % 23 == 0) {
        ASSERT_EQ(ref.barrier(), fast.barrier()) << "round " << round << " before " << index;
        if (rng() % 2) {
          ASSERT_EQ(ref.barrier(), fast.barrier());
        }
      }
      sf::RangeAccess acc[5];
      const size_t n = rng() % 6;
      for (size_t i = 0; i < n; ++i) {
        const uint64_t begin = rng() % 64, len = rng() % 24;
        const sf::Access kinds[] = {sf::Access::Read, sf::Access::Write, sf::Access::ReadWrite};
        acc[i] = {1 + rng() % allocs, begin, begin + len, kinds[rng() % 3]};
      }
      std::vector<uint32_t> want, got;
      ref.add(index, acc, n, want);
      fast.add(index, acc, n, got);
      ASSERT_EQ(want, got) << "round " << round << " dispatch " << index;
      ASSERT_EQ(ref.barrier_dep_count(), fast.barrier_dep_count());
    }
  }
}

TEST(HazardTrackerRewrite, ManyAllocationsGrowTheTable) {
  sf::HazardTracker t;
  std::vector<uint32_t> deps;
  for (uint32_t i = 0; i < 1000; ++i) {
    const sf::RangeAccess w{1000 + i, 0, 8, sf::Access::Write};
    t.add(i, &w, 1, deps);
    EXPECT_TRUE(deps.empty());
  }
  for (uint32_t i = 0; i < 1000; ++i) {
    const sf::RangeAccess r{1000 + i, 4, 5, sf::Access::Read};
    t.add(1000 + i, &r, 1, deps);
    EXPECT_EQ(deps, std::vector<uint32_t>{i});
  }
}

class ReplayFastPath : public BackendTest {};
SF_INSTANTIATE_BACKENDS(ReplayFastPath);

TEST_P(ReplayFastPath, RecordsExactlyWhatReRecordingRecords) {
  Mixed m(dev());
  const auto graph = capture(dev(), [&](sf::CommandEncoder& enc) { m.record(enc); });
  for (int flags = 0; flags < 3; ++flags) {
    // Recording flags are read per buffer: the compiled form follows them, not the capture's.
    std::optional<ScopedEnv> env;
    if (flags == 1) env.emplace("STAGEFENCE_FORCE_SERIAL", "1");
    if (flags == 2) env.emplace("STAGEFENCE_AUTO_BARRIER", "0");
    SCOPED_TRACE("flags " + std::to_string(flags));
    auto live = dev().command_encoder();
    const Counted live_counts = counted([&] { m.record(live); });
    for (int rep = 0; rep < 2; ++rep) {  // compiles, then reuses the compiled form
      auto enc = dev().command_encoder();
      const Counted replay_counts = counted([&] { enc.replay(graph); });
      EXPECT_NE(enc.current()->replay_id, 0u) << "the bulk path was not taken";
      EXPECT_EQ(live_counts, replay_counts);
      expect_same(recorded(live), recorded(enc));
    }
  }
}

TEST_P(ReplayFastPath, WorkAfterAReplayIsOrderedAsAfterReRecording) {
  Mixed m(dev());
  const auto graph = capture(dev(), [&](sf::CommandEncoder& enc) { m.record(enc); });
  auto more = [&](sf::CommandEncoder& enc) {
    add(enc, m.e, m.hi, m.c);  // RAW on e and hi, WAW/WAR on c
    enc.barrier();
    fill(enc, m.lo, 4.0f);
  };
  auto live = dev().command_encoder();
  const Counted live_counts = counted([&] {
    m.record(live);
    more(live);
    m.record(live);  // a second pass: all of it after the first
  });
  auto enc = dev().command_encoder();
  const Counted replay_counts = counted([&] {
    enc.replay(graph);
    more(enc);
    enc.replay(graph);  // into a non-empty buffer: re-recorded against what is there
  });
  EXPECT_EQ(enc.current()->replay_id, 0u) << "the buffer is no longer one replay";
  EXPECT_EQ(live_counts, replay_counts);
  expect_same(recorded(live), recorded(enc));
}

TEST_P(ReplayFastPath, ReplayIntoANonEmptyBufferRunsAfterEarlierWrites) {
  auto acc = dev().alloc(sf::DType::F32, {64});
  auto one = make_f32(dev(), std::vector<float>(64, 1.0f));
  auto twice = dev().alloc(sf::DType::F32, {64});
  // acc += 1, then twice = acc + acc: each replay reads what the work before it wrote.
  const auto graph = capture(dev(), [&](sf::CommandEncoder& enc) {
    add(enc, acc, one, acc);
    add(enc, acc, acc, twice);
  });
  auto enc = dev().command_encoder();
  fill(enc, acc, 10.0f);
  enc.replay(graph);
  enc.replay(graph);
  enc.replay(graph);
  // Each replayed read of acc waits for the write before it.
  const auto& cb = *enc.current();
  ASSERT_EQ(cb.dispatches.size(), 7u);
  for (size_t i : {1u, 3u, 5u}) {
    const auto& d = cb.dispatches[i];
    const std::vector<uint32_t> deps(cb.deps.begin() + d.dep_begin,
                                     cb.deps.begin() + d.dep_begin + d.dep_count);
    EXPECT_NE(std::find(deps.begin(), deps.end(), uint32_t(i - 1)), deps.end()) << "dispatch " << i;
  }
  enc.commit_and_wait();
  EXPECT_EQ(read_f32(acc), std::vector<float>(64, 13.0f));
  EXPECT_EQ(read_f32(twice), std::vector<float>(64, 26.0f));

  // A replay first in its buffer, then live work that overwrites what the replay reads (WAR).
  enc.reset();
  enc.replay(graph);
  EXPECT_NE(enc.current()->replay_id, 0u);
  fill(enc, acc, 100.0f);
  enc.commit_and_wait();
  EXPECT_EQ(read_f32(twice), std::vector<float>(64, 28.0f));
  EXPECT_EQ(read_f32(acc), std::vector<float>(64, 100.0f));
}

TEST_P(ReplayFastPath, ReplayKeepsFreedBuffersAlive) {
  auto out = dev().alloc(sf::DType::F32, {256});
  std::optional<sf::CaptureGraph> graph;
  {
    auto a = dev().alloc(sf::DType::F32, {256});
    auto b = dev().alloc(sf::DType::F32, {256});
    graph = capture(dev(), [&](sf::CommandEncoder& enc) {
      fill(enc, a, 1.25f);
      fill(enc, b, 2.0f);
      add(enc, a, b, out);
    });
  }  // the caller's handles are gone: the graph holds the memory
  auto enc = dev().command_encoder();
  enc.replay(*graph);
  enc.commit_and_wait();
  EXPECT_EQ(read_f32(out)[255], 3.25f);

  // Replayed, then the graph is destroyed before the buffer runs: the buffer holds the memory.
  enc.reset();
  fill(enc, out, 0.0f);
  enc.commit_and_wait();
  enc.reset();
  auto gate = dev().new_fence("replay.gate");
  enc.wait_for(gate, 1);  // no dispatch: the buffer is still empty for the replay
  enc.replay(*graph);
  EXPECT_NE(enc.current()->replay_id, 0u);
  const auto before = sf::counters::snapshot();
  graph.reset();
  enc.commit();
  EXPECT_EQ(sf::counters::snapshot().live_allocations, before.live_allocations);
  gate.signal(1);
  enc.wait();
  EXPECT_EQ(read_f32(out)[0], 3.25f);
  // Once the buffer completed, nothing holds the two inputs any more.
  EXPECT_EQ(sf::counters::snapshot().live_allocations, before.live_allocations - 2);
}

TEST_P(ReplayFastPath, EditedGraphsAndReRegisteredKernelsReplayTheirNewForm) {
  auto x = dev().alloc(sf::DType::F32, {32});
  auto graph = capture(dev(), [&](sf::CommandEncoder& enc) { fill(enc, x, 1.0f); });
  auto enc = dev().command_encoder();
  enc.replay(graph);
  enc.commit_and_wait();
  EXPECT_EQ(read_f32(x)[0], 1.0f);

  graph.mutable_nodes()[0].dispatch.scalars[1] = sf::Scalar(7.0f).word;
  enc.reset();
  enc.replay(graph);
  enc.commit_and_wait();
  EXPECT_EQ(read_f32(x)[31], 7.0f);

  if (!is_cpu()) return;  // the kernel below has a CPU implementation only
  static auto write = [](const sf::KernelArgs& a, float v) {
    float* p = a.p<float>(0);
    for (uint64_t i = 0; i < a.len[0] / sizeof(float); ++i) p[i] = v;
  };
  auto& reg = sf::KernelRegistry::global();
  const sf::KernelId k = reg.add_cpu(
      "test.replay_writes",
      [](const sf::KernelArgs& a, const sf::Launch&, uint64_t, uint64_t) { write(a, 1.0f); });
  auto g2 = capture(dev(), [&](sf::CommandEncoder& e) { e.dispatch(k, {sf::writes(x)}); });
  enc.reset();
  enc.replay(g2);
  enc.commit_and_wait();
  EXPECT_EQ(read_f32(x)[0], 1.0f);
  reg.add_cpu("test.replay_writes", [](const sf::KernelArgs& a, const sf::Launch&, uint64_t,
                                       uint64_t) { write(a, 2.0f); });
  enc.reset();
  enc.replay(g2);
  enc.commit_and_wait();
  EXPECT_EQ(read_f32(x)[0], 2.0f);
}

TEST_P(ReplayFastPath, ErrorsAreThoseOfReRecording) {
  auto x = dev().alloc(sf::DType::F32, {32});
  const auto graph = capture(dev(), [&](sf::CommandEncoder& enc) { fill(enc, x, 1.0f); });
  auto enc = dev().command_encoder();
  enc.commit_and_wait();
  try {
    enc.replay(graph);
    FAIL() << "replay into a committed buffer";
  } catch (const sf::Error& e) {
    EXPECT_EQ(e.code(), sf::ErrorCode::State);
  }

  auto other = sf::Device::open({sf::BackendKind::Cpu});
  auto enc2 = other.command_encoder();
  try {
    enc2.replay(graph);  // bindings of another device: rebind() first
    FAIL() << "replay of another device's buffers";
  } catch (const sf::Error& e) {
    EXPECT_EQ(e.code(), sf::ErrorCode::InvalidArgument);
    EXPECT_NE(std::string(e.what()).find("belongs to another device"), std::string::npos);
  }
  EXPECT_EQ(enc2.dispatch_count(), 0u);
}

TEST_P(ReplayFastPath, ReplayWhileCapturingCapturesTheNodes) {
  auto x = dev().alloc(sf::DType::F32, {32});
  const auto inner = capture(dev(), [&](sf::CommandEncoder& enc) {
    fill(enc, x, 1.0f);
    enc.barrier();
    add(enc, x, x, x);
  });
  auto enc = dev().command_encoder();
  enc.begin_capture();
  enc.replay(inner);
  auto outer = enc.end_capture();
  EXPECT_EQ(enc.dispatch_count(), 0u);
  EXPECT_EQ(outer.dispatch_count(), 2u);
  EXPECT_EQ(outer.barrier_count(), 1u);
  enc.replay(outer);
  enc.commit_and_wait();
  EXPECT_EQ(read_f32(x)[0], 2.0f);
}

TEST(ReplayFastPathUnretained, ReplaysWithoutRetainingAndRunsCorrectly) {
  std::optional<sf::Device> dev;
  {
    ScopedEnv env("STAGEFENCE_UNRETAINED_REFS", "1");
    dev = sf::Device::open({sf::BackendKind::Cpu});
  }
  auto a = dev->alloc(sf::DType::F32, {64});
  auto b = dev->alloc(sf::DType::F32, {64});
  const auto graph = capture(*dev, [&](sf::CommandEncoder& enc) {
    fill(enc, a, 2.0f);
    add(enc, a, a, b);
  });
  auto enc = dev->command_encoder();
  enc.replay(graph);
  EXPECT_NE(enc.current()->replay_id, 0u);
  EXPECT_TRUE(enc.current()->retained.empty());
  EXPECT_TRUE(enc.current()->retained_replays.empty());
  enc.commit_and_wait();
  EXPECT_EQ(read_f32(b)[63], 4.0f);
}
