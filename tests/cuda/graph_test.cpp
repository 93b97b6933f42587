// Command buffers as CUDA graphs: real concurrency between independent dispatches, strict order
// between dependent ones, the graph cache (no instantiation or update on an identical commit,
// in-place update on changed scalars), and the eager path giving the same results.
#include <cmath>
#include <cstdint>
#include <limits>

#include "cuda_test_support.hpp"
#include "scoped_env.hpp"

using namespace cudatest;

namespace {

constexpr uint64_t kSpinNs = 3'000'000;  // 3 ms: far longer than any launch gap

// out = a * b + a, computed by two dependent dispatches; compared with a double reference.
void run_mul_add_and_check(sf::Device& dev, uint32_t seed) {
  const size_t n = 100'003;  // not a multiple of the block size
  const auto a = random_floats(n, seed), b = random_floats(n, seed + 1);
  auto da = upload_f32(dev, a), db = upload_f32(dev, b);
  auto prod = poisoned_f32(dev, n), out = poisoned_f32(dev, n);
  auto enc = dev.command_encoder();
  enc.dispatch("mul_f32", {sf::reads(da), sf::reads(db), sf::writes(prod)}, {uint64_t(n)});
  enc.dispatch("add_f32", {sf::reads(prod), sf::reads(da), sf::writes(out)}, {uint64_t(n)});
  EXPECT_EQ(enc.dependency_count(), 1u);
  enc.commit_and_wait();
  const auto got = out.to_vector<float>();
  // Each float operation rounds once: relative error at most 2 ulp of float against double.
  for (size_t i = 0; i < n; ++i) {
    const double ref = double(a[i]) * double(b[i]) + double(a[i]);
    ASSERT_NEAR(got[i], ref, 1e-6 * std::max(1.0, std::fabs(ref)) + 1e-6) << "index " << i;
  }
}

}  // namespace

TEST(CudaGraphs, TwoIndependentSpinsRunAtTheSameTime) {
  SF_OPEN_CUDA_OR_SKIP(dev);
  if (!dev.info().graphs) GTEST_SKIP() << "graphs are off (STAGEFENCE_CUDA_GRAPHS=0)";
  auto s1 = dev.alloc(16), s2 = dev.alloc(16);
  auto enc = dev.command_encoder();
  spin(enc, s1, kSpinNs);
  spin(enc, s2, kSpinNs);
  EXPECT_EQ(enc.dependency_count(), 0u);
  enc.commit_and_wait();
  const Interval a = read_interval(s1), b = read_interval(s2);
  const uint64_t overlap_begin = std::max(a.start, b.start), overlap_end = std::min(a.end, b.end);
  ASSERT_LT(overlap_begin, overlap_end) << "independent dispatches ran one after the other";
  EXPECT_GT(overlap_end - overlap_begin, kSpinNs / 2);
}

TEST(CudaGraphs, DependentSpinsNeverOverlap) {
  SF_OPEN_CUDA_OR_SKIP(dev);
  auto s1 = dev.alloc(16), s2 = dev.alloc(16);
  auto enc = dev.command_encoder();
  spin(enc, s1, kSpinNs);
  enc.dispatch("timestamp_spin", {sf::writes(s2), sf::reads(s1)}, {kSpinNs});  // reads s1
  EXPECT_EQ(enc.dependency_count(), 1u);
  enc.commit_and_wait();
  const Interval a = read_interval(s1), b = read_interval(s2);
  EXPECT_GE(b.start, a.end);
}

TEST(CudaGraphs, IdenticalCommitInstantiatesNothingAndLaunchesOnce) {
  SF_OPEN_CUDA_OR_SKIP(dev);
  if (!dev.info().graphs) GTEST_SKIP() << "graphs are off (STAGEFENCE_CUDA_GRAPHS=0)";
  const size_t n = 4099;
  const auto x = random_floats(n, 11);
  auto dx = upload_f32(dev, x);
  auto y = poisoned_f32(dev, n), z = poisoned_f32(dev, n);
  auto record = [&](float fill_value) {
    auto enc = dev.command_encoder();
    enc.dispatch("fill_f32", {sf::writes(y)}, {uint64_t(n), fill_value});
    enc.dispatch("add_f32", {sf::reads(dx), sf::reads(y), sf::writes(z)}, {uint64_t(n)});
    enc.commit_and_wait();
  };
  record(1.5f);
  const auto before = sf::counters::snapshot();
  record(1.5f);
  const auto same = sf::counters::snapshot() - before;
  EXPECT_EQ(same.graph_instantiations, 0u);
  EXPECT_EQ(same.graph_updates, 0u);
  EXPECT_EQ(same.graph_launches, 1u);

  // Changed scalars: the cached graph is updated in place, not rebuilt.
  const auto before_update = sf::counters::snapshot();
  record(-2.25f);
  const auto changed = sf::counters::snapshot() - before_update;
  EXPECT_EQ(changed.graph_instantiations, 0u);
  EXPECT_EQ(changed.graph_updates, 1u);
  EXPECT_EQ(changed.graph_launches, 1u);
  const auto got = z.to_vector<float>();
  for (size_t i = 0; i < n; ++i) ASSERT_EQ(got[i], x[i] + -2.25f) << "index " << i;

  // Back to the first scalars: one more in-place update, still no instantiation.
  const auto before_back = sf::counters::snapshot();
  record(1.5f);
  EXPECT_EQ((sf::counters::snapshot() - before_back).graph_instantiations, 0u);
  EXPECT_EQ(z.to_vector<float>()[n - 1], x[n - 1] + 1.5f);
}

