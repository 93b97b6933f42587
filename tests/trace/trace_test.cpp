// Trace export: a fenced pipeline across two queues on the CPU backend, recorded and read back
// as Chrome trace JSON. Checks the format's required fields, the per-queue and per-thread naming
// metadata, FIFO (non-overlapping) spans per queue, fence order across queues, encode spans,
// per-dispatch lanes, and the recorder's start/stop contract.
#include "stagefence/trace.hpp"

#include <gtest/gtest.h>
#include <stdlib.h>

#include <algorithm>
#include <cmath>
#include <cstdint>
#include <cstdio>
#include <fstream>
#include <limits>
#include <map>
#include <nlohmann/json.hpp>
#include <random>
#include <sstream>
#include <string>
#include <vector>

#include "core/command_buffer.hpp"  // buffer ids, to match spans to the buffers that made them
#include "scoped_env.hpp"
#include "stagefence/stagefence.hpp"

namespace sf = stagefence;
using JsonValue = nlohmann::json;

namespace {

constexpr uint32_t kBlock = 256;

// out[i] = a[i] * s0 + b[i] over s1 floats, one block of 256 elements per grid block.
void axpb_kernel(const sf::KernelArgs& args, const sf::Launch&, uint64_t block_begin,
                 uint64_t block_end) {
  const float* a = args.p<const float>(0);
  const float* b = args.p<const float>(1);
  float* out = args.p<float>(2);
  const float s = args.f32(0);
  const uint64_t n = args.s[1];
  for (uint64_t blk = block_begin; blk < block_end; ++blk)
    for (uint64_t i = blk * kBlock; i < std::min(n, (blk + 1) * kBlock); ++i)
      out[i] = a[i] * s + b[i];
}

sf::Launch axpb_launch(const sf::KernelArgs& args) {
  sf::Launch l;
  l.grid.x = static_cast<uint32_t>((args.s[1] + kBlock - 1) / kBlock);
  return l;
}

void axpb(sf::CommandEncoder& enc, const sf::Buffer& a, const sf::Buffer& b, float s,
          const sf::Buffer& out) {
  static const sf::KernelId id =
      sf::KernelRegistry::global().add_cpu("trace_test.axpb", axpb_kernel, axpb_launch);
  enc.dispatch(id, {sf::reads(a), sf::reads(b), sf::writes(out)},
               {s, static_cast<unsigned long long>(out.size() / sizeof(float))});
}

std::vector<float> random_floats(size_t n, unsigned seed) {
  std::mt19937 rng(seed);
  std::uniform_real_distribution<float> dist(-2.0f, 2.0f);
  std::vector<float> v(n);
  for (float& x : v) x = dist(rng);
  return v;
}

sf::Buffer upload(sf::Device& dev, const std::vector<float>& v) {
  auto b = dev.alloc(sf::DType::F32, {static_cast<int64_t>(v.size())});
  b.upload(v);
  return b;
}

sf::Buffer poisoned(sf::Device& dev, size_t n) {
  return upload(dev, std::vector<float>(n, std::numeric_limits<float>::quiet_NaN()));
}

using sftest::ScopedEnv;

struct Span {
  std::string name;
  int pid = 0;
  uint64_t tid = 0;
  double begin = 0, end = 0;  // microseconds
  const JsonValue* event = nullptr;
};

// The parsed trace with its events sorted into spans, instants and metadata.
struct ParsedTrace {
  JsonValue root;
  std::vector<Span> spans;
  std::vector<const JsonValue*> instants;
  std::map<std::pair<int, uint64_t>, std::string> thread_names;
  std::map<int, std::string> process_names;

