// Host cost of CommandEncoder::dispatch and CommandEncoder::replay, per dispatch, on the CPU
// backend: 1000 dispatches of add_f32 with 3 bindings, recorded live or replayed from a capture.
// Nothing is committed, so only recording is timed. Prints a table; --json writes the rows.
#include <algorithm>
#include <chrono>
#include <cstdint>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <fstream>
#include <initializer_list>
#include <string>
#include <vector>

#include "stagefence/stagefence.hpp"

namespace sf = stagefence;
using Clock = std::chrono::steady_clock;

namespace {

constexpr int kDispatches = 1000;

double median(std::vector<double> v) {
  std::sort(v.begin(), v.end());
  return v[v.size() / 2];
}

// Stands in for dispatch() in the caller-cost row: takes the same arguments, records nothing.
[[gnu::noinline]] void consume(std::initializer_list<sf::Binding> bindings,
                               std::initializer_list<sf::Scalar> scalars) {
  static volatile uint64_t sink;
  sink = bindings.size() + scalars.size();
  (void)sink;  // read back, so the store is "used" under -Wunused-but-set-variable
}

double min_of(const std::vector<double>& v) {
  return *std::min_element(v.begin(), v.end());
}

struct Row {
  std::string name;
  double median_us, min_us;
};

// One timed round: a fresh encoder, then `body` records kDispatches dispatches into it.
template <typename Body>
Row measure(const std::string& name, sf::Device& dev, int reps, Body body,
            int expected = kDispatches) {
  std::vector<double> per;
  for (int r = 0; r < reps; ++r) {
    auto enc = dev.command_encoder();
    const auto t = Clock::now();
    body(enc);
    per.push_back(std::chrono::duration<double, std::micro>(Clock::now() - t).count() /
                  kDispatches);
    if (enc.dispatch_count() != static_cast<uint64_t>(expected)) {
      std::fprintf(stderr, "%s: recorded %llu dispatches, expected %d\n", name.c_str(),
                   (unsigned long long)enc.dispatch_count(), expected);
      std::exit(1);
    }
  }
  return {name, median(per), min_of(per)};
}

}  // namespace

int main(int argc, char** argv) {
  std::string json_path;
  int reps = 200;
  for (int i = 1; i < argc; ++i) {
    if (!std::strcmp(argv[i], "--json") && i + 1 < argc) {
      json_path = argv[++i];
    } else if (!std::strcmp(argv[i], "--reps") && i + 1 < argc) {
      reps = std::max(1, std::atoi(argv[++i]));
    } else {
      std::fprintf(stderr, "usage: %s [--json out.json] [--reps N]\n", argv[0]);
      return 2;
    }
  }
  sf::DeviceOptions o;
  o.backend = sf::BackendKind::Cpu;
  sf::Device dev = sf::Device::open(o);
  const sf::KernelId add = dev.kernels().id("add_f32");
  auto x = dev.alloc(sf::DType::F32, {256}), y = dev.alloc(sf::DType::F32, {256});

  // The same chain as bench/runtime_costs: every dispatch reads x and y and writes x.
  auto record_chain = [&](sf::CommandEncoder& enc) {
    for (int i = 0; i < kDispatches; ++i)
      enc.dispatch(add, {sf::reads(x), sf::reads(y), sf::writes(x)}, {256});
  };
  // Independent dispatches over 50 outputs: wider hazard-tracker state, fewer dependencies.
  std::vector<sf::Buffer> outs;
  for (int i = 0; i < 50; ++i) outs.push_back(dev.alloc(sf::DType::F32, {256}));
  auto record_fan = [&](sf::CommandEncoder& enc) {
    for (int i = 0; i < kDispatches; ++i)
      enc.dispatch(add, {sf::reads(x), sf::reads(y), sf::writes(outs[i % outs.size()])}, {256});
  };
  auto capture = [&](auto record) {
    auto enc = dev.command_encoder();
    enc.begin_capture();
    record(enc);
    return enc.end_capture();
  };
  const sf::CaptureGraph chain = capture(record_chain);
  const sf::CaptureGraph fan = capture(record_fan);

  std::vector<Row> rows;
  for (int warm = 0; warm < 2; ++warm) {  // the first pass warms caches and the pool
    rows.clear();
    // What building the arguments costs the caller (included in the record rows).
    rows.push_back(measure(
        "caller: building 3 bindings", dev, reps,
        [&](sf::CommandEncoder&) {
          for (int i = 0; i < kDispatches; ++i)
            consume({sf::reads(x), sf::reads(y), sf::writes(x)}, {256});
        },
        0));
    rows.push_back(measure("record: chain, 3 bindings", dev, reps, record_chain));
    rows.push_back(measure("record: fan-out over 50 buffers", dev, reps, record_fan));
    rows.push_back(measure("replay: chain, 1000-node graph", dev, reps,
                           [&](sf::CommandEncoder& enc) { enc.replay(chain); }));
    rows.push_back(measure("replay: fan-out, 1000-node graph", dev, reps,
                           [&](sf::CommandEncoder& enc) { enc.replay(fan); }));
  }

  std::printf("%-36s %14s %14s\n", "CPU us per dispatch", "median", "min");
  for (const Row& r : rows)
    std::printf("%-36s %14.4f %14.4f\n", r.name.c_str(), r.median_us, r.min_us);
  if (!json_path.empty()) {
    std::ofstream os(json_path);
    os << "{\"unit\":\"us per dispatch\",\"dispatches\":" << kDispatches << ",\"reps\":" << reps
       << ",\"rows\":[";
    for (size_t i = 0; i < rows.size(); ++i)
      os << (i ? "," : "") << "{\"name\":\"" << rows[i].name
         << "\",\"median\":" << rows[i].median_us << ",\"min\":" << rows[i].min_us << "}";
    os << "]}\n";
  }
  return 0;
}
