// CPU cost per executed dispatch on the CPU backend: one command buffer of 1000 dependent
// add_f32 dispatches is recorded, committed and waited for; the wall time and the process's
// CPU time (all threads) are divided by the dispatch count. Two sizes: 256 elements (one block,
// so pure dispatch overhead) and 2^16 elements (four blocks, split across the compute threads).
// Prints a table; --json writes the rows.
//   ./build/bench/cpu_dispatch/cpu_dispatch [--json out.json] [--reps N]
#include <algorithm>
#include <chrono>
#include <cstdint>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <ctime>
#include <fstream>
#include <string>
#include <vector>

#include "stagefence/stagefence.hpp"

namespace sf = stagefence;
using Clock = std::chrono::steady_clock;

namespace {

constexpr int kDispatches = 1000;

double process_cpu_us() {
  timespec ts{};
  clock_gettime(CLOCK_PROCESS_CPUTIME_ID, &ts);
  return double(ts.tv_sec) * 1e6 + double(ts.tv_nsec) * 1e-3;
}

double median(std::vector<double> v) {
  std::sort(v.begin(), v.end());
  return v[v.size() / 2];
}

struct Row {
  std::string name;
  int64_t elements;
  double wall_us, cpu_us;  // per executed dispatch, medians over the repetitions
};

}  // namespace

int main(int argc, char** argv) {
  std::string json_path;
  int reps = 30;
  for (int i = 1; i < argc; ++i) {
    if (!std::strcmp(argv[i], "--json") && i + 1 < argc) {
      json_path = argv[++i];
    } else if (!std::strcmp(argv[i], "--reps") && i + 1 < argc) {
      reps = std::atoi(argv[++i]);
      if (reps < 1) {
        std::fprintf(stderr, "--reps %s: must be a whole number of at least 1\n", argv[i]);
        return 2;
      }
    } else {
      std::fprintf(stderr, "usage: %s [--json out.json] [--reps N]\n", argv[0]);
      return 2;
    }
  }
  sf::DeviceOptions o;
  o.backend = sf::BackendKind::Cpu;
  sf::Device dev = sf::Device::open(o);
  const sf::KernelId add = dev.kernels().id("add_f32");
  std::vector<Row> rows;
  for (int64_t n : {int64_t(256), int64_t(1) << 16}) {
    auto x = dev.alloc(sf::DType::F32, {n}), y = dev.alloc(sf::DType::F32, {n});
    std::vector<double> wall, cpu;
    for (int r = 0; r < reps + 2; ++r) {
      auto enc = dev.command_encoder();
      for (int i = 0; i < kDispatches; ++i)
        enc.dispatch(add, {sf::reads(x), sf::reads(y), sf::writes(x)}, {n});
      const double c0 = process_cpu_us();
      const auto t0 = Clock::now();
      enc.commit_and_wait();
      const auto t1 = Clock::now();
      const double c1 = process_cpu_us();
      if (r < 2) continue;  // warm-up
      wall.push_back(std::chrono::duration<double, std::micro>(t1 - t0).count() / kDispatches);
      cpu.push_back((c1 - c0) / kDispatches);
    }
    rows.push_back({"chain of dependent add_f32", n, median(wall), median(cpu)});
  }
  std::printf("CPU backend, %d compute threads, %d dependent dispatches per buffer\n",
              dev.info().cpu_workers, kDispatches);
  std::printf("%-28s %10s %14s %14s\n", "dispatches", "elements", "wall us/disp", "cpu us/disp");
  for (const Row& r : rows)
    std::printf("%-28s %10lld %14.2f %14.2f\n", r.name.c_str(), (long long)r.elements, r.wall_us,
                r.cpu_us);
  if (!json_path.empty()) {
    std::ofstream f(json_path);
    f << "{\"schema\": \"stagefence.cpu_dispatch/1\", \"cpu_workers\": " << dev.info().cpu_workers
      << ", \"rows\": [";
    for (size_t i = 0; i < rows.size(); ++i)
      f << (i ? ", " : "") << "{\"name\": \"" << rows[i].name
        << "\", \"elements\": " << rows[i].elements
        << ", \"wall_us_per_dispatch\": " << rows[i].wall_us
        << ", \"cpu_us_per_dispatch\": " << rows[i].cpu_us << "}";
    f << "]}\n";
    if (!f) {
      std::fprintf(stderr, "could not write %s\n", json_path.c_str());
      return 1;
    }
  }
  return 0;
}