  std::vector<Span> spans_on(int pid, uint64_t tid, const std::string& category) const {
    std::vector<Span> out;
    for (const Span& s : spans)
      if (s.pid == pid && s.tid == tid &&
          s.event->at("cat").get_ref<const std::string&>() == category)
        out.push_back(s);
    std::sort(out.begin(), out.end(),
              [](const Span& a, const Span& b) { return a.begin < b.begin; });
    return out;
  }
  const Span& buffer_span(uint64_t buffer_id) const {
    for (const Span& s : spans)
      if (s.event->at("cat").get_ref<const std::string&>() == "command_buffer" &&
          s.event->at("args").at("buffer").get<double>() == static_cast<double>(buffer_id))
        return s;
    throw std::runtime_error("no span for buffer " + std::to_string(buffer_id));
  }
  const Span& named(const std::string& category, const std::string& name) const {
    for (const Span& s : spans)
      if (s.name == name && s.event->at("cat").get_ref<const std::string&>() == category) return s;
    throw std::runtime_error("no " + category + " span named '" + name + "'");
  }
};

// Parses and checks the fields the Chrome trace event format requires of every event.
ParsedTrace parse_trace(const std::string& text) {
  ParsedTrace t;
  t.root = nlohmann::json::parse(text);
  const JsonValue& events = t.root.at("traceEvents");
  EXPECT_TRUE(events.is_array());
  for (const JsonValue& e : events) {
    const std::string& ph = e.at("ph").get_ref<const std::string&>();
    const std::string& name = e.at("name").get_ref<const std::string&>();
    const int pid = static_cast<int>(e.at("pid").get<double>());
    const double tid = e.at("tid").get<double>();
    EXPECT_GE(tid, 0);
    EXPECT_TRUE(e.at("args").is_object());
    if (ph == "M") {
      if (name == "thread_name")
        t.thread_names[{pid, static_cast<uint64_t>(tid)}] =
            e.at("args").at("name").get_ref<const std::string&>();
      else if (name == "process_name")
        t.process_names[pid] = e.at("args").at("name").get_ref<const std::string&>();
      else
        EXPECT_TRUE(name == "thread_sort_index" || name == "process_sort_index") << name;
      continue;
    }
    EXPECT_FALSE(e.at("cat").get_ref<const std::string&>().empty());
    const double ts = e.at("ts").get<double>();
    EXPECT_GE(ts, 0);
    if (ph == "X") {
      const double dur = e.at("dur").get<double>();
      EXPECT_GE(dur, 0) << name;
      t.spans.push_back({name, pid, static_cast<uint64_t>(tid), ts, ts + dur, &e});
    } else {
      EXPECT_EQ(ph, "i") << name;
      EXPECT_EQ(e.at("s").get_ref<const std::string&>(), "t");
      t.instants.push_back(&e);
    }
  }
  return t;
}

// Spans on one track follow each other; the printed times are exact nanoseconds, so the only
// slack needed is double rounding of the parsed decimals.
constexpr double kTimeSlackUs = 1e-6;

void expect_no_overlap(const std::vector<Span>& spans, const std::string& track) {
  for (size_t i = 1; i < spans.size(); ++i)
    EXPECT_GE(spans[i].begin + kTimeSlackUs, spans[i - 1].end)
        << track << ": '" << spans[i].name << "' starts before '" << spans[i - 1].name << "' ends";
}

class TraceExport : public ::testing::Test {
 protected:
  void TearDown() override {
    if (sf::trace::active()) sf::trace::stop();
  }
};

constexpr int kDevicePid = 1;
constexpr int kHostPid = 2;

TEST_F(TraceExport, FencedPipelineAcrossTwoQueues) {
  auto dev = sf::Device::open({sf::BackendKind::Cpu});
  auto side_queue = dev.new_queue("side");
  const size_t n = 3000;
  const auto x = random_floats(n, 11), b = random_floats(n, 12);
  auto bx = upload(dev, x), bb = upload(dev, b);
  auto y0 = poisoned(dev, n), y1 = poisoned(dev, n), z = poisoned(dev, n), out = poisoned(dev, n);
  auto side_done = dev.new_fence("side.done");

  sf::trace::start();
  EXPECT_TRUE(sf::trace::active());
  auto s = dev.encoder_session();
  ASSERT_TRUE(s);
  s->begin_stage("stage.0");
  axpb(s->encoder(), bx, bb, 2.0f, y0);  // y0 = 2x + b
  s->fence_stage();
  const uint64_t stage0_id = s->encoder().current()->id;
  s->reset_for_next_stage();
  s->begin_stage("stage.1");
  axpb(s->encoder(), y0, bb, 3.0f, y1);  // y1 = 3 y0 + b
  s->fence_stage();
  const uint64_t stage1_id = s->encoder().current()->id;

  // The side queue waits for stage.1 through the session's fence and signals its own.
  auto side = dev.command_encoder(side_queue);
  side.set_label("side.work");
  side.wait_for(s->fence(), 2);
  axpb(side, y1, bx, -0.5f, z);  // z = -y1/2 + x
  side.signal(side_done, 1);
  side.commit();
  const uint64_t side_id = side.current()->id;

  s->reset_for_next_stage();
  s->begin_stage("head");
  s->encoder().wait_for(side_done, 1);
  axpb(s->encoder(), z, y0, 1.5f, out);  // out = 1.5 z + y0
  const uint64_t head_id = s->encoder().current()->id;
  s->commit_and_wait();
  dev.synchronize();
  const std::string text = sf::trace::stop();
  EXPECT_FALSE(sf::trace::active());

  // The pipeline computed the right thing (float32 vs double; |values| < 60, 4 roundings).
  const auto got = out.to_vector<float>();
  for (size_t i = 0; i < n; ++i) {
    const double ry0 = 2.0 * x[i] + b[i];
    const double ry1 = 3.0 * ry0 + b[i];
    const double rz = -0.5 * ry1 + x[i];
    const double want = 1.5 * rz + ry0;
    ASSERT_NEAR(got[i], want, 1e-4) << "element " << i;
  }

  const ParsedTrace t = parse_trace(text);
  EXPECT_EQ(t.process_names.at(kDevicePid), "stagefence device");
  EXPECT_EQ(t.process_names.at(kHostPid), "stagefence host");
  const uint64_t main_q = dev.default_queue().id(), side_q = side_queue.id();
  EXPECT_EQ(t.thread_names.at({kDevicePid, main_q}), "queue default");
  EXPECT_EQ(t.thread_names.at({kDevicePid, side_q}), "queue side");

  // One span per buffer, named by its label, on its queue's track.
  const auto main_spans = t.spans_on(kDevicePid, main_q, "command_buffer");
  const auto side_spans = t.spans_on(kDevicePid, side_q, "command_buffer");
  ASSERT_EQ(main_spans.size(), 3u);
  ASSERT_EQ(side_spans.size(), 1u);
  EXPECT_EQ(main_spans[0].name, "stage.0");
  EXPECT_EQ(main_spans[1].name, "stage.1");
  EXPECT_EQ(main_spans[2].name, "head");
  EXPECT_EQ(side_spans[0].name, "side.work");
  for (const Span& sp : main_spans)
    EXPECT_EQ(sp.event->at("args").at("status").get_ref<const std::string&>(), "completed");
  expect_no_overlap(main_spans, "queue default");

  // Fence markers: every wait has a matching signal, and the waiting buffer starts after the
  // signalling buffer ends.
  std::map<std::pair<std::string, double>, uint64_t> signaller;  // (fence, value) -> buffer
  size_t waits = 0;
  for (const JsonValue* e : t.instants) {
    const JsonValue& a = e->at("args");
    if (e->at("name").get_ref<const std::string&>().rfind("signal ", 0) == 0)
      signaller[{a.at("fence").get_ref<const std::string&>(), a.at("value").get<double>()}] =
          static_cast<uint64_t>(a.at("buffer").get<double>());
  }
  for (const JsonValue* e : t.instants) {
    if (e->at("name").get_ref<const std::string&>().rfind("wait ", 0) != 0) continue;
    ++waits;
    const JsonValue& a = e->at("args");
    const auto it =
        signaller.find({a.at("fence").get_ref<const std::string&>(), a.at("value").get<double>()});
    ASSERT_NE(it, signaller.end())
        << "no signal for " << e->at("name").get_ref<const std::string&>();
    const Span& producer = t.buffer_span(it->second);
    const Span& consumer = t.buffer_span(static_cast<uint64_t>(a.at("buffer").get<double>()));
    EXPECT_GE(consumer.begin + kTimeSlackUs, producer.end)
        << "'" << consumer.name << "' started before '" << producer.name << "' signalled";
    EXPECT_DOUBLE_EQ(e->at("ts").get<double>(), consumer.begin);
  }
  EXPECT_EQ(waits, 4u);  // stage.1 <- stage.0, side <- stage.1, head <- stage.1, head <- side
  EXPECT_EQ(signaller.count({"session", 1.0}), 1u);
  EXPECT_EQ(signaller.at({"session", 2.0}), stage1_id);
  EXPECT_EQ(signaller.at({"side.done", 1.0}), side_id);
  EXPECT_EQ(t.buffer_span(stage0_id).name, "stage.0");
  EXPECT_GE(t.buffer_span(head_id).begin + kTimeSlackUs, t.buffer_span(side_id).end);

  // Encode spans: one per committed buffer on the host, each ending before its buffer runs.
  size_t encodes = 0;
  for (const Span& sp : t.spans) {
    if (sp.event->at("cat").get_ref<const std::string&>() != "encode") continue;
    ++encodes;
    EXPECT_EQ(sp.pid, kHostPid);
    EXPECT_TRUE(t.thread_names.count({kHostPid, sp.tid})) << "unnamed encode track " << sp.tid;
    const Span& run =
        t.buffer_span(static_cast<uint64_t>(sp.event->at("args").at("buffer").get<double>()));
    EXPECT_EQ(sp.name, "encode " + run.name);
    EXPECT_LE(sp.end, run.begin + kTimeSlackUs) << sp.name;
  }
  EXPECT_EQ(encodes, 4u);
  // All encoding happened on this thread: one host track.
  const uint64_t host_tid = t.named("encode", "encode stage.0").tid;
  expect_no_overlap(t.spans_on(kHostPid, host_tid, "encode"), "encoding thread");
}

// A buffer holding several stages (one launch per token) shows each stage as its own span on
// the queue's track, inside the buffer's span and in stage order, covering its dispatches.
TEST_F(TraceExport, StageMarksBecomeStageSpansInsideTheirBuffer) {
  const ScopedEnv profile("STAGEFENCE_PROFILE_DISPATCHES", "1");
  auto dev = sf::Device::open({sf::BackendKind::Cpu});
  const size_t n = 20000;
  const auto x = random_floats(n, 31), b = random_floats(n, 32);
  auto bx = upload(dev, x), bb = upload(dev, b);
  auto y = poisoned(dev, n), z = poisoned(dev, n), w = poisoned(dev, n);

  sf::trace::start();
  auto enc = dev.command_encoder();
  enc.set_label("token");
  axpb(enc, bx, bb, 0.5f, y);
  enc.barrier();
  axpb(enc, y, bb, 2.0f, z);
  axpb(enc, y, bx, -1.0f, w);
  enc.barrier();
  axpb(enc, z, w, 1.5f, y);
  enc.set_stage_marks(std::make_shared<std::vector<sf::StageMark>>(
      std::vector<sf::StageMark>{{0, "embed"}, {1, "layer.0"}, {3, "head"}}));
  enc.commit_and_wait();
  const ParsedTrace t = parse_trace(sf::trace::stop());

  const auto got = y.to_vector<float>();
  for (size_t k = 0; k < n; k += 97) {
    const double y0 = 0.5 * x[k] + b[k];
    ASSERT_NEAR(got[k], 1.5 * (2.0 * y0 + b[k]) + (-y0 + x[k]), 1e-4);
  }
  const uint64_t q = dev.default_queue().id();
  const std::vector<Span> stages = t.spans_on(kDevicePid, q, "stage");
  ASSERT_EQ(stages.size(), 3u);
  EXPECT_EQ(stages[0].name, "embed");
  EXPECT_EQ(stages[1].name, "layer.0");
  EXPECT_EQ(stages[2].name, "head");
  expect_no_overlap(stages, "stages");
  const Span& owner = t.named("command_buffer", "token");
  EXPECT_EQ(owner.event->at("args").at("stages").get<double>(), 3.0);
  std::vector<Span> dispatches;
  for (const Span& sp : t.spans)
    if (sp.event->at("cat").get_ref<const std::string&>() == "dispatch") dispatches.push_back(sp);
  ASSERT_EQ(dispatches.size(), 4u);
  for (const Span& st : stages) {
    EXPECT_GE(st.begin + kTimeSlackUs, owner.begin) << st.name;
    EXPECT_LE(st.end, owner.end + kTimeSlackUs) << st.name;
  }
  for (const Span& d : dispatches) {
    const size_t i = static_cast<size_t>(d.event->at("args").at("dispatch").get<double>());
    const Span& st = stages[i == 0 ? 0 : i < 3 ? 1 : 2];
    EXPECT_GE(d.begin + kTimeSlackUs, st.begin) << "dispatch " << i << " starts before " << st.name;
    EXPECT_LE(d.end, st.end + kTimeSlackUs) << "dispatch " << i << " ends after " << st.name;
  }
}

TEST_F(TraceExport, DispatchSpansFillLanesInsideTheirBuffer) {
  const ScopedEnv profile("STAGEFENCE_PROFILE_DISPATCHES", "1");
  auto dev = sf::Device::open({sf::BackendKind::Cpu});
  const size_t n = 20000;
  const auto x = random_floats(n, 21), b = random_floats(n, 22);
  auto bx = upload(dev, x), bb = upload(dev, b);
  std::vector<sf::Buffer> outs;
  for (int i = 0; i < 6; ++i) outs.push_back(poisoned(dev, n));

  sf::trace::start();
  auto enc = dev.command_encoder();
  enc.set_label("independent");
  for (int i = 0; i < 6; ++i) axpb(enc, bx, bb, static_cast<float>(i + 1), outs[i]);  // concurrent
  enc.commit_and_wait();
  enc.reset();
  enc.set_label("chained");
  axpb(enc, bx, bb, 0.25f, outs[0]);
  axpb(enc, outs[0], bb, -1.0f, outs[1]);  // reads what the first wrote: runs after it
  enc.commit_and_wait();
  const ParsedTrace t = parse_trace(sf::trace::stop());

  for (int i = 2; i < 6; ++i) {
    const auto got = outs[i].to_vector<float>();
    for (size_t k = 0; k < n; k += 97) ASSERT_NEAR(got[k], (i + 1.0) * x[k] + b[k], 1e-5);
  }
  const auto chained = outs[1].to_vector<float>();
  for (size_t k = 0; k < n; k += 97) ASSERT_NEAR(chained[k], -(0.25 * x[k] + b[k]) + b[k], 1e-5);

  const uint64_t q = dev.default_queue().id();
  std::map<uint64_t, std::vector<Span>> lanes;
  size_t dispatches = 0;
  for (const Span& sp : t.spans) {
    if (sp.event->at("cat").get_ref<const std::string&>() != "dispatch") continue;
    ++dispatches;
    EXPECT_EQ(sp.name, "trace_test.axpb");
    EXPECT_EQ(sp.pid, kDevicePid);
    EXPECT_TRUE(t.thread_names.count({kDevicePid, sp.tid})) << "unnamed lane " << sp.tid;
    EXPECT_NE(sp.tid, q);
    const Span& owner =
        t.named("command_buffer", sp.event->at("args").at("label").get_ref<const std::string&>());
    EXPECT_GE(sp.begin + kTimeSlackUs, owner.begin) << "dispatch starts before its buffer";
    EXPECT_LE(sp.end, owner.end + kTimeSlackUs) << "dispatch ends after its buffer";
    lanes[sp.tid].push_back(sp);
  }
  EXPECT_EQ(dispatches, 8u);
  for (auto& [tid, spans] : lanes) {
    std::sort(spans.begin(), spans.end(),
              [](const Span& a, const Span& b) { return a.begin < b.begin; });
    expect_no_overlap(spans, t.thread_names.at({kDevicePid, tid}));
  }
  // The dependent pair: the second dispatch starts after the first ends.
  std::vector<Span> pair;
  for (const auto& [tid, spans] : lanes)
    for (const Span& sp : spans)
      if (sp.event->at("args").at("label").get_ref<const std::string&>() == "chained")
        pair.push_back(sp);
  ASSERT_EQ(pair.size(), 2u);
  std::sort(pair.begin(), pair.end(), [](const Span& a, const Span& b) {
    return a.event->at("args").at("dispatch").get<double>() <
           b.event->at("args").at("dispatch").get<double>();
  });
  EXPECT_GE(pair[1].begin + kTimeSlackUs, pair[0].end);
}

TEST_F(TraceExport, FailedBufferAndPoisonedWaiterAreMarked) {
  static const sf::KernelId fail_id = sf::KernelRegistry::global().add_cpu(
      "trace_test.fail", [](const sf::KernelArgs&, const sf::Launch&, uint64_t, uint64_t) {
        throw std::runtime_error("deliberate fault");
      });
  auto dev = sf::Device::open({sf::BackendKind::Cpu});
  auto buf = poisoned(dev, 64);
  sf::trace::start();
  auto s = dev.encoder_session();
  s->begin_stage("faulty");
  s->encoder().dispatch(fail_id, {sf::writes(buf)});
  s->fence_stage();
  s->reset_for_next_stage();
  s->begin_stage("downstream");
  axpb(s->encoder(), buf, buf, 1.0f, buf);
  EXPECT_THROW(s->commit_and_wait(), sf::Error);
  const ParsedTrace t = parse_trace(sf::trace::stop());
  const Span& faulty = t.named("command_buffer", "faulty");
  EXPECT_EQ(faulty.event->at("args").at("status").get_ref<const std::string&>(), "failed");
  EXPECT_NE(
      faulty.event->at("args").at("error").get_ref<const std::string&>().find("deliberate fault"),
      std::string::npos);
  EXPECT_EQ(t.named("command_buffer", "downstream")
                .event->at("args")
                .at("status")
                .get_ref<const std::string&>(),
            "failed");
  bool poison_marker = false;
  for (const JsonValue* e : t.instants)
    poison_marker |= e->at("name").get_ref<const std::string&>() == "poison session";
  EXPECT_TRUE(poison_marker);
}

TEST_F(TraceExport, WritesTheFileGivenToStart) {
  auto dev = sf::Device::open({sf::BackendKind::Cpu});
  const std::string path = ::testing::TempDir() + "stagefence_trace_test.json";
  auto a = upload(dev, random_floats(500, 31)), out = poisoned(dev, 500);
  {
    sf::trace::Scope scope(path);
    EXPECT_TRUE(sf::trace::active());
    auto enc = dev.command_encoder();
    enc.set_label("file \"quoted\" label\twith tab");
    axpb(enc, a, a, 1.0f, out);
    enc.commit_and_wait();
  }
  EXPECT_FALSE(sf::trace::active());
  std::ifstream in(path);
  std::stringstream text;
  text << in.rdbuf();
  const ParsedTrace t = parse_trace(text.str());
  EXPECT_EQ(t.named("command_buffer", "file \"quoted\" label\twith tab").tid,
            dev.default_queue().id());
  std::remove(path.c_str());
}

TEST_F(TraceExport, StartStopContract) {
  EXPECT_FALSE(sf::trace::active());
  EXPECT_THROW(sf::trace::stop(), sf::Error);
  EXPECT_THROW(sf::trace::start("/nonexistent-dir/stagefence/trace.json"), sf::Error);
  EXPECT_FALSE(sf::trace::active());
  {
    sf::trace::Scope no_trace("");
    EXPECT_FALSE(sf::trace::active());
  }

  // Work done while not recording leaves nothing behind.
  auto dev = sf::Device::open({sf::BackendKind::Cpu});
  auto a = upload(dev, random_floats(100, 41)), out = poisoned(dev, 100);
  auto enc = dev.command_encoder();
  axpb(enc, a, a, 2.0f, out);
  enc.commit_and_wait();
  sf::trace::start();
  EXPECT_THROW(sf::trace::start(), sf::Error);
  EXPECT_EQ(sf::trace::event_count(), 0u);
  enc.reset();
  enc.set_label("recorded");
  axpb(enc, a, a, 2.0f, out);
  enc.commit_and_wait();
  EXPECT_EQ(sf::trace::event_count(), 2u);  // its encode span and its queue span
  const ParsedTrace t = parse_trace(sf::trace::stop());
  EXPECT_EQ(t.spans.size(), 2u);
  EXPECT_EQ(t.named("command_buffer", "recorded").pid, kDevicePid);
}

}  // namespace
