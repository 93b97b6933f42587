// stagefence_kernel_bench: the decode kernels timed inside one command buffer (a CUDA graph on
// the GPU) of `launches` dispatches over rotating weight copies, so the weights come from device
// memory and not from L2; bytes moved over time against the device-to-device copy bandwidth the
// program measures itself. Prints a table and, with --json FILE, writes it as JSON.
//   stagefence_kernel_bench [--json FILE] [--filter SUBSTRING] [--launches N]
#include <algorithm>
#include <cmath>
#include <cstdint>
#include <cstdio>
#include <cstring>
#include <functional>
#include <random>
#include <string>
#include <vector>

#include "copy_bandwidth.hpp"
#include "kernels/decode_ops.hpp"
#include "kernels/ops.hpp"
#include "stagefence/stagefence.hpp"

namespace sf = stagefence;
namespace ops = sf::kernels::ops;
using sf::DType;

namespace {

struct Row {
  std::string kernel, shape;
  double us = 0, bytes = 0;
};

// Random weight bytes (splitmix64, fast enough for gigabytes) with every 16-bit word's exponent
// kept small, so float weights and block scales are finite and no NaN slows or skews a kernel.
std::vector<uint8_t> weight_bytes(uint64_t seed, uint64_t bytes) {
  std::vector<uint8_t> v((bytes + 7) / 8 * 8);
  uint64_t z = seed;
  for (size_t i = 0; i < v.size(); i += 8) {
    z += 0x9E3779B97F4A7C15ull;
    uint64_t r = z;
    r = (r ^ (r >> 30)) * 0xBF58476D1CE4E5B9ull;
    r = (r ^ (r >> 27)) * 0x94D049BB133111EBull;
    r ^= r >> 31;
    r &= 0x3bff3bff3bff3bffull;  // bit 14 of every 16-bit word clear: |half| < 2, |bf16| small
    std::memcpy(&v[i], &r, 8);
  }
  v.resize(bytes);
  return v;
}

class Bench {
 public:
  Bench(sf::Device& dev, int launches) : dev_(dev), launches_(launches) {}

  // Times `record(enc, copy)` `launches` times in one buffer, copy = i % copies; median of 5.
  double time_us(int copies, const std::function<void(sf::CommandEncoder&, int)>& record) {
    std::vector<double> runs;
    for (int rep = 0; rep < 6; ++rep) {
      sf::CommandEncoder enc = dev_.command_encoder();
      enc.enable_timestamps();
      for (int i = 0; i < launches_; ++i) record(enc, i % copies);
      enc.commit_and_wait();
      const sf::CommandBufferTimes t = enc.times();
      if (rep > 0 && t.valid) runs.push_back(t.gpu_us / launches_);
    }
    std::sort(runs.begin(), runs.end());
    return runs.empty() ? 0.0 : runs[runs.size() / 2];
  }

  // Enough copies of `bytes` that a buffer's reads exceed 4x the L2.
  int copies_for(uint64_t bytes) const {
    const uint64_t l2 = std::max<uint64_t>(dev_.info().l2_bytes, 64ull << 20);
    return int(std::clamp<uint64_t>((4 * l2 + bytes - 1) / bytes, 2, 64));
  }

  std::vector<sf::Buffer> weights(DType t, uint64_t bytes, int copies) {
    const std::vector<uint8_t> host = weight_bytes(bytes * 31 + uint64_t(t), bytes);
    std::vector<sf::Buffer> out;
    for (int i = 0; i < copies; ++i) {
      out.push_back(dev_.alloc(bytes));
      out.back().upload(host.data(), bytes);
    }
    return out;
  }

  sf::Buffer floats(size_t n, float lo, float hi) {
    std::mt19937 rng{static_cast<uint32_t>(n)};
    std::uniform_real_distribution<float> u(lo, hi);
    std::vector<float> v(n);
    for (float& x : v) x = u(rng);
    sf::Buffer b = dev_.alloc(n * 4);
    b.upload(v.data(), n * 4);
    return b;
  }

 private:
  sf::Device& dev_;
  int launches_;
};

std::string shape_name(int rows, int cols) {
  return std::to_string(rows) + "x" + std::to_string(cols);
}

}  // namespace