TEST(CudaGraphs, LayersWithOneTopologyEachReplayWithoutUpdates) {
  SF_OPEN_CUDA_OR_SKIP(dev);
  if (!dev.info().graphs) GTEST_SKIP() << "graphs are off (STAGEFENCE_CUDA_GRAPHS=0)";
  constexpr int kLayers = 6;
  const size_t n = 1024;
  std::vector<sf::Buffer> w;
  for (int l = 0; l < kLayers; ++l) w.push_back(upload_f32(dev, random_floats(n, 100 + l)));
  auto act = upload_f32(dev, random_floats(n, 7, 0.5f, 1.0f));
  auto step = [&] {
    for (int l = 0; l < kLayers; ++l) {  // same kernels and edges per layer, other weights
      auto enc = dev.command_encoder();
      enc.dispatch("mul_f32", {sf::reads(act), sf::reads(w[l]), sf::writes(act)}, {uint64_t(n)});
      enc.commit();
    }
    dev.synchronize();
  };
  step();
  const auto before = sf::counters::snapshot();
  step();
  const auto d = sf::counters::snapshot() - before;
  EXPECT_EQ(d.graph_instantiations, 0u);
  EXPECT_EQ(d.graph_updates, 0u);
  EXPECT_EQ(d.graph_launches, uint64_t(kLayers));
}

TEST(CudaGraphs, GraphResultsMatchTheDoubleReference) {
  SF_OPEN_CUDA_OR_SKIP(dev);
  run_mul_add_and_check(dev, 1234);
}

TEST(CudaEager, EagerPathGivesTheSameResultsWithoutGraphs) {
  sftest::ScopedEnv no_graphs("STAGEFENCE_CUDA_GRAPHS", "0");
  SF_OPEN_CUDA_OR_SKIP(dev);
  EXPECT_FALSE(dev.info().graphs);
  const auto before = sf::counters::snapshot();
  run_mul_add_and_check(dev, 1234);
  EXPECT_EQ((sf::counters::snapshot() - before).graph_launches, 0u);
  // Dependencies still hold on the eager path.
  auto s1 = dev.alloc(16), s2 = dev.alloc(16);
  auto enc = dev.command_encoder();
  spin(enc, s1, kSpinNs);
  enc.dispatch("timestamp_spin", {sf::writes(s2), sf::reads(s1)}, {kSpinNs});
  enc.commit_and_wait();
  EXPECT_GE(read_interval(s2).start, read_interval(s1).end);
}

TEST(CudaTimes, TimestampsAndPerDispatchProfile) {
  sftest::ScopedEnv profile("STAGEFENCE_PROFILE_DISPATCHES", "1");
  SF_OPEN_CUDA_OR_SKIP(dev);
  auto s1 = dev.alloc(16), s2 = dev.alloc(16);
  auto enc = dev.command_encoder();
  enc.set_label("profiled");
  spin(enc, s1, kSpinNs);
  spin(enc, s2, kSpinNs);
  enc.commit_and_wait();
  const auto t = enc.times();
  ASSERT_TRUE(t.valid);
  EXPECT_GE(t.gpu_us, 2 * kSpinNs / 1000.0 * 0.99);  // profiling serialises the two spins
  ASSERT_EQ(t.dispatches.size(), 2u);
  for (const auto& d : t.dispatches) EXPECT_GE(d.end_us - d.start_us, kSpinNs / 1000.0 * 0.99);
  EXPECT_GE(t.dispatches[1].start_us, t.dispatches[0].end_us);
  EXPECT_GE(t.submit_to_done_us, t.gpu_us);
}

TEST(CudaTimes, PerBufferTimestamps) {
  SF_OPEN_CUDA_OR_SKIP(dev);
  auto s1 = dev.alloc(16);
  auto enc = dev.command_encoder();
  enc.enable_timestamps();
  spin(enc, s1, kSpinNs);
  enc.commit_and_wait();
  const auto t = enc.times();
  ASSERT_TRUE(t.valid);
  EXPECT_GE(t.gpu_us, kSpinNs / 1000.0 * 0.99);
  EXPECT_LT(t.gpu_us, kSpinNs / 1000.0 * 20);
  EXPECT_TRUE(t.dispatches.empty());
}

TEST(CudaResidency, HotAllocationGetsTheL2WindowAndResultsStayRight) {
  SF_OPEN_CUDA_OR_SKIP(dev);
  const size_t n = 1 << 20;
  const auto x = random_floats(n, 99);
  auto hot = upload_f32(dev, x);
  auto out = poisoned_f32(dev, n);
  ASSERT_TRUE(dev.residency().mark_hot(hot));
  for (int round = 0; round < 3; ++round) {
    auto enc = dev.command_encoder();
    enc.dispatch("add_f32", {sf::reads(hot), sf::reads(hot), sf::writes(out)}, {uint64_t(n)});
    enc.commit_and_wait();
  }
  const auto got = out.to_vector<float>();
  for (size_t i = 0; i < n; i += 331) ASSERT_EQ(got[i], x[i] + x[i]) << "index " << i;
}
