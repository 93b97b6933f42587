// The fused decode kernels (mv, qkv, glu, attn.decode) on every backend this machine has,
// against double-precision references on random inputs with poisoned outputs. Quantised weights
// multiply 8-bit activation blocks (kernels/act_q8.hpp): the reference quantises the same
// activations with the same definition and then sums exactly, so the tolerance is f32 rounding;
// with a folded RMSNorm the kernel's own sum of squares may move an activation across a rounding
// boundary, which the looser norm tolerance covers.
#include <gtest/gtest.h>

#include <cmath>
#include <cstdint>
#include <cstring>
#include <optional>
#include <random>
#include <string>
#include <vector>

#include "kernel_test_util.hpp"
#include "kernels/act_q8.hpp"
#include "kernels/decode_ops.hpp"
#include "kernels/quant_blocks.hpp"
#include "reference_decode.hpp"
#include "stagefence/stagefence.hpp"

namespace sf = stagefence;
namespace ops = sf::kernels::ops;
using sf::DType;
using namespace sf::kernels::testing;

namespace {

const DType kTypes[] = {DType::F32,  DType::F16,  DType::BF16, DType::Q8_0, DType::Q4_0,
                        DType::Q4_1, DType::Q5_0, DType::Q4_K, DType::Q5_K, DType::Q6_K};

bool quantised(DType t) {
  return sf::dtype_info(t)->block_elems > 1;
}
bool k_quant(DType t) {
  return sf::dtype_info(t)->block_elems == 256;
}

std::vector<sf::BackendKind> backends() {
  std::vector<sf::BackendKind> out = {sf::BackendKind::Cpu};
  try {
    sf::Device::open({sf::BackendKind::Cuda});
    out.push_back(sf::BackendKind::Cuda);
  } catch (const sf::Error&) {
  }
  return out;
}

template <typename T>
sf::Buffer upload(sf::Device& dev, const std::vector<T>& v) {
  sf::Buffer b = dev.alloc(v.size() * sizeof(T));
  b.upload(v.data(), v.size() * sizeof(T));
  return b;
}
template <typename T>
std::vector<T> download(const sf::Buffer& b, size_t n) {
  std::vector<T> v(n);
  b.download(v.data(), n * sizeof(T));
  return v;
}
sf::Buffer poisoned_f32(sf::Device& dev, size_t n) {
  std::vector<float> v(n);
  poison(v);
  return upload(dev, v);
}

// The activations a kernel multiplies, in double: x normalised as the kernels do (f32), then for
// quantised weights their 8-bit blocks dequantised exactly.
std::vector<double> activations(DType wt, const std::vector<float>& x, const std::vector<float>* w,
                                float eps, bool add_one) {
  const int64_t n = int64_t(x.size());
  std::vector<float> a = x;
  if (w) {
    float ss = 0.0f;
    for (float v : x) ss += v * v;
    const float inv = 1.0f / std::sqrt(ss / float(n) + eps);
    for (int64_t i = 0; i < n; ++i) a[i] = x[i] * inv * (add_one ? 1.0f + (*w)[i] : (*w)[i]);
  }
  std::vector<double> out(a.begin(), a.end());
  if (quantised(wt)) {
    for (int64_t g = 0; g < n / 32; ++g) {
      sf::kernels::ActBlockQ8 b;
      sf::kernels::quantize_act_block(a.data() + g * 32, &b);
      for (int i = 0; i < 32; ++i) out[size_t(g * 32 + i)] = double(b.d) * double(b.q[i]);
    }
  }
  return out;
}

struct RowDot {
  double value = 0, magnitude = 0;
};
RowDot row_dot(DType wt, const std::vector<uint8_t>& w, int64_t row, int64_t cols,
               const std::vector<double>& a) {
  const uint64_t row_bytes = sf::dtype_bytes(wt, uint64_t(cols));
  const std::vector<double> r = ref_decode(wt, w.data() + row * row_bytes, cols);
  RowDot d;
  for (int64_t c = 0; c < cols; ++c) {
    d.value += r[size_t(c)] * a[size_t(c)];
    d.magnitude += std::fabs(r[size_t(c)] * a[size_t(c)]);
  }
  return d;
}

// Tolerance relative to the sum of the magnitudes of a dot product's terms.
double tolerance(DType wt, bool norm) {
  if (quantised(wt)) return norm ? 2e-3 : 2e-5;
  return 2e-5;
}

std::string name_of(sf::BackendKind b, DType t) {
  return std::string(sf::backend_name(b)) + "/" + std::string(sf::dtype_name(t));
}

struct MvCase {
  int rows, cols;
  bool bias, accumulate, norm, add_one;
};

TEST(DecodeFused, MvMatchesTheReferenceOnEveryBackendAndType) {
  std::mt19937 rng(1234);
  for (sf::BackendKind backend : backends()) {
    sf::Device dev = sf::Device::open({backend});
    for (DType wt : kTypes) {
      // Rows that are no multiple of any tile; cols whole blocks but few pieces (and for q4_0,
      // q8_0, q5_0 an odd block count, so rows are only 2-byte aligned).
      std::vector<MvCase> cases = {
          {129, 512, false, false, false, false}, {77, 1280, true, true, false, false},
          {33, 2048, false, false, true, false},  {65, 768, true, false, true, true},
          {64, 128, false, true, false, false},   {128, 64, false, false, false, false},
          {32, 64, false, false, false, false}};
      if (!k_quant(wt)) cases.push_back({31, 288, false, true, false, false});
      if (k_quant(wt)) cases.resize(4);
      for (const MvCase& c : cases) {
        SCOPED_TRACE(name_of(backend, wt) + " rows " + std::to_string(c.rows) + " cols " +
                     std::to_string(c.cols));
        const std::vector<uint8_t> w = random_weight_bytes(rng, wt, int64_t(c.rows) * c.cols);
        const std::vector<float> x = random_floats(rng, size_t(c.cols));
        const std::vector<float> nw = random_floats(rng, size_t(c.cols), 0.5f, 1.5f);
        const std::vector<float> bias = random_floats(rng, size_t(c.rows));
        const std::vector<float> y0 = random_floats(rng, size_t(c.rows));
        sf::Buffer bw = upload(dev, w), bx = upload(dev, x), bn = upload(dev, nw),
                   bb = upload(dev, bias);
        sf::Buffer by = c.accumulate ? upload(dev, y0) : poisoned_f32(dev, size_t(c.rows));
        const ops::FoldedNorm norm{&bn, 1e-5f, c.add_one};
        sf::CommandEncoder enc = dev.command_encoder();
        ops::mv(enc, bw, wt, c.rows, c.cols, bx, by, c.bias ? &bb : nullptr, c.accumulate,
                c.norm ? &norm : nullptr);
        enc.commit_and_wait();
        const std::vector<float> y = download<float>(by, size_t(c.rows));
        const std::vector<double> a = activations(wt, x, c.norm ? &nw : nullptr, 1e-5f, c.add_one);
        for (int r = 0; r < c.rows; ++r) {
          RowDot d = row_dot(wt, w, r, c.cols, a);
          if (c.bias) d.value += bias[size_t(r)], d.magnitude += std::fabs(bias[size_t(r)]);
          if (c.accumulate) d.value += y0[size_t(r)], d.magnitude += std::fabs(y0[size_t(r)]);
          ASSERT_FALSE(std::isnan(y[size_t(r)])) << "row " << r << " was not written";
          ASSERT_NEAR(y[size_t(r)], d.value, tolerance(wt, c.norm) * d.magnitude + 1e-6)
              << "row " << r;
        }
      }
    }
  }
}

double silu(double g) {
  return g / (1.0 + std::exp(-g));
}

TEST(DecodeFused, GluMatchesTheReference) {
  std::mt19937 rng(99);
  for (sf::BackendKind backend : backends()) {
    sf::Device dev = sf::Device::open({backend});
    for (DType wt : kTypes) {
      SCOPED_TRACE(name_of(backend, wt));
      const int ffn = 129, dim = 512;
      const std::vector<uint8_t> wg = random_weight_bytes(rng, wt, int64_t(ffn) * dim);
      const std::vector<uint8_t> wu = random_weight_bytes(rng, wt, int64_t(ffn) * dim);
      const std::vector<float> x = random_floats(rng, size_t(dim));
      const std::vector<float> nw = random_floats(rng, size_t(dim), 0.5f, 1.5f);
      sf::Buffer bg = upload(dev, wg), bu = upload(dev, wu), bx = upload(dev, x),
                 bn = upload(dev, nw), out = poisoned_f32(dev, size_t(ffn));
      sf::CommandEncoder enc = dev.command_encoder();
      ops::glu(enc, bg, bu, wt, ffn, dim, bx, {&bn, 1e-5f, false}, out);
      enc.commit_and_wait();
      const std::vector<float> y = download<float>(out, size_t(ffn));
      const std::vector<double> a = activations(wt, x, &nw, 1e-5f, false);
      for (int i = 0; i < ffn; ++i) {
        const RowDot g = row_dot(wt, wg, i, dim, a), u = row_dot(wt, wu, i, dim, a);
        const double want = silu(g.value) * u.value;
        // d(silu(g)·u) = silu'(g)·u·dg + silu(g)·du, |silu'| <= 1.1.
        const double tol = tolerance(wt, true) * (1.1 * std::fabs(u.value) * g.magnitude +
                                                  std::fabs(silu(g.value)) * u.magnitude) +
                           1e-6;
        ASSERT_NEAR(y[size_t(i)], want, tol) << "output " << i;
      }
    }
  }
}

struct QkvCase {
  int mode, rot;
  bool bias;
  int dim;
};

TEST(DecodeFused, QkvRotatesAndWritesTheCachesAtThePosition) {
  std::mt19937 rng(7);
  const int heads = 4, kv = 2, hd = 64, cap = 16, pos = 5;
  const double theta = 10000.0;
  // 4096 columns: CUDA splits every float row between two warps (their sums meet in shared
  // memory).
  for (sf::BackendKind backend : backends()) {
    sf::Device dev = sf::Device::open({backend});
    for (DType wt : kTypes) {
      for (const QkvCase c : {QkvCase{0, 64, false, 512}, QkvCase{1, 64, true, 512},
                              QkvCase{1, 32, false, 512}, QkvCase{0, 64, true, 4096}}) {
        const int dim = c.dim;
        SCOPED_TRACE(name_of(backend, wt) + " mode " + std::to_string(c.mode) + " rot " +
                     std::to_string(c.rot) + " dim " + std::to_string(dim));
        const int qr = heads * hd, kr = kv * hd;
        const std::vector<uint8_t> wq = random_weight_bytes(rng, wt, int64_t(qr) * dim);
        const std::vector<uint8_t> wk = random_weight_bytes(rng, wt, int64_t(kr) * dim);
        const std::vector<uint8_t> wv = random_weight_bytes(rng, wt, int64_t(kr) * dim);
        const std::vector<float> x = random_floats(rng, size_t(dim));
        const std::vector<float> nw = random_floats(rng, size_t(dim), 0.5f, 1.5f);
        const std::vector<float> bq = random_floats(rng, size_t(qr)),
                                 bk = random_floats(rng, size_t(kr)),
                                 bv = random_floats(rng, size_t(kr));
        std::vector<uint16_t> cache0(size_t(kr) * cap);
        for (uint16_t& h : cache0)
          h = sf::quant::float_to_half(std::uniform_real_distribution<float>(-1, 1)(rng));
        sf::Buffer bwq = upload(dev, wq), bwk = upload(dev, wk), bwv = upload(dev, wv),
                   bx = upload(dev, x), bn = upload(dev, nw), bbq = upload(dev, bq),
                   bbk = upload(dev, bk), bbv = upload(dev, bv),
                   bpos = upload(dev, std::vector<int32_t>{pos}),
                   q_out = poisoned_f32(dev, size_t(qr)), kc = upload(dev, cache0),
                   vc = upload(dev, cache0);
        ops::QkvShape shape;
        shape.dim = dim;
        shape.heads = heads;
        shape.kv_heads = kv;
        shape.cap = cap;
        shape.rope = {hd, c.rot, float(theta), ops::RopeMode(c.mode), 1.0f};
        sf::CommandEncoder enc = dev.command_encoder();
        ops::qkv(enc, bwq, bwk, bwv, wt, shape, bx, {&bn, 1e-5f, false}, c.bias ? &bbq : nullptr,
                 c.bias ? &bbk : nullptr, c.bias ? &bbv : nullptr, bpos, q_out, kc, vc);
        enc.commit_and_wait();
        const std::vector<float> q = download<float>(q_out, size_t(qr));
        const std::vector<uint16_t> k = download<uint16_t>(kc, cache0.size());
        const std::vector<uint16_t> v = download<uint16_t>(vc, cache0.size());
        const std::vector<double> a = activations(wt, x, &nw, 1e-5f, false);
        // Reference projections, then RoPE in double.
        auto project = [&](const std::vector<uint8_t>& w, const std::vector<float>& b, int rows,
                           std::vector<double>& val, std::vector<double>& mag) {
          val.assign(size_t(rows), 0.0);
          mag.assign(size_t(rows), 0.0);
          for (int r = 0; r < rows; ++r) {
            const RowDot d = row_dot(wt, w, r, dim, a);
            val[size_t(r)] = d.value + (c.bias ? b[size_t(r)] : 0.0);
            mag[size_t(r)] = d.magnitude + (c.bias ? std::fabs(b[size_t(r)]) : 0.0);
          }
        };
        auto rope = [&](std::vector<double>& val, int nheads) {
          for (int h = 0; h < nheads; ++h)
            for (int i = 0; i < c.rot / 2; ++i) {
              const int i0 = c.mode == 0 ? 2 * i : i, i1 = c.mode == 0 ? 2 * i + 1 : i + c.rot / 2;
              const double ang = pos * std::pow(theta, -2.0 * i / c.rot);
              const double a0 = val[size_t(h * hd + i0)], a1 = val[size_t(h * hd + i1)];
              val[size_t(h * hd + i0)] = a0 * std::cos(ang) - a1 * std::sin(ang);
              val[size_t(h * hd + i1)] = a0 * std::sin(ang) + a1 * std::cos(ang);
            }
        };
        std::vector<double> qv, qm, kvv, km, vv, vm;
        project(wq, bq, qr, qv, qm);
        project(wk, bk, kr, kvv, km);
        project(wv, bv, kr, vv, vm);
        rope(qv, heads);
        rope(kvv, kv);
        const double tol = tolerance(wt, true);
        // A rotated element mixes in its pair partner: its error bound has both magnitudes.
        auto partner = [&](int d) {
          if (d >= c.rot) return d;
          if (c.mode == 0) return d ^ 1;
          return d < c.rot / 2 ? d + c.rot / 2 : d - c.rot / 2;
        };
        for (int h = 0; h < heads; ++h)
          for (int d = 0; d < hd; ++d) {
            const size_t i = size_t(h * hd + d);
            const double m = qm[i] + qm[size_t(h * hd + partner(d))];
            ASSERT_NEAR(q[i], qv[i], tol * m + 1e-5) << "q head " << h << " dim " << d;
          }
        for (int h = 0; h < kv; ++h)
          for (int p = 0; p < cap; ++p)
            for (int d = 0; d < hd; ++d) {
              const size_t at = (size_t(h) * cap + size_t(p)) * hd + size_t(d);
              if (p != pos) {
                ASSERT_EQ(k[at], cache0[at]) << "k cache touched at position " << p;
                ASSERT_EQ(v[at], cache0[at]) << "v cache touched at position " << p;
                continue;
              }
              const size_t i = size_t(h * hd + d);
              const double m = km[i] + km[size_t(h * hd + partner(d))];
              EXPECT_NEAR(sf::quant::half_to_float(k[at]), kvv[i],
                          tol * m + 1e-3 * std::fabs(kvv[i]) + 1e-4);
              EXPECT_NEAR(sf::quant::half_to_float(v[at]), vv[i],
                          tol * vm[i] + 1e-3 * std::fabs(vv[i]) + 1e-4);
            }
      }
    }
  }
}

struct AttnCase {
  int heads, kv, hd, pos, splits, window;
  float softcap;
};

TEST(DecodeFused, AttentionDecodeMatchesTheReferenceAndIsRepeatable) {
  std::mt19937 rng(42);
  const int cap = 300;
  const AttnCase cases[] = {{8, 2, 64, 0, 4, 0, 0.0f},     {8, 2, 64, 130, 3, 0, 0.0f},
                            {8, 2, 128, 299, 16, 0, 0.0f}, {6, 2, 128, 200, 5, 50, 0.0f},
                            {4, 1, 256, 77, 2, 0, 30.0f},  {3, 3, 32, 250, 7, 0, 0.0f}};
  for (sf::BackendKind backend : backends()) {
    sf::Device dev = sf::Device::open({backend});
    for (const AttnCase& c : cases) {
      SCOPED_TRACE(std::string(sf::backend_name(backend)) + " hd " + std::to_string(c.hd) +
                   " pos " + std::to_string(c.pos) + " splits " + std::to_string(c.splits));
      const std::vector<float> q = random_floats(rng, size_t(c.heads) * c.hd);
      std::vector<uint16_t> kc(size_t(c.kv) * cap * c.hd), vc(kc.size());
      std::uniform_real_distribution<float> u(-1, 1);
      for (uint16_t& h : kc) h = sf::quant::float_to_half(u(rng));
      for (uint16_t& h : vc) h = sf::quant::float_to_half(u(rng));
      ops::AttentionParams p;
      p.heads = c.heads;
      p.kv_heads = c.kv;
      p.head_dim = c.hd;
      p.cap = cap;
      p.scale = float(1.0 / std::sqrt(double(c.hd)));
      p.window = c.window;
      p.softcap = c.softcap;
      sf::Buffer bq = upload(dev, q), bk = upload(dev, kc), bv = upload(dev, vc),
                 bpos = upload(dev, std::vector<int32_t>{c.pos}),
                 scratch = dev.alloc(ops::attention_decode_scratch_bytes(p, c.splits)),
                 out = poisoned_f32(dev, q.size());
      std::vector<float> first;
      for (int run = 0; run < 2; ++run) {
        sf::CommandEncoder enc = dev.command_encoder();
        ops::attention_decode(enc, bq, bk, bv, bpos, scratch, out, c.splits, p);
        enc.commit_and_wait();
        const std::vector<float> o = download<float>(out, q.size());
        if (run == 1) {
          ASSERT_TRUE(bitwise_equal(o, first)) << "a second launch differs (counters not reset?)";
          break;
        }
        first = o;
        const int group = c.heads / c.kv;
        const int lo = c.window > 0 ? std::max(0, c.pos - c.window + 1) : 0;
        for (int h = 0; h < c.heads; ++h) {
          const int kvh = h / group;
          std::vector<double> s;
          double mx = -INFINITY;
          for (int key = lo; key <= c.pos; ++key) {
            double d = 0;
            for (int i = 0; i < c.hd; ++i)
              d += double(q[size_t(h * c.hd + i)]) * p.scale *
                   sf::quant::half_to_float(kc[(size_t(kvh) * cap + key) * c.hd + i]);
            if (c.softcap > 0) d = c.softcap * std::tanh(d / c.softcap);
            s.push_back(d);
            mx = std::max(mx, d);
          }
          double den = 0;
          for (double& v : s) den += (v = std::exp(v - mx));
          for (int i = 0; i < c.hd; ++i) {
            double num = 0;
            for (int key = lo; key <= c.pos; ++key)
              num += s[size_t(key - lo)] *
                     sf::quant::half_to_float(vc[(size_t(kvh) * cap + key) * c.hd + i]);
            ASSERT_NEAR(o[size_t(h * c.hd + i)], num / den, 2e-5) << "head " << h << " dim " << i;
          }
        }
      }
    }
  }
}

TEST(DecodeFused, BadShapesAreRejectedBeforeRecording) {
  sf::Device dev = sf::Device::open({sf::BackendKind::Cpu});
  sf::Buffer w = dev.alloc(1 << 16), x = dev.alloc(4096), y = dev.alloc(4096);
  sf::CommandEncoder enc = dev.command_encoder();
  try {
    ops::mv(enc, w, DType::Q4_K, 4, 100, x, y);
    FAIL() << "cols 100 accepted for q4_k";
  } catch (const sf::Error& e) {
    EXPECT_NE(std::string(e.what()).find("cols"), std::string::npos) << e.what();
  }
  ops::AttentionParams p;
  p.heads = 4;
  p.kv_heads = 1;
  p.head_dim = 96;
  p.cap = 16;
  try {
    ops::attention_decode(enc, x, x, x, x, y, y, 2, p);
    FAIL() << "head_dim 96 accepted";
  } catch (const sf::Error& e) {
    EXPECT_NE(std::string(e.what()).find("head_dim = 96"), std::string::npos) << e.what();
  }
  EXPECT_FALSE(enc.has_dispatches());
}

}  // namespace