int main(int argc, char** argv) {
  std::string json_path, filter;
  int launches = 20;
  for (int i = 1; i < argc; ++i) {
    const std::string a = argv[i];
    if (a == "--json" && i + 1 < argc) {
      json_path = argv[++i];
    } else if (a == "--filter" && i + 1 < argc) {
      filter = argv[++i];
    } else if (a == "--launches" && i + 1 < argc) {
      launches = std::max(1, std::atoi(argv[++i]));
    } else {
      std::fprintf(stderr,
                   "usage: stagefence_kernel_bench [--json FILE] [--filter S] [--launches N]\n");
      return 2;
    }
  }
  try {
    sf::Device dev = sf::Device::open();
    std::printf("device: %s (%s)\n", dev.info().name.c_str(), sf::backend_name(dev.backend()));
    const sf::bench::CopyBandwidth bw = sf::bench::measure_copy_bandwidth(dev, 1ull << 30);
    std::printf("copy bandwidth: %.1f GB/s (read + write)\n", bw.bytes_per_s / 1e9);
    Bench bench(dev, launches);
    std::vector<Row> rows;
    auto want = [&](const std::string& name) {
      return filter.empty() || name.find(filter) != std::string::npos;
    };
    auto add = [&](const std::string& kernel, const std::string& shape, double us, double bytes) {
      rows.push_back({kernel, shape, us, bytes});
      std::printf("%-22s %-22s %9.2f us %8.1f GB/s %6.1f%%\n", kernel.c_str(), shape.c_str(), us,
                  bytes / (us * 1e-6) / 1e9, 100.0 * bytes / (us * 1e-6) / bw.bytes_per_s);
      std::fflush(stdout);
    };

    const int shapes[][2] = {
        {4096, 4096}, {1024, 4096}, {14336, 4096}, {4096, 14336}, {128256, 4096}};
    const DType types[] = {DType::BF16, DType::F16,  DType::Q8_0, DType::Q4_0, DType::Q4_1,
                           DType::Q5_0, DType::Q4_K, DType::Q5_K, DType::Q6_K};
    // Matrix-vector: the new streaming kernel against the previous one.
    for (DType t : types) {
      for (const auto& s : shapes) {
        const std::string tn(sf::dtype_name(t));
        if (!want("mv." + tn) && !want("matvec." + tn)) continue;
        const uint64_t bytes = uint64_t(s[0]) * sf::dtype_bytes(t, uint64_t(s[1]));
        const int copies = bench.copies_for(bytes);
        std::vector<sf::Buffer> w = bench.weights(t, bytes, copies);
        sf::Buffer x = bench.floats(size_t(s[1]), -1, 1), y = dev.alloc(uint64_t(s[0]) * 4);
        const double act = double(s[1]) * 4 + double(s[0]) * 4;
        if (want("mv." + tn))
          add("mv." + tn, shape_name(s[0], s[1]),
              bench.time_us(copies, [&](sf::CommandEncoder& e,
                                        int c) { ops::mv(e, w[size_t(c)], t, s[0], s[1], x, y); }),
              double(bytes) + act);
        if (want("matvec." + tn))
          add("matvec." + tn, shape_name(s[0], s[1]),
              bench.time_us(copies,
                            [&](sf::CommandEncoder& e, int c) {
                              ops::matvec(e, w[size_t(c)], t, s[0], s[1], x, y);
                            }),
              double(bytes) + act);
      }
    }
    // Fused QKV (Llama-3-8B: 32 q / 8 kv heads of 128) and gate/up with SwiGLU.
    for (DType t : types) {
      const std::string tn(sf::dtype_name(t));
      const int dim = 4096, heads = 32, kv = 8, hd = 128, cap = 1024, ffn = 14336;
      sf::Buffer x = bench.floats(dim, -1, 1), nw = bench.floats(dim, 0.5f, 1.5f);
      const ops::FoldedNorm norm{&nw, 1e-5f, false};
      if (want("qkv." + tn)) {
        const uint64_t qb = uint64_t(heads) * hd * sf::dtype_bytes(t, dim);
        const uint64_t kb = uint64_t(kv) * hd * sf::dtype_bytes(t, dim);
        const int copies = bench.copies_for(qb + 2 * kb);
        std::vector<sf::Buffer> wq = bench.weights(t, qb, copies),
                                wk = bench.weights(t, kb, copies),
                                wv = bench.weights(t, kb, copies);
        sf::Buffer pos = dev.alloc(4), q = dev.alloc(uint64_t(heads) * hd * 4),
                   kc = dev.alloc(uint64_t(kv) * cap * hd * 2),
                   vc = dev.alloc(uint64_t(kv) * cap * hd * 2);
        ops::QkvShape sh;
        sh.dim = dim;
        sh.heads = heads;
        sh.kv_heads = kv;
        sh.cap = cap;
        sh.rope = {hd, hd, 500000.0f, ops::RopeMode::Adjacent, 1.0f};
        add("qkv." + tn, "6144x4096",
            bench.time_us(copies,
                          [&](sf::CommandEncoder& e, int c) {
                            ops::qkv(e, wq[size_t(c)], wk[size_t(c)], wv[size_t(c)], t, sh, x, norm,
                                     nullptr, nullptr, nullptr, pos, q, kc, vc);
                          }),
            double(qb + 2 * kb));
      }
      if (want("glu." + tn)) {
        const uint64_t gb = uint64_t(ffn) * sf::dtype_bytes(t, dim);
        const int copies = bench.copies_for(2 * gb);
        std::vector<sf::Buffer> wg = bench.weights(t, gb, copies),
                                wu = bench.weights(t, gb, copies);
        sf::Buffer out = dev.alloc(uint64_t(ffn) * 4);
        add("glu." + tn, "2x14336x4096",
            bench.time_us(copies,
                          [&](sf::CommandEncoder& e, int c) {
                            ops::glu(e, wg[size_t(c)], wu[size_t(c)], t, ffn, dim, x, norm, out);
                          }),
            double(2 * gb));
      }
    }
    // Attention decode against split + merge (Llama-3-8B: 32 q / 8 kv heads of 128).
    for (int ctx : {1024, 8192}) {
      ops::AttentionParams p;
      p.heads = 32;
      p.kv_heads = 8;
      p.head_dim = 128;
      p.cap = ctx;
      p.scale = float(1.0 / std::sqrt(128.0));
      const uint64_t cache_bytes = uint64_t(p.kv_heads) * ctx * p.head_dim * 2;
      const int copies = bench.copies_for(2 * cache_bytes);
      std::vector<sf::Buffer> kc = bench.weights(DType::F16, cache_bytes, copies),
                              vc = bench.weights(DType::F16, cache_bytes, copies);
      sf::Buffer q = bench.floats(size_t(p.heads) * p.head_dim, -1, 1),
                 out = dev.alloc(uint64_t(p.heads) * p.head_dim * 4);
      std::vector<int32_t> last = {ctx - 1};
      sf::Buffer pos = dev.alloc(4);
      pos.upload(last.data(), 4);
      const std::string shape = "ctx " + std::to_string(ctx) + " 32/8 hd128";
      for (int splits : {8, 16, 32}) {
        if (!want("attn.decode")) break;
        sf::Buffer scratch = dev.alloc(ops::attention_decode_scratch_bytes(p, splits));
        add("attn.decode s" + std::to_string(splits), shape,
            bench.time_us(copies,
                          [&](sf::CommandEncoder& e, int c) {
                            ops::attention_decode(e, q, kc[size_t(c)], vc[size_t(c)], pos, scratch,
                                                  out, splits, p);
                          }),
            double(2 * cache_bytes));
      }
      if (want("attn.split")) {
        const int splits = 32;
        sf::Buffer partial =
            dev.alloc(ops::attention_partial_bytes(1, p.heads, p.head_dim, splits));
        add("attn.split+merge s32", shape,
            bench.time_us(copies,
                          [&](sf::CommandEncoder& e, int c) {
                            ops::attention(e, q, kc[size_t(c)], vc[size_t(c)], pos, partial, out, 1,
                                           splits, p);
                          }),
            double(2 * cache_bytes));
      }
    }

    if (!json_path.empty()) {
      FILE* f = std::fopen(json_path.c_str(), "w");
      if (!f) throw sf::Error(sf::ErrorCode::InvalidArgument, "cannot write " + json_path);
      std::fprintf(f, "{\"device\": \"%s\", \"copy_bytes_per_s\": %.0f, \"rows\": [\n",
                   dev.info().name.c_str(), bw.bytes_per_s);
      for (size_t i = 0; i < rows.size(); ++i)
        std::fprintf(f,
                     "  {\"kernel\": \"%s\", \"shape\": \"%s\", \"us\": %.3f, \"bytes\": %.0f}%s\n",
                     rows[i].kernel.c_str(), rows[i].shape.c_str(), rows[i].us, rows[i].bytes,
                     i + 1 < rows.size() ? "," : "");
      std::fprintf(f, "]}\n");
      if (std::fclose(f) != 0)
        throw sf::Error(sf::ErrorCode::Internal, "writing " + json_path + " failed");
    }
    return 0;
  } catch (const std::exception& e) {
    std::fprintf(stderr, "stagefence_kernel_bench: %s\n", e.what());
    return 1;
  }
}
