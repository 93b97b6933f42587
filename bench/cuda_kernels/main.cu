// cuda_kernels_check: times the decode-critical CUDA forward-pass kernels against the measured
// device-to-device copy bandwidth. Prints a table last; --json PATH writes the same rows as JSON.
// Correctness lives in ctest: tests/kernels/backend_ops_test.cpp and decode_fused_test.cpp run
// every kernel on every backend against double-precision references.
#include <cuda_runtime.h>

#include <algorithm>
#include <cmath>
#include <cstdint>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <random>
#include <string>
#include <vector>

#include "kernels/cuda/kernel_table.hpp"
#include "kernels/kernel_spec.hpp"
#include "kernels/quant_blocks.hpp"
#include "stagefence/dtype.hpp"

using namespace stagefence;
namespace q = stagefence::quant;
namespace kc = stagefence::kernels::cuda;

#define CK(call)                                                                             \
  do {                                                                                       \
    cudaError_t e_ = (call);                                                                 \
    if (e_ != cudaSuccess) {                                                                 \
      std::fprintf(stderr, "CUDA error %s at %s:%d: %s\n", cudaGetErrorString(e_), __FILE__, \
                   __LINE__, #call);                                                         \
      std::exit(2);                                                                          \
    }                                                                                        \
  } while (0)

namespace {

std::mt19937_64 rng(20240611);
double uni(double lo, double hi) {
  return std::uniform_real_distribution<double>(lo, hi)(rng);
}

struct Row {
  std::string kernel, shape, status;
  double us = 0, gbps = 0, pct = 0;
};
std::vector<Row> rows_out;
double copy_gbps = 0;

// The forward weight types, by the runtime's dtype table.
struct TypeInfo {
  std::string name;
  int64_t block_elems;
  int64_t block_bytes;
};
const std::vector<TypeInfo>& weight_types() {
  static const std::vector<TypeInfo> types = [] {
    std::vector<TypeInfo> out;
    for (DType t : {DType::F32, DType::F16, DType::BF16, DType::Q8_0, DType::Q4_0, DType::Q4_1,
                    DType::Q5_0, DType::Q4_K, DType::Q5_K, DType::Q6_K}) {
      const DTypeInfo* info = dtype_info(t);
      out.push_back({std::string(info->name), info->block_elems, info->block_bytes});
    }
    return out;
  }();
  return types;
}

// ---- device buffers and launching ----
struct Buf {
  void* p = nullptr;
  size_t n = 0;
};
Buf dalloc(size_t n) {
  Buf b;
  b.n = n;
  CK(cudaMalloc(&b.p, n < 16 ? 16 : n));
  return b;
}
template <typename T>
Buf upload(const std::vector<T>& v) {
  Buf b = dalloc(v.size() * sizeof(T));
  CK(cudaMemcpy(b.p, v.data(), b.n, cudaMemcpyHostToDevice));
  return b;
}
const kc::CudaKernelEntry& entry(const std::string& name) {
  for (const auto& e : kc::cuda_forward_kernel_table()) {
    if (name == e.name) return e;
  }
  std::fprintf(stderr, "kernel %s is not in the table\n", name.c_str());
  std::exit(2);
}

struct Args {
  KernelArgs a{};
  Args& bind(const Buf& b) {
    a.ptr[a.num_bindings] = b.p;
    a.len[a.num_bindings++] = b.n;
    return *this;
  }
  Args& none() {
    a.ptr[a.num_bindings] = nullptr;
    a.len[a.num_bindings++] = 0;
    return *this;
  }
  Args& s(Scalar v) {
    a.s[a.num_scalars++] = v.word;
    return *this;
  }
};

void launch(const std::string& name, const KernelArgs& a, cudaStream_t stream = nullptr) {
  const kc::CudaKernelEntry& e = entry(name);
  if (e.enqueue != nullptr) {
    e.enqueue(a, stream);
  } else {
    const Launch l = e.launch(a);
    KernelArgs copy = a;
    void* params[] = {&copy};
    CK(cudaLaunchKernel(e.kernel, dim3(l.grid.x, l.grid.y, l.grid.z),
                        dim3(l.block.x, l.block.y, l.block.z), params, l.shared_bytes, stream));
  }
  CK(cudaGetLastError());
}

std::vector<float> rand_f32(size_t n, double lo = -1, double hi = 1) {
  std::vector<float> v(n);
  for (auto& x : v) x = float(uni(lo, hi));
  return v;
}

// Random weights of a type: plain values in [-1, 1]; block types with random quants and
// scales of a realistic size.
std::vector<uint8_t> rand_weights(const TypeInfo& t, int64_t rows, int64_t cols) {
  const int64_t nblocks = rows * cols / t.block_elems;
  std::vector<uint8_t> w(nblocks * t.block_bytes);
  for (auto& b : w) b = uint8_t(rng());
  auto put_half = [&](uint8_t* p, double v) {
    const uint16_t hv = q::float_to_half(float(v));
    std::memcpy(p, &hv, 2);
  };
  for (int64_t b = 0; b < nblocks; ++b) {
    uint8_t* p = w.data() + b * t.block_bytes;
    if (t.name == "f32") {
      const float f = float(uni(-1, 1));
      std::memcpy(p, &f, 4);
    } else if (t.name == "f16") {
      put_half(p, uni(-1, 1));
    } else if (t.name == "bf16") {
      const uint16_t v = q::float_to_bf16(float(uni(-1, 1)));
      std::memcpy(p, &v, 2);
    } else if (t.name == "q6_k") {
      put_half(p + 208, uni(0.001, 0.01));
    } else if (t.name == "q4_k" || t.name == "q5_k") {
      put_half(p, uni(0.001, 0.01));
      put_half(p + 2, uni(0.001, 0.01));
    } else if (t.name == "q4_1") {
      put_half(p, uni(0.01, 0.1));
      put_half(p + 2, uni(-0.5, 0.0));
    } else {
      put_half(p, uni(0.01, 0.1) * (rng() & 1 ? 1 : -1));
    }
  }
  return w;
}

// ---- timing ----
// Median time (us) of `iters` runs of f(i), each bracketed by events, after `warm` runs.
template <typename F>
double time_median(F&& f, int warm = 5, int iters = 40) {
  cudaEvent_t e0, e1;
  CK(cudaEventCreate(&e0));
  CK(cudaEventCreate(&e1));
  for (int i = 0; i < warm; ++i) f(i);
  std::vector<float> ms;
  for (int i = 0; i < iters; ++i) {
    CK(cudaEventRecord(e0));
    f(i);
    CK(cudaEventRecord(e1));
    CK(cudaEventSynchronize(e1));
    float t;
    CK(cudaEventElapsedTime(&t, e0, e1));
    ms.push_back(t);
  }
  CK(cudaEventDestroy(e0));
  CK(cudaEventDestroy(e1));
  std::sort(ms.begin(), ms.end());
  return ms[ms.size() / 2] * 1000.0;
}

// Per-launch time (us) inside CUDA graphs of `per_graph` back-to-back launches, the way a
// captured decode step runs them (no per-launch host overhead). enqueue(i, stream) enqueues
// launch i; graph g holds launches g*per_graph .. +per_graph-1, enough graphs that launch
// indices cover `distinct` inputs; the graphs are replayed in turn and the median is taken.
template <typename F>
double time_graph_per_launch(F&& enqueue, int distinct, int per_graph = 20, int iters = 30) {
  cudaStream_t stream;
  CK(cudaStreamCreateWithFlags(&stream, cudaStreamNonBlocking));
  const int graphs = std::max(1, (distinct + per_graph - 1) / per_graph);
  std::vector<cudaGraphExec_t> execs;
  for (int g = 0; g < graphs; ++g) {
    CK(cudaStreamBeginCapture(stream, cudaStreamCaptureModeThreadLocal));
    for (int j = 0; j < per_graph; ++j) enqueue(g * per_graph + j, stream);
    cudaGraph_t graph;
    CK(cudaStreamEndCapture(stream, &graph));
    cudaGraphExec_t exec;
    CK(cudaGraphInstantiate(&exec, graph, 0));
    CK(cudaGraphDestroy(graph));
    execs.push_back(exec);
  }
  cudaEvent_t e0, e1;
  CK(cudaEventCreate(&e0));
  CK(cudaEventCreate(&e1));
  for (int i = 0; i < 3; ++i) CK(cudaGraphLaunch(execs[i % graphs], stream));
  std::vector<float> ms;
  for (int i = 0; i < iters; ++i) {
    CK(cudaEventRecord(e0, stream));
    CK(cudaGraphLaunch(execs[i % graphs], stream));
    CK(cudaEventRecord(e1, stream));
    CK(cudaEventSynchronize(e1));
    float t;
    CK(cudaEventElapsedTime(&t, e0, e1));
    ms.push_back(t);
  }
  for (cudaGraphExec_t e : execs) CK(cudaGraphExecDestroy(e));
  CK(cudaEventDestroy(e0));
  CK(cudaEventDestroy(e1));
  CK(cudaStreamDestroy(stream));
  std::sort(ms.begin(), ms.end());
  return ms[ms.size() / 2] * 1000.0 / per_graph;
}

void add_timing(const std::string& kernel, const std::string& shape, double us, double bytes,
                double target_pct) {
  Row r;
  r.kernel = kernel;
  r.shape = shape;
  r.us = us;
  r.gbps = bytes / (us * 1e-6) / 1e9;
  r.pct = copy_gbps > 0 ? 100.0 * r.gbps / copy_gbps : 0;
  r.status = target_pct <= 0 ? "-" : (r.pct >= target_pct ? "MET" : "MISSED");
  std::printf("time  %-16s %-34s %9.2f us %8.1f GB/s %6.1f%%  %s\n", kernel.c_str(), shape.c_str(),
              r.us, r.gbps, r.pct, r.status.c_str());
  rows_out.push_back(r);
}

void time_copy() {
  const size_t n = size_t(1) << 30;
  Buf a = dalloc(n), b = dalloc(n);
  CK(cudaMemset(a.p, 0x5a, n));
  const double us =
      time_median([&](int) { CK(cudaMemcpyAsync(b.p, a.p, n, cudaMemcpyDeviceToDevice)); }, 3, 20);
  copy_gbps = 2.0 * n / (us * 1e-6) / 1e9;
  add_timing("memcpy d2d", "1 GiB (read+write)", us, 2.0 * n, 0);
  CK(cudaFree(a.p));
  CK(cudaFree(b.p));
}

void time_matvec() {
  const std::vector<std::pair<int64_t, int64_t>> shapes = {
      {4096, 4096}, {1024, 4096}, {14336, 4096}, {4096, 14336}, {128256, 4096}};
  for (const auto& t : weight_types()) {
    const double target = t.name == "bf16" ? 90 : (t.name == "q8_0" || t.name == "q4_0") ? 80 : 0;
    for (const auto& [rows, cols] : shapes) {
      const int64_t bytes = rows * (cols / t.block_elems * t.block_bytes);
      // Enough weight copies that one pass over them is 4x the 50 MB L2.
      const int copies = int(std::max<int64_t>(2, (200ll << 20) / bytes + 1));
      std::vector<Buf> ws;
      const auto w = rand_weights(t, std::min<int64_t>(rows, 4096), cols);
      for (int i = 0; i < copies; ++i) {
        Buf b = dalloc(bytes);
        for (int64_t off = 0; off < bytes; off += int64_t(w.size())) {
          CK(cudaMemcpy(static_cast<char*>(b.p) + off, w.data(),
                        std::min<int64_t>(w.size(), bytes - off), cudaMemcpyHostToDevice));
        }
        ws.push_back(b);
      }
      Buf dx = upload(rand_f32(cols)), dy = dalloc(rows * 4);
      std::vector<KernelArgs> args;
      for (int i = 0; i < copies; ++i) {
        Args a;
        a.bind(ws[i]).bind(dx).bind(dy).none().s(rows).s(cols).s(0);
        args.push_back(a.a);
      }
      const std::string name = "matvec." + t.name;
      const std::string shape = std::to_string(rows) + "x" + std::to_string(cols);
      const double moved = double(bytes) + cols * 4.0 + rows * 4.0;
      const double us = time_median([&](int i) { launch(name, args[i % copies]); });
      add_timing(name, shape + " single", us, moved, 0);
      const double graph_us = time_graph_per_launch(
          [&](int i, cudaStream_t s) { launch(name, args[i % copies], s); }, copies);
      add_timing(name, shape + " graph x20", graph_us, moved, target);
      for (Buf& b : ws) CK(cudaFree(b.p));
      CK(cudaFree(dx.p));
      CK(cudaFree(dy.p));
    }
  }
}

void time_attention() {
  const int64_t heads = 32, kvh = 8, hd = 128, cap = 8192, splits = 32;
  const int copies = 4;  // 4 caches of 2 x 16.8 MB each: more than L2
  std::vector<uint16_t> cache(kvh * cap * hd);
  for (auto& v : cache) v = q::float_to_half(float(uni(-1, 1)));
  std::vector<Buf> ks, vs;
  for (int i = 0; i < copies; ++i) {
    ks.push_back(upload(cache));
    vs.push_back(upload(cache));
  }
  Buf dq = upload(rand_f32(heads * hd)), dpart = dalloc(heads * splits * (hd + 2) * 4),
      dout = dalloc(heads * hd * 4);
  for (int64_t ctx : {1024, 8192}) {
    Buf dp = upload(std::vector<int32_t>{int32_t(ctx - 1)});
    const float scale = float(1 / std::sqrt(128.0));
    std::vector<KernelArgs> split_args;
    for (int i = 0; i < copies; ++i) {
      Args a;
      a.bind(dq)
          .bind(ks[i])
          .bind(vs[i])
          .bind(dpart)
          .bind(dp)
          .s(1)
          .s(heads)
          .s(kvh)
          .s(hd)
          .s(cap)
          .s(scale)
          .s(splits)
          .s(0)
          .s(0.0f);
      split_args.push_back(a.a);
    }
    Args m;
    m.bind(dpart).bind(dout).s(1).s(heads).s(hd).s(splits);
    const double us = time_median([&](int i) {
      launch("attn.split", split_args[i % copies]);
      launch("attn.merge", m.a);
    });
    const double bytes = 2.0 * ctx * kvh * hd * 2 + heads * hd * 4.0 * 2;
    const std::string shape = "ctx " + std::to_string(ctx) + " h32 kv8 hd128 sp32";
    add_timing("attn.split+merge", shape + " single", us, bytes, 0);
    const double graph_us = time_graph_per_launch(
        [&](int i, cudaStream_t s) {
          launch("attn.split", split_args[i % copies], s);
          launch("attn.merge", m.a, s);
        },
        copies);
    add_timing("attn.split+merge", shape + " graph x20", graph_us, bytes, 0);
    CK(cudaFree(dp.p));
  }
  for (int i = 0; i < copies; ++i) {
    CK(cudaFree(ks[i].p));
    CK(cudaFree(vs[i].p));
  }
  for (Buf* b : {&dq, &dpart, &dout}) CK(cudaFree(b->p));
}

void time_sample() {
  const int64_t vocab = 128256;
  Buf dl = upload(rand_f32(vocab, -10, 10)), dt = dalloc(4),
      ds = upload(std::vector<uint64_t>{1, 0}), dh = dalloc(64);
  for (float temp : {0.0f, 0.8f}) {
    Args a;
    a.bind(dl).bind(dt).bind(ds).bind(dh).s(vocab).s(temp).s(40).s(0.95f).s(16);
    const double us = time_median([&](int) { launch("sample", a.a); });
    const std::string shape = std::string(temp > 0 ? "top-k 40 top-p .95" : "greedy") + " V128256";
    add_timing("sample", shape + " single", us, vocab * 4.0, 0);
    const double graph_us =
        time_graph_per_launch([&](int, cudaStream_t s) { launch("sample", a.a, s); }, 1);
    add_timing("sample", shape + " graph x20", graph_us, vocab * 4.0, 0);
  }
  for (Buf* b : {&dl, &dt, &ds, &dh}) CK(cudaFree(b->p));
}

bool write_json(const char* path) {
  FILE* f = std::fopen(path, "w");
  if (!f) {
    std::fprintf(stderr, "cannot write %s\n", path);
    return false;
  }
  std::fprintf(f, "{\"copy_gbps\": %.1f, \"rows\": [\n", copy_gbps);
  for (size_t i = 0; i < rows_out.size(); ++i) {
    const Row& r = rows_out[i];
    std::fprintf(f,
                 "  {\"kernel\": \"%s\", \"shape\": \"%s\", \"us\": %.3f, \"gbps\": %.2f, "
                 "\"pct_copy\": %.2f, \"status\": \"%s\"}%s\n",
                 r.kernel.c_str(), r.shape.c_str(), r.us, r.gbps, r.pct, r.status.c_str(),
                 i + 1 < rows_out.size() ? "," : "");
  }
  std::fprintf(f, "]}\n");
  return std::fclose(f) == 0;
}

}  // namespace

int main(int argc, char** argv) {
  const char* json = nullptr;
  for (int i = 1; i < argc; ++i) {
    if (std::strcmp(argv[i], "--json") == 0 && i + 1 < argc) {
      json = argv[++i];
    } else {
      std::fprintf(stderr, "usage: %s [--json PATH]\n", argv[0]);
      return 2;
    }
  }
  cudaDeviceProp prop;
  CK(cudaGetDeviceProperties(&prop, 0));
  std::printf("device: %s, %d SMs, L2 %d MB\n", prop.name, prop.multiProcessorCount,
              prop.l2CacheSize >> 20);
  time_copy();
  time_matvec();
  time_attention();
  time_sample();
  std::printf("\n%-18s %-36s %10s %9s %7s  %s\n", "kernel", "shape", "us", "GB/s", "%copy",
              "status");
  for (const Row& r : rows_out) {
    std::printf("%-18s %-36s %10.2f %9.1f %7.1f  %s\n", r.kernel.c_str(), r.shape.c_str(), r.us,
                r.gbps, r.pct, r.status.c_str());
  }
  std::printf("copy bandwidth %.1f GB/s\n", copy_gbps);
  if (json && !write_json(json)) return 1;
  return 0;
}
