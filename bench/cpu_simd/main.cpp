// Single-thread speed of the CPU SIMD dots on every instruction set this machine runs, against
// the scalar definitions: a 1536 x 768 weight matrix times one activation vector, per weight
// type, in G multiply-adds per second of the thread's CPU time (best of the repetitions). The
// "reference" column is the scalar C++ definition; the last, Highway's one-lane fallback target.
// "f32r" rows: all rows through one row_dots call (f32 activations, as the matvec kernels call it).
// "q8r" rows: all rows through one dot_q8_rows call, as the decode kernels call it.
//   ./build/bench/cpu_simd/cpu_simd [--reps N]
#include <algorithm>
#include <cstdint>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <ctime>
#include <random>
#include <string>
#include <vector>

#include "kernels/cpu/q8_dot.hpp"
#include "kernels/cpu/simd/simd.hpp"
#include "kernels/cpu/simd/simd_target.hpp"
#include "kernels/dequant.hpp"
#include "kernels/quantize.hpp"

namespace sf = stagefence;
namespace simd = stagefence::kernels::cpu::simd;

namespace {

constexpr int kRows = 1536, kCols = 768;

double thread_ns() {
  timespec t{};
  clock_gettime(CLOCK_THREAD_CPUTIME_ID, &t);
  return double(t.tv_sec) * 1e9 + double(t.tv_nsec);
}

// G multiply-adds per second of the best of `reps` passes of row_fn over every row.
template <typename F>
double gmacs(int reps, F row_fn) {
  volatile float sink = 0.0f;
  double best = 1e30;
  for (int r = 0; r < reps; ++r) {
    const double t0 = thread_ns();
    float s = 0.0f;
    for (int row = 0; row < kRows; ++row) s += row_fn(row);
    sink = s;
    best = std::min(best, thread_ns() - t0);
  }
  (void)sink;
  return double(kRows) * kCols / best;
}

// The same for one call that computes every row.
template <typename F>
double gmacs_all(int reps, F all_fn) {
  volatile float sink = 0.0f;
  double best = 1e30;
  for (int r = 0; r < reps; ++r) {
    const double t0 = thread_ns();
    sink = all_fn();
    best = std::min(best, thread_ns() - t0);
  }
  (void)sink;
  return double(kRows) * kCols / best;
}

}  // namespace

int main(int argc, char** argv) {
  int reps = 20;
  for (int i = 1; i < argc; ++i) {
    if (!std::strcmp(argv[i], "--reps") && i + 1 < argc && std::atoi(argv[i + 1]) >= 1) {
      reps = std::atoi(argv[++i]);
    } else {
      std::fprintf(stderr, "usage: %s [--reps N]   (N a whole number of at least 1)\n", argv[0]);
      return 2;
    }
  }
  std::mt19937 rng(1);
  std::normal_distribution<float> dist;
  std::vector<float> wf(size_t(kRows) * kCols), x(kCols);
  for (float& v : wf) v = dist(rng);
  for (float& v : x) v = dist(rng);
  std::vector<sf::kernels::ActBlockQ8> xq(kCols / sf::kernels::kActBlock);
  sf::kernels::cpu::quantize_activations(x.data(), kCols, xq.data());
  const std::vector<int64_t> targets = simd::runnable_targets();

  std::printf("GMAC/s, one thread, %d x %d; q8: 8-bit activations, f32: f32 activations\n", kRows,
              kCols);
  std::printf("%-6s %-4s %10s", "type", "act", "reference");
  for (int64_t t : targets) std::printf(" %10s", simd::target_name(t).c_str());
  std::printf("\n");
  using sf::DType;
  for (DType type : {DType::Q8_0, DType::Q4_0, DType::Q4_1, DType::Q5_0, DType::Q4_K, DType::Q5_K,
                     DType::Q6_K, DType::F16, DType::BF16, DType::F32}) {
    const std::vector<uint8_t> w = sf::kernels::quantize(type, wf);
    const uint64_t rb = sf::dtype_bytes(type, kCols);
    for (const bool q8 : {true, false}) {
      if (q8 && !sf::kernels::cpu::is_q8_activation_type(type)) continue;
      std::printf("%-6s %-4s", std::string(sf::dtype_name(type)).c_str(), q8 ? "q8" : "f32");
      const double scalar =
          q8 ? gmacs(reps,
                     [&](int r) {
                       return sf::kernels::cpu::dot_q8_row(type, w.data() + r * rb, xq.data(),
                                                           kCols);
                     })
             : gmacs(reps, [&](int r) {
                 return sf::kernels::dot(type, w.data() + r * rb, x.data(), kCols);
               });
      std::printf(" %10.2f", scalar);
      for (int64_t t : targets) {
        simd::use_target(t);
        const simd::FloatDotFn row_dot = simd::row_dot(type);
        const double v =
            q8 ? gmacs(reps,
                       [&](int r) {
                         return simd::dot_q8_row(type, w.data() + r * rb, xq.data(), kCols);
                       })
               : gmacs(reps, [&](int r) { return row_dot(w.data() + r * rb, x.data(), kCols); });
        std::printf(" %10.2f", v);
      }
      simd::use_target(targets.front());
      std::printf("\n");
    }
    // Every row through one call, per target: row_dots with f32 activations (the logits head's
    // matvec) and dot_q8_rows with 8-bit ones (the decode kernels' form: eight rows share each
    // activation load where the target allows). No reference column: see the single-row lines.
    std::vector<const uint8_t*> rows(kRows);
    for (int r = 0; r < kRows; ++r) rows[size_t(r)] = w.data() + uint64_t(r) * rb;
    std::vector<float> out(kRows);
    const auto all_rows_line = [&](const char* act, const auto& call) {
      std::printf("%-6s %-4s %10s", std::string(sf::dtype_name(type)).c_str(), act, "-");
      for (int64_t t : targets) {
        simd::use_target(t);
        const double v = gmacs_all(reps, [&] {
          call();
          return out[0];
        });
        std::printf(" %10.2f", v);
      }
      simd::use_target(targets.front());
      std::printf("\n");
    };
    all_rows_line("f32r",
                  [&] { simd::row_dots(type, rows.data(), kRows, x.data(), kCols, out.data()); });
    if (sf::kernels::cpu::is_q8_activation_type(type))
      all_rows_line("q8r", [&] {
        simd::dot_q8_rows(type, rows.data(), kRows, xq.data(), kCols, out.data());
      });
  }
  return 0;
}
