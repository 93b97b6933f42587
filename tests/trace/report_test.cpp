// Run reports (docs/json-schema.md): JSON quoting round-trips, and a measured run's totals and
// per-token figures match the counters of the work it did.
#include "stagefence/report.hpp"

#include <gtest/gtest.h>

#include <cmath>
#include <cstdint>
#include <nlohmann/json.hpp>
#include <random>
#include <string>

#include "stagefence/stagefence.hpp"

namespace sf = stagefence;
using JsonValue = nlohmann::json;

namespace {

TEST(Report, JsonQuoteRoundTripsAwkwardText) {
  std::mt19937 rng(7);
  std::uniform_int_distribution<int> byte(1, 127);
  for (int trial = 0; trial < 200; ++trial) {
    std::string s;
    for (int i = 0; i < 40; ++i) s += static_cast<char>(byte(rng));
    s += "\"\\\n\t\x01";
    EXPECT_EQ(nlohmann::json::parse(sf::json_quote(s)).get_ref<const std::string&>(), s);
  }
  EXPECT_EQ(sf::json_number(std::nan("")), "null");
  EXPECT_EQ(sf::json_number(INFINITY), "null");
  EXPECT_DOUBLE_EQ(nlohmann::json::parse(sf::json_number(-1.25e-7)).get<double>(), -1.25e-7);
}

// b0[i] += s0 over s1 floats.
void add_scalar(const sf::KernelArgs& a, const sf::Launch&, uint64_t, uint64_t) {
  for (uint64_t i = 0; i < a.s[1]; ++i) a.p<float>(0)[i] += a.f32(0);
}

TEST(Report, RunFiguresMatchTheWorkDone) {
  const sf::KernelId id =
      sf::KernelRegistry::global().add_cpu("report_test.add_scalar", add_scalar);
  auto dev = sf::Device::open({sf::BackendKind::Cpu});
  auto s = dev.encoder_session();
  ASSERT_TRUE(s);
  auto buf = dev.alloc(sf::DType::F32, {64});
  const uint64_t tokens = 5, stages = 3;

  sf::RunMeter meter;
  for (uint64_t t = 0; t < tokens; ++t) {
    for (uint64_t st = 0; st < stages; ++st) {
      s->reset_for_next_stage();
      s->encoder().dispatch(id, {sf::reads_writes(buf)}, {1.0f, 64ull});
      if (st + 1 < stages) s->fence_stage();
    }
    s->commit_and_wait();
  }
  sf::RunFigures run = meter.finish("generate", "session", tokens);
  run.model = "unit-test";
  run.figures.push_back({"prefill_ms", 1.5});
  EXPECT_EQ(buf.to_vector<float>()[63], static_cast<float>(tokens * stages));

  const JsonValue doc = nlohmann::json::parse(sf::run_json(run, dev.info()));
  EXPECT_EQ(doc.at("schema").get_ref<const std::string&>(), "stagefence.run/1");
  EXPECT_EQ(doc.at("command").get_ref<const std::string&>(), "generate");
  EXPECT_EQ(doc.at("mode").get_ref<const std::string&>(), "session");
  EXPECT_EQ(doc.at("model").get_ref<const std::string&>(), "unit-test");
  EXPECT_EQ(doc.at("tokens").get<double>(), tokens);
  EXPECT_EQ(doc.at("device").at("backend").get_ref<const std::string&>(), "cpu");
  EXPECT_TRUE(doc.at("device").at("compute_capability").is_null());
  const JsonValue& total = doc.at("total");
  const JsonValue& per = doc.at("per_token");
  EXPECT_EQ(total.at("syncs").get<double>(), tokens);
  EXPECT_EQ(total.at("dispatches").get<double>(), tokens * stages);
  EXPECT_EQ(total.at("fences_signalled").get<double>(), tokens * (stages - 1));
  EXPECT_EQ(per.at("syncs").get<double>(), 1.0);
  EXPECT_EQ(per.at("dispatches").get<double>(), static_cast<double>(stages));
  EXPECT_EQ(per.at("fences").get<double>(), static_cast<double>(stages - 1));
  EXPECT_EQ(per.at("commits").get<double>(), static_cast<double>(stages));
  EXPECT_NEAR(per.at("ms").get<double>(), total.at("wall_ms").get<double>() / tokens,
              1e-5 * total.at("wall_ms").get<double>());
  EXPECT_GT(total.at("wall_ms").get<double>(), 0);
  EXPECT_GE(total.at("host_cpu_ms").get<double>(), 0);
  EXPECT_EQ(doc.at("figures").at("prefill_ms").get<double>(), 1.5);
  EXPECT_EQ(doc.at("counters").at("syncs").get<double>(), tokens);

  sf::RunFigures idle = run;
  idle.tokens = 0;
  const JsonValue bench = nlohmann::json::parse(sf::bench_json("decode", {run, idle}, dev.info()));
  EXPECT_EQ(bench.at("schema").get_ref<const std::string&>(), "stagefence.bench/1");
  EXPECT_EQ(bench.at("benchmark").get_ref<const std::string&>(), "decode");
  ASSERT_EQ(bench.at("runs").size(), 2u);
  EXPECT_FALSE(bench.at("runs")[0].at("per_token").is_null());
  EXPECT_TRUE(bench.at("runs")[1].at("per_token").is_null());
}

}  // namespace
