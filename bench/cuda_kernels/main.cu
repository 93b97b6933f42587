// cuda_kernels_check: checks every CUDA forward-pass kernel against a double-precision host
// reference on random inputs (outputs poisoned first), then times the decode-critical kernels
// against the measured device-to-device copy bandwidth. Prints a table last; --json PATH writes
// the same rows as JSON. Exits non-zero if any check fails.
#include <cuda_runtime.h>

#include <algorithm>
#include <cmath>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <random>
#include <string>
#include <vector>

#include "kernels/cuda/kernel_table.hpp"
#include "kernels/kernel_spec.hpp"
#include "reference.hpp"

using namespace stagefence;
using cudakern::dequant_row;
using cudakern::weight_types;
namespace q = stagefence::quant;
namespace kc = stagefence::kernels::cuda;

#define CK(call)                                                                              \
  do {                                                                                        \
    cudaError_t e_ = (call);                                                                  \
    if (e_ != cudaSuccess) {                                                                  \
      std::fprintf(stderr, "CUDA error %s at %s:%d: %s\n", cudaGetErrorString(e_), __FILE__, \
                   __LINE__, #call);                                                          \
      std::exit(2);                                                                           \
    }                                                                                         \
  } while (0)

namespace {

std::mt19937_64 rng(20240611);
double uni(double lo, double hi) { return std::uniform_real_distribution<double>(lo, hi)(rng); }

struct Row {
  std::string kernel, shape, status;
  double us = 0, gbps = 0, pct = 0, err = 0;
};
std::vector<Row> rows_out;
int failures = 0;
double copy_gbps = 0;

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
template <typename T>
std::vector<T> download(const Buf& b) {
  std::vector<T> v(b.n / sizeof(T));
  CK(cudaMemcpy(v.data(), b.p, b.n, cudaMemcpyDeviceToHost));
  return v;
}
void poison(const Buf& b) { CK(cudaMemset(b.p, 0xff, b.n)); }  // f32 0xffffffff is NaN

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
void run(const std::string& name, const KernelArgs& a) {
  launch(name, a);
  CK(cudaDeviceSynchronize());
}

// ---- comparison ----
// ‖out − ref‖ / ‖ref‖; any NaN/inf in out fails.
double rel_err(const std::vector<float>& out, const std::vector<double>& ref, bool* finite) {
  double num = 0, den = 0;
  *finite = true;
  for (size_t i = 0; i < ref.size(); ++i) {
    if (!std::isfinite(out[i])) *finite = false;
    num += (out[i] - ref[i]) * (out[i] - ref[i]);
    den += ref[i] * ref[i];
  }
  return std::sqrt(num / (den > 0 ? den : 1e-300));
}
void record_check(const std::string& kernel, const std::string& shape, double err, bool ok) {
  Row r;
  r.kernel = kernel;
  r.shape = shape;
  r.err = err;
  r.status = ok ? "PASS" : "FAIL";
  if (!ok) ++failures;
  std::printf("check %-16s %-34s rel_err %.3e  %s\n", kernel.c_str(), shape.c_str(), err,
              r.status.c_str());
  rows_out.push_back(r);
}
void check_close(const std::string& kernel, const std::string& shape, const std::vector<float>& out,
                 const std::vector<double>& ref, double tol) {
  bool finite;
  const double e = rel_err(out, ref, &finite);
  record_check(kernel, shape, e, finite && e <= tol);
}

std::vector<float> rand_f32(size_t n, double lo = -1, double hi = 1) {
  std::vector<float> v(n);
  for (auto& x : v) x = float(uni(lo, hi));
  return v;
}

// Random weights of a type: plain values in [-1, 1]; block types with random quants and
// scales of a realistic size.
std::vector<uint8_t> rand_weights(const cudakern::TypeInfo& t, int64_t rows, int64_t cols) {
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

// ---- checks ----
void check_matvec() {
  struct Shape {
    int64_t rows, cols;
    uint32_t flags;
  };
  for (const auto& t : weight_types()) {
    std::vector<Shape> shapes = {{129, 4096, kernels::kMatFlagBias | kernels::kMatFlagAccumulate},
                                 {77, 512, 0},
                                 {33, 14336, kernels::kMatFlagBias},
                                 // Block types: 3 whole staged chunks and a partial fourth.
                                 {21, 6400, kernels::kMatFlagBias}};
    if (t.block_elems == 1) shapes.push_back({40, 1004, 0});  // unaligned rows: fallback path
    for (const Shape& s : shapes) {
      const auto w = rand_weights(t, s.rows, s.cols);
      const auto x = rand_f32(s.cols), bias = rand_f32(s.rows), yold = rand_f32(s.rows);
      Buf dw = upload(w), dx = upload(x), db = upload(bias), dy = dalloc(s.rows * 4);
      if (s.flags & kernels::kMatFlagAccumulate) {
        CK(cudaMemcpy(dy.p, yold.data(), dy.n, cudaMemcpyHostToDevice));
      } else {
        poison(dy);
      }
      Args a;
      a.bind(dw).bind(dx).bind(dy).bind(db).s(s.rows).s(s.cols).s(s.flags);
      run("matvec." + t.name, a.a);
      const auto y = download<float>(dy);
      const int64_t rb = s.cols / t.block_elems * t.block_bytes;
      std::vector<double> ref(s.rows);
      for (int64_t r = 0; r < s.rows; ++r) {
        const auto wr = dequant_row(t.name, w.data() + r * rb, s.cols);
        double acc = 0;
        for (int64_t c = 0; c < s.cols; ++c) acc += wr[c] * x[c];
        if (s.flags & kernels::kMatFlagBias) acc += bias[r];
        if (s.flags & kernels::kMatFlagAccumulate) acc += yold[r];
        ref[r] = acc;
      }
      check_close("matvec." + t.name,
                  std::to_string(s.rows) + "x" + std::to_string(s.cols) + " flags " +
                      std::to_string(s.flags),
                  y, ref, 2e-5);
      for (Buf* b : {&dw, &dx, &db, &dy}) CK(cudaFree(b->p));
    }
  }
}

void check_matmul() {
  const int64_t rows = 96, cols = 512, T = 37;
  for (const auto& t : weight_types()) {
    const auto w = rand_weights(t, rows, cols);
    const auto x = rand_f32(T * cols), bias = rand_f32(rows), yold = rand_f32(T * rows);
    Buf dw = upload(w), dx = upload(x), db = upload(bias), dy = upload(yold);
    Buf ds = dalloc(kernels::matmul_scratch_bytes(T, cols));  // cuBLAS workspace, X split
    const uint32_t flags =
        kernels::kMatFlagBias | kernels::kMatFlagAccumulate | kernels::kMatFlagScratch;
    Args a;
    a.bind(dw).bind(dx).bind(dy).bind(db).bind(ds).s(rows).s(cols).s(flags).s(T);
    run("matmul." + t.name, a.a);
    const auto y = download<float>(dy);
    const int64_t rb = cols / t.block_elems * t.block_bytes;
    std::vector<double> ref(T * rows);
    for (int64_t r = 0; r < rows; ++r) {
      const auto wr = dequant_row(t.name, w.data() + r * rb, cols);
      for (int64_t tt = 0; tt < T; ++tt) {
        double acc = bias[r] + yold[tt * rows + r];
        for (int64_t c = 0; c < cols; ++c) acc += wr[c] * x[tt * cols + c];
        ref[tt * rows + r] = acc;
      }
    }
    // f16/bf16 go through a high/low split of X: close to f32, limited by the low part's rounding.
    const double tol = t.name == "bf16" ? 1e-4 : t.name == "f16" ? 2e-5 : 2e-5;
    check_close("matmul." + t.name, "96x512 T=37 bias+acc", y, ref, tol);
    for (Buf* b : {&dw, &dx, &db, &dy, &ds}) CK(cudaFree(b->p));
  }
}

void check_embed() {
  const int64_t vocab = 50, dim = 512, T = 5;
  for (const auto& t : weight_types()) {
    const auto w = rand_weights(t, vocab, dim);
    const std::vector<int32_t> ids = {3, 49, 0, 50, 17};  // 50 is out of range: NaN row
    Buf dw = upload(w), di = upload(ids), dout = dalloc(T * dim * 4);
    poison(dout);
    const float scale = 1.5f;
    Args a;
    a.bind(dw).bind(di).bind(dout).s(dim).s(T).s(vocab).s(scale);
    run("embed." + t.name, a.a);
    const auto out = download<float>(dout);
    std::vector<float> good;
    std::vector<double> ref;
    bool nan_row = true;
    const int64_t rb = dim / t.block_elems * t.block_bytes;
    for (int64_t i = 0; i < T; ++i) {
      if (ids[i] >= vocab) {
        for (int64_t c = 0; c < dim; ++c) nan_row = nan_row && std::isnan(out[i * dim + c]);
        continue;
      }
      const auto wr = dequant_row(t.name, w.data() + ids[i] * rb, dim);
      for (int64_t c = 0; c < dim; ++c) {
        good.push_back(out[i * dim + c]);
        ref.push_back(wr[c] * scale);
      }
    }
    bool finite;
    const double e = rel_err(good, ref, &finite);
    record_check("embed." + t.name, "vocab 50 dim 512 T=5 (+bad id)", e, finite && nan_row && e <= 1e-6);
    for (Buf* b : {&dw, &di, &dout}) CK(cudaFree(b->p));
  }
}

void check_rmsnorm() {
  for (int add_one = 0; add_one < 2; ++add_one) {
    const int64_t rows = 3, n = 4096;
    const auto x = rand_f32(rows * n, -3, 3), w = rand_f32(n);
    Buf dx = upload(x), dw = upload(w), dy = dalloc(rows * n * 4);
    poison(dy);
    const float eps = 1e-5f;
    Args a;
    a.bind(dx).bind(dw).bind(dy).s(rows).s(n).s(eps).s(add_one);
    run("rmsnorm", a.a);
    const auto y = download<float>(dy);
    std::vector<double> ref(rows * n);
    for (int64_t r = 0; r < rows; ++r) {
      double ss = 0;
      for (int64_t i = 0; i < n; ++i) ss += double(x[r * n + i]) * x[r * n + i];
      const double inv = 1.0 / std::sqrt(ss / n + eps);
      for (int64_t i = 0; i < n; ++i) ref[r * n + i] = x[r * n + i] * inv * (add_one + double(w[i]));
    }
    check_close("rmsnorm", "3x4096 add_one " + std::to_string(add_one), y, ref, 1e-5);
    for (Buf* b : {&dx, &dw, &dy}) CK(cudaFree(b->p));
  }
}

void check_rope() {
  for (int mode = 0; mode < 2; ++mode) {
    const int64_t T = 3, heads = 4, hd = 128, rot = 64;
    const std::vector<int32_t> pos = {0, 17, 5000};
    const auto x = rand_f32(T * heads * hd);
    Buf dx = upload(x), dp = upload(pos);
    const float theta = 10000.0f, fscale = 0.5f;
    Args a;
    a.bind(dx).bind(dp).s(T).s(heads).s(hd).s(rot).s(theta).s(mode).s(fscale);
    run("rope", a.a);
    const auto y = download<float>(dx);
    std::vector<double> ref(x.begin(), x.end());
    for (int64_t t = 0; t < T; ++t) {
      for (int64_t hh = 0; hh < heads; ++hh) {
        double* v = ref.data() + (t * heads + hh) * hd;
        for (int64_t i = 0; i < rot / 2; ++i) {
          const double ang = pos[t] * double(fscale) * std::pow(double(theta), -2.0 * i / rot);
          const int64_t i0 = mode ? i : 2 * i, i1 = mode ? i + rot / 2 : 2 * i + 1;
          const double a0 = v[i0], a1 = v[i1];
          v[i0] = a0 * std::cos(ang) - a1 * std::sin(ang);
          v[i1] = a0 * std::sin(ang) + a1 * std::cos(ang);
        }
      }
    }
    check_close("rope", "T3 h4 hd128 rot64 mode " + std::to_string(mode), y, ref, 1e-6);
    for (Buf* b : {&dx, &dp}) CK(cudaFree(b->p));
  }
}

void check_kv_store() {
  const int64_t T = 3, kvh = 2, hd = 64, cap = 16;
  const std::vector<int32_t> pos = {1, 5, 20};  // 20 >= cap: skipped
  const auto src = rand_f32(T * kvh * hd, -4, 4);
  std::vector<uint16_t> cache(kvh * cap * hd);
  for (auto& c : cache) c = q::float_to_half(float(uni(-1, 1)));
  Buf ds = upload(src), dc = upload(cache), dp = upload(pos);
  Args a;
  a.bind(ds).bind(dc).bind(dp).s(T).s(kvh).s(hd).s(cap);
  run("kv_store", a.a);
  const auto out = download<uint16_t>(dc);
  std::vector<uint16_t> ref = cache;
  for (int64_t t = 0; t < T; ++t) {
    if (pos[t] >= cap) continue;
    for (int64_t hh = 0; hh < kvh; ++hh) {
      for (int64_t d = 0; d < hd; ++d) {
        ref[(hh * cap + pos[t]) * hd + d] = q::float_to_half(src[(t * kvh + hh) * hd + d]);
      }
    }
  }
  record_check("kv_store", "T3 kvh2 hd64 cap16 (one skipped)", out == ref ? 0.0 : 1.0, out == ref);
  for (Buf* b : {&ds, &dc, &dp}) CK(cudaFree(b->p));
}

// Reference causal attention for query t, head h.
std::vector<double> ref_attention(const std::vector<float>& qv, const std::vector<uint16_t>& kcv,
                                  const std::vector<uint16_t>& vcv, int64_t t, int64_t h,
                                  int64_t heads, int64_t kvh, int64_t hd, int64_t cap, int32_t pos,
                                  double scale, int64_t window, double softcap) {
  const int64_t g = h / (heads / kvh);
  const int64_t hi = std::min<int64_t>(pos, cap - 1);
  const int64_t lo = window > 0 ? std::max<int64_t>(0, pos - window + 1) : 0;
  std::vector<double> s;
  for (int64_t j = lo; j <= hi; ++j) {
    double d = 0;
    for (int64_t i = 0; i < hd; ++i) {
      d += double(qv[(t * heads + h) * hd + i]) * q::half_to_float(kcv[(g * cap + j) * hd + i]);
    }
    d *= scale;
    if (softcap > 0) d = softcap * std::tanh(d / softcap);
    s.push_back(d);
  }
  const double m = *std::max_element(s.begin(), s.end());
  double l = 0;
  std::vector<double> out(hd, 0.0);
  for (size_t k = 0; k < s.size(); ++k) {
    const double p = std::exp(s[k] - m);
    l += p;
    for (int64_t i = 0; i < hd; ++i) out[i] += p * q::half_to_float(vcv[(g * cap + lo + k) * hd + i]);
  }
  for (auto& o : out) o /= l;
  return out;
}

void check_attention() {
  struct Cfg {
    int64_t heads, kvh, hd, cap, splits, window;
    float softcap;
    std::vector<int32_t> pos;
  };
  const std::vector<Cfg> cfgs = {{8, 2, 128, 300, 7, 0, 0.0f, {250, 3}},
                                 {8, 2, 128, 300, 5, 64, 30.0f, {299, 100}},
                                 {4, 4, 64, 1000, 16, 0, 0.0f, {999}},
                                 {12, 2, 80, 200, 3, 0, 0.0f, {150, 0}}};
  for (const Cfg& c : cfgs) {
    const int64_t T = c.pos.size();
    const auto qv = rand_f32(T * c.heads * c.hd);
    std::vector<uint16_t> kcv(c.kvh * c.cap * c.hd), vcv(kcv.size());
    for (auto& v : kcv) v = q::float_to_half(float(uni(-1, 1)));
    for (auto& v : vcv) v = q::float_to_half(float(uni(-1, 1)));
    Buf dq = upload(qv), dk = upload(kcv), dv = upload(vcv), dp = upload(c.pos);
    Buf dpart = dalloc(T * c.heads * c.splits * (c.hd + 2) * 4), dout = dalloc(T * c.heads * c.hd * 4);
    poison(dpart);
    poison(dout);
    const float scale = float(1.0 / std::sqrt(double(c.hd)));
    Args a;
    a.bind(dq).bind(dk).bind(dv).bind(dpart).bind(dp).s(T).s(c.heads).s(c.kvh).s(c.hd).s(c.cap)
        .s(scale).s(c.splits).s(c.window).s(c.softcap);
    run("attn.split", a.a);
    Args m;
    m.bind(dpart).bind(dout).s(T).s(c.heads).s(c.hd).s(c.splits);
    run("attn.merge", m.a);
    const auto out = download<float>(dout);
    std::vector<double> ref;
    for (int64_t t = 0; t < T; ++t) {
      for (int64_t h = 0; h < c.heads; ++h) {
        const auto r = ref_attention(qv, kcv, vcv, t, h, c.heads, c.kvh, c.hd, c.cap, c.pos[t],
                                     scale, c.window, c.softcap);
        ref.insert(ref.end(), r.begin(), r.end());
      }
    }
    // Every partial must be written: an empty slice is m = -inf, l = 0, zeros.
    const auto part = download<float>(dpart);
    bool partial_ok = true;
    for (size_t i = 0; i < part.size(); ++i) {
      const bool is_m = i % (c.hd + 2) == size_t(c.hd);
      if (std::isnan(part[i]) || (!is_m && std::isinf(part[i]))) partial_ok = false;
    }
    bool finite;
    const double e = rel_err(out, ref, &finite);
    char shape[128];
    std::snprintf(shape, sizeof shape, "h%lld kv%lld hd%lld sp%lld win%lld cap%.0f", (long long)c.heads,
                  (long long)c.kvh, (long long)c.hd, (long long)c.splits, (long long)c.window,
                  double(c.softcap));
    record_check("attn.split+merge", shape, e, finite && partial_ok && e <= 1e-5);
    for (Buf* b : {&dq, &dk, &dv, &dp, &dpart, &dout}) CK(cudaFree(b->p));
  }
}

void check_elementwise() {
  const int64_t n = 14336 + 3;
  for (int act = 0; act < 2; ++act) {
    const auto g = rand_f32(n, -6, 6), u = rand_f32(n, -2, 2);
    Buf dg = upload(g), du = upload(u), dout = dalloc(n * 4);
    poison(dout);
    Args a;
    a.bind(dg).bind(du).bind(dout).s(n).s(act);
    run("swiglu", a.a);
    const auto out = download<float>(dout);
    std::vector<double> ref(n);
    for (int64_t i = 0; i < n; ++i) {
      const double x = g[i];
      const double f = act == 0 ? x / (1 + std::exp(-x))
                                : 0.5 * x * (1 + std::tanh(std::sqrt(2 / M_PI) * (x + 0.044715 * x * x * x)));
      ref[i] = f * u[i];
    }
    check_close("swiglu", "n 14339 act " + std::to_string(act), out, ref, 1e-6);
    for (Buf* b : {&dg, &du, &dout}) CK(cudaFree(b->p));
  }
  {
    const auto x = rand_f32(n), y = rand_f32(n);
    Buf dx = upload(x), dy = upload(y);
    Args a;
    a.bind(dx).bind(dy).bind(dx).s(n);  // out aliases a
    run("add", a.a);
    const auto out = download<float>(dx);
    std::vector<double> ref(n);
    for (int64_t i = 0; i < n; ++i) ref[i] = double(x[i]) + y[i];
    check_close("add", "n 14339 aliased", out, ref, 1e-7);
    for (Buf* b : {&dx, &dy}) CK(cudaFree(b->p));
  }
  {
    std::vector<int32_t> pos = {41};
    std::vector<uint64_t> st = {1234, 7};
    Buf dp = upload(pos), ds = upload(st);
    Args a;
    a.bind(dp).bind(ds);
    run("step_advance", a.a);
    const bool ok = download<int32_t>(dp)[0] == 42 && download<uint64_t>(ds)[1] == 8 &&
                    download<uint64_t>(ds)[0] == 1234;
    record_check("step_advance", "pos 41 step 7", ok ? 0 : 1, ok);
    for (Buf* b : {&dp, &ds}) CK(cudaFree(b->p));
  }
}

// Host sampler following the spec's rule.
int ref_sample(const std::vector<float>& logits, float temp, int64_t top_k, float top_p,
               uint64_t seed, uint64_t step) {
  const int64_t vocab = logits.size();
  if (temp <= 0) {
    int best = 0;
    for (int64_t i = 1; i < vocab; ++i) {
      if (logits[i] > logits[best]) best = int(i);
    }
    return best;
  }
  std::vector<int> ids(vocab);
  for (int64_t i = 0; i < vocab; ++i) ids[i] = int(i);
  std::stable_sort(ids.begin(), ids.end(), [&](int a, int b) { return logits[a] > logits[b]; });
  int64_t k = top_k > 0 && top_k < vocab ? top_k : vocab;
  k = std::min<int64_t>(k, kernels::kMaxSampleCandidates);
  std::vector<double> p(k);
  double total = 0;
  for (int64_t i = 0; i < k; ++i) {
    p[i] = std::exp((double(logits[ids[i]]) - logits[ids[0]]) / temp);
    total += p[i];
  }
  int64_t keep = k;
  double kept = total;
  if (top_p < 1) {
    double cum = 0;
    for (int64_t i = 0; i < k; ++i) {
      cum += p[i];
      if (cum >= double(top_p) * total) {
        keep = i + 1;
        kept = cum;
        break;
      }
    }
  }
  const double u = kernels::sf_uniform(seed, step) * kept;
  double cum = 0;
  for (int64_t i = 0; i < keep; ++i) {
    cum += p[i];
    if (cum > u) return ids[i];
  }
  return ids[keep - 1];
}

void check_sample() {
  struct Cfg {
    int64_t vocab;
    float temp;
    int64_t top_k;
    float top_p;
    bool ties;
  };
  const std::vector<Cfg> cfgs = {{128256, 0, 0, 1, true},    {1000, 0.8f, 40, 0.9f, false},
                                 {1000, 1.0f, 0, 0.95f, true}, {128256, 0.7f, 0, 1.0f, false},
                                 {5000, 1.3f, 2000, 0.5f, true}, {300, 0.5f, 7, 1.0f, true},
                                 {50001, 0, 0, 1, true},      {77, 0, 0, 1, false}};
  int idx = 0;
  for (const Cfg& c : cfgs) {
    for (int trial = 0; trial < 4; ++trial) {
      std::vector<float> logits = rand_f32(c.vocab, -10, 10);
      if (c.ties) {
        for (auto& l : logits) l = std::round(l * 2) / 2;  // many equal logits
      }
      const uint64_t seed = rng(), step = trial * 3 + 1;  // trial 3: step 10 >= max_steps
      const int64_t max_steps = 8;
      std::vector<uint64_t> st = {seed, step};
      std::vector<int32_t> hist(max_steps, -7);
      Buf dl = upload(logits), dt = dalloc(4), ds = upload(st), dh = upload(hist);
      poison(dt);
      Args a;
      a.bind(dl).bind(dt).bind(ds).bind(dh).s(c.vocab).s(c.temp).s(c.top_k).s(c.top_p).s(max_steps);
      run("sample", a.a);
      const int got = download<int32_t>(dt)[0];
      const int want = ref_sample(logits, c.temp, c.top_k, c.top_p, seed, step);
      // history[step] holds the token when step < max_steps; every other entry is untouched.
      const auto hist_out = download<int32_t>(dh);
      bool hist_ok = true;
      for (int64_t i = 0; i < max_steps; ++i) {
        const int32_t expect = uint64_t(i) == step ? want : -7;
        hist_ok = hist_ok && hist_out[i] == expect;
      }
      char shape[128];
      std::snprintf(shape, sizeof shape, "V%lld T%.1f k%lld p%.2f%s #%d", (long long)c.vocab,
                    double(c.temp), (long long)c.top_k, double(c.top_p), c.ties ? " ties" : "", trial);
      record_check("sample", shape, got == want ? 0 : 1, got == want && hist_ok);
      if (got != want) std::printf("  sample: got %d want %d\n", got, want);
      for (Buf* b : {&dl, &dt, &ds, &dh}) CK(cudaFree(b->p));
    }
    ++idx;
  }
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
  const double us = time_median([&](int) { CK(cudaMemcpyAsync(b.p, a.p, n, cudaMemcpyDeviceToDevice)); },
                                3, 20);
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
      a.bind(dq).bind(ks[i]).bind(vs[i]).bind(dpart).bind(dp).s(1).s(heads).s(kvh).s(hd).s(cap)
          .s(scale).s(splits).s(0).s(0.0f);
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
  Buf dl = upload(rand_f32(vocab, -10, 10)), dt = dalloc(4), ds = upload(std::vector<uint64_t>{1, 0}),
      dh = dalloc(64);
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

void write_json(const char* path) {
  FILE* f = std::fopen(path, "w");
  if (!f) {
    std::fprintf(stderr, "cannot write %s\n", path);
    ++failures;
    return;
  }
  std::fprintf(f, "{\"copy_gbps\": %.1f, \"failures\": %d, \"rows\": [\n", copy_gbps, failures);
  for (size_t i = 0; i < rows_out.size(); ++i) {
    const Row& r = rows_out[i];
    std::fprintf(f,
                 "  {\"kernel\": \"%s\", \"shape\": \"%s\", \"us\": %.3f, \"gbps\": %.2f, "
                 "\"pct_copy\": %.2f, \"rel_err\": %.3e, \"status\": \"%s\"}%s\n",
                 r.kernel.c_str(), r.shape.c_str(), r.us, r.gbps, r.pct, r.err, r.status.c_str(),
                 i + 1 < rows_out.size() ? "," : "");
  }
  std::fprintf(f, "]}\n");
  std::fclose(f);
}

}  // namespace

int main(int argc, char** argv) {
  const char* json = nullptr;
  bool time_only = false, check_only = false;
  for (int i = 1; i < argc; ++i) {
    if (std::strcmp(argv[i], "--json") == 0 && i + 1 < argc) {
      json = argv[++i];
    } else if (std::strcmp(argv[i], "--check-only") == 0) {
      check_only = true;
    } else if (std::strcmp(argv[i], "--time-only") == 0) {
      time_only = true;
    } else {
      std::fprintf(stderr, "usage: %s [--json PATH] [--check-only | --time-only]\n", argv[0]);
      return 2;
    }
  }
  cudaDeviceProp prop;
  CK(cudaGetDeviceProperties(&prop, 0));
  std::printf("device: %s, %d SMs, L2 %d MB\n", prop.name, prop.multiProcessorCount,
              prop.l2CacheSize >> 20);
  if (!time_only) {
    check_matvec();
    check_matmul();
    check_embed();
    check_rmsnorm();
    check_rope();
    check_kv_store();
    check_attention();
    check_elementwise();
    check_sample();
  }
  if (!check_only) {
    time_copy();
    time_matvec();
    time_attention();
    time_sample();
  }
  std::printf("\n%-18s %-36s %10s %9s %7s %10s  %s\n", "kernel", "shape", "us", "GB/s", "%copy",
              "rel_err", "status");
  for (const Row& r : rows_out) {
    std::printf("%-18s %-36s %10.2f %9.1f %7.1f %10.2e  %s\n", r.kernel.c_str(), r.shape.c_str(),
                r.us, r.gbps, r.pct, r.err, r.status.c_str());
  }
  std::printf("%d correctness failure(s); copy bandwidth %.1f GB/s\n", failures, copy_gbps);
  if (json) write_json(json);
  return failures == 0 ? 0 : 1;
}
