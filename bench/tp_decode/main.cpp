// stagefence_tp_bench: greedy decode at batch 1 split across 1, 2, 4, 8 ranks (GPUs through
// NCCL, or CPU devices), from a hashed KV cache, in session and replay modes. Each row is set
// against its floor: the bytes one rank reads per token (its weight shard and KV heads) over
// the copy bandwidth measured on device 0, plus the measured time of one decode step's
// collectives (2 all-reduces of dim floats per layer and one all-gather of the logits).
// Each shard is hashed over its own elements, so the weights (and tokens) differ between rank
// counts: the modes of one rank count must agree; equality with one device is what
// tests/model/tensor_parallel_test.cpp proves on the built-in model.
#include <chrono>
#include <cstdint>
#include <cstdio>
#include <fstream>
#include <memory>
#include <sstream>
#include <string>
#include <vector>

#include "copy_bandwidth.hpp"
#include "decode_report.hpp"
#include "model/llama/device_init.hpp"
#include "model/llama/generator.hpp"
#include "model/llama/model.hpp"
#include "model/llama/shapes.hpp"
#include "stagefence/backend_kind.hpp"
#include "stagefence/report.hpp"
#include "stagefence/stagefence.hpp"

namespace sf = stagefence;
namespace llama = stagefence::llama;

namespace {

constexpr const char* kUsage =
    "usage: stagefence_tp_bench [options]\n"
    "  --shape NAME     llama3-8b | llama3-70b | tiny                      [llama3-8b]\n"
    "  --dtype T        bf16 | q8_0 | q4_0                                 [bf16]\n"
    "  --ranks LIST     rank counts; counts above the devices are skipped  [1,2,4,8]\n"
    "  --context N      positions in the KV cache when decoding starts     [1024]\n"
    "  --tokens N       tokens per measured run                            [64]\n"
    "  --backend KIND   auto | cpu | cuda                                  [auto]\n"
    "  --json PATH      write the rows as JSON\n";

struct Options {
  std::string shape = "llama3-8b";
  sf::DType dtype = sf::DType::BF16;
  std::vector<int> ranks = {1, 2, 4, 8};
  int context = 1024;
  int tokens = 64;
  std::string backend = "auto";
  std::string json;
};

int to_int(const std::string& flag, const std::string& v, int lo, int hi) {
  size_t used = 0;
  int x = 0;
  try {
    x = std::stoi(v, &used);
  } catch (const std::exception&) {
    used = 0;
  }
  if (used != v.size() || x < lo || x > hi)
    sf::raise(sf::ErrorCode::InvalidArgument, flag + " '" + v + "': expected an integer in [" +
                                                  std::to_string(lo) + ", " + std::to_string(hi) +
                                                  "]");
  return x;
}

// "tiny" here is the shape table's tiny-tp (its heads split across more ranks).
llama::LlamaConfig config_for(const std::string& shape) {
  return llama::shape_config(shape == "tiny" ? "tiny-tp" : shape);
}

bool parse(int argc, char** argv, Options& o) {
  for (int i = 1; i < argc; ++i) {
    const std::string a = argv[i];
    auto value = [&]() -> std::string {
      if (i + 1 >= argc) sf::raise(sf::ErrorCode::InvalidArgument, a + " needs a value");
      return argv[++i];
    };
    if (a == "--help") {
      std::fputs(kUsage, stdout);
      return false;
    } else if (a == "--shape") {
      o.shape = value();
      (void)config_for(o.shape);  // throws naming the shape and the known ones
    } else if (a == "--dtype") {
      const std::string t = value();
      if (t == "bf16")
        o.dtype = sf::DType::BF16;
      else if (t == "q8_0")
        o.dtype = sf::DType::Q8_0;
      else if (t == "q4_0")
        o.dtype = sf::DType::Q4_0;
      else
        sf::raise(sf::ErrorCode::InvalidArgument,
                  "--dtype '" + t + "': expected bf16, q8_0 or q4_0");
    } else if (a == "--ranks") {
      o.ranks.clear();
      std::stringstream ss(value());
      for (std::string item; std::getline(ss, item, ',');)
        o.ranks.push_back(to_int("--ranks", item, 1, 64));
      if (o.ranks.empty()) sf::raise(sf::ErrorCode::InvalidArgument, "--ranks is empty");
    } else if (a == "--context") {
      o.context = to_int(a, value(), 2, 1 << 20);
    } else if (a == "--tokens") {
      o.tokens = to_int(a, value(), 2, 1 << 16);
    } else if (a == "--backend") {
      o.backend = value();
    } else if (a == "--json") {
      o.json = value();
    } else {
      sf::raise(sf::ErrorCode::InvalidArgument, "unknown option '" + a + "' (see --help)");
    }
  }
  return true;
}

double now_us() {
  using namespace std::chrono;
  return duration<double, std::micro>(steady_clock::now().time_since_epoch()).count();
}

// Host-clock time of one decode step's collectives on `ranks` devices: 2 all-reduces of dim
// floats per layer and an all-gather of vocab / ranks floats, recorded in one buffer per rank.
double collective_us_per_token(const std::vector<sf::Device*>& devices,
                               const std::vector<sf::Communicator>& comms,
                               const llama::LlamaConfig& c) {
  if (devices.size() == 1) return 0.0;
  const uint64_t part = uint64_t(c.vocab) / devices.size();
  std::vector<sf::Buffer> x, send, recv;
  for (sf::Device* d : devices) {
    x.push_back(d->alloc(sf::DType::F32, {c.dim}));
    send.push_back(d->alloc(sf::DType::F32, {int64_t(part)}));
    recv.push_back(d->alloc(sf::DType::F32, {c.vocab}));
  }
  double best = 1e300;
  for (int round = 0; round < 5; ++round) {
    std::vector<sf::CommandEncoder> encs;
    const double t0 = now_us();
    for (size_t r = 0; r < devices.size(); ++r) {
      encs.push_back(devices[r]->command_encoder());
      for (int l = 0; l < 2 * c.layers; ++l)
        comms[r].all_reduce_sum(encs.back(), x[r], uint64_t(c.dim));
      comms[r].all_gather(encs.back(), send[r], recv[r], part);
      encs.back().commit();
    }
    for (auto& e : encs) e.wait();
    if (round > 0) best = std::min(best, now_us() - t0);
  }
  return best;
}

struct Row {
  int ranks = 0;
  std::string mode;
  double ms_per_token = 0, cpu_us_per_token = 0;
  double shard_bytes = 0, kv_bytes = 0, collective_us = 0, floor_ms = 0;
  std::vector<int32_t> tokens;
  bool tokens_match = true;
  std::string skipped;
};

int run(int argc, char** argv) {
  Options o;
  if (!parse(argc, argv, o)) return 0;
  const llama::LlamaConfig c = config_for(o.shape);
  sf::DeviceOptions dopt;
  dopt.backend = sf::parse_backend(o.backend, "--backend");

  int most = 0;
  for (int r : o.ranks) most = std::max(most, r);
  std::vector<std::unique_ptr<sf::Device>> all;
  for (int r = 0; r < most; ++r) {
    dopt.cuda_ordinal = r;
    try {
      all.push_back(std::make_unique<sf::Device>(sf::Device::open(dopt)));
    } catch (const sf::Error& e) {
      if (r == 0) throw;
      break;  // fewer GPUs than asked for
    }
    if (r == 0) dopt.backend = all[0]->backend();
  }
  const sf::DeviceInfo& info = all[0]->info();
  std::printf("device: %s [%s], %zu available; shape %s (%s), %s\n", info.name.c_str(),
              sf::backend_name(info.backend), all.size(), o.shape.c_str(), c.summary().c_str(),
              std::string(sf::dtype_name(o.dtype)).c_str());
  const sf::bench::CopyBandwidth copy = sf::bench::measure_copy_bandwidth(
      *all[0], info.backend == sf::BackendKind::Cpu ? 64ull << 20 : 1ull << 30);
  all[0]->trim_pool();
  std::printf("copy bandwidth (device 0): %.1f GB/s\n", copy.bytes_per_s * 1e-9);

  std::vector<Row> rows;
  for (int ranks : o.ranks) {
    std::vector<int32_t> reference;
    if (ranks > int(all.size())) {
      Row skip;
      skip.ranks = ranks;
      skip.skipped = "only " + std::to_string(all.size()) + " device(s)";
      rows.push_back(skip);
      std::printf("%d ranks: skipped (%s)\n", ranks, skip.skipped.c_str());
      continue;
    }
    std::vector<sf::Device*> devices;
    for (int r = 0; r < ranks; ++r) devices.push_back(all[size_t(r)].get());
    try {
      const std::vector<sf::Communicator> comms =
          ranks > 1 ? sf::Communicator::create_group(devices) : std::vector<sf::Communicator>{};
      std::vector<llama::LlamaModel> shards;
      for (int r = 0; r < ranks; ++r)
        shards.push_back(llama::hashed_model(*devices[size_t(r)], c,
                                             llama::WeightTypes::all(o.dtype), 1234, {r, ranks}));
      std::vector<const llama::LlamaModel*> ptrs;
      for (const auto& s : shards) ptrs.push_back(&s);
      llama::ForwardOptions fo;
      fo.context = o.context + o.tokens;
      llama::Generator gen = ranks == 1 ? llama::Generator(*devices[0], shards[0], fo)
                                        : llama::Generator(devices, ptrs, comms, fo);
      const double coll_us = collective_us_per_token(devices, comms, c);
      // One rank's reads per token: its weight shard and its K/V heads of the cache.
      llama::LlamaConfig local = c;
      local.kv_heads = shards[0].shard.kv_heads;
      const double shard_bytes = sf::bench::weight_bytes_per_token(shards[0].weights, c);
      const double kv_bytes = sf::bench::kv_bytes_per_token(local, o.context, o.tokens - 1);
      for (llama::SubmissionMode mode :
           {llama::SubmissionMode::Session, llama::SubmissionMode::Replay}) {
        llama::GenerateOptions go;
        go.mode = mode;
        go.max_new_tokens = o.tokens;
        go.on_token = [&](int step, int32_t) {
          if (step != 0) return;
          for (int r = 0; r < ranks; ++r) {
            const llama::LlamaForward& f = gen.forward(r);
            llama::fill_kv_cache(*devices[size_t(r)], f, o.context - 1, 1234);
            const int32_t position = o.context - 1, token = 1;
            f.position().upload(&position, sizeof position);
            f.token().upload(&token, sizeof token);
          }
        };
        const int32_t prompt[1] = {1};
        gen.generate(prompt, go);  // warm-up: graphs built, pools filled
        const llama::GenerationResult res = gen.generate(prompt, go);
        Row row;
        row.ranks = ranks;
        row.mode = llama::mode_name(mode);
        row.ms_per_token = res.decode.ms_per_token;
        row.cpu_us_per_token = res.decode.cpu_us_per_token;
        row.shard_bytes = shard_bytes;
        row.kv_bytes = kv_bytes;
        row.collective_us = coll_us;
        row.floor_ms = 1e3 * (shard_bytes + kv_bytes) / copy.bytes_per_s + coll_us * 1e-3;
        row.tokens.assign(res.tokens.begin() + 1, res.tokens.end());
        if (reference.empty()) reference = row.tokens;
        row.tokens_match = row.tokens == reference;
        std::printf(
            "%d ranks %-7s %8.3f ms/token %8.1f tok/s  floor %.3f ms (collectives %.1f us)  "
            "%5.1f%%%s\n",
            ranks, row.mode.c_str(), row.ms_per_token, 1e3 / row.ms_per_token, row.floor_ms,
            coll_us, 100.0 * row.floor_ms / row.ms_per_token,
            row.tokens_match ? "" : "  TOKENS DIFFER from the first row");
        std::fflush(stdout);
        rows.push_back(row);
      }
    } catch (const sf::Error& e) {
      Row skip;
      skip.ranks = ranks;
      skip.skipped = e.what();
      rows.push_back(skip);
      std::printf("%d ranks: skipped (%s)\n", ranks, e.what());
    }
    for (sf::Device* d : devices) d->trim_pool();
  }

  std::printf("\n%-6s %-7s %10s %8s %12s %13s %11s %8s %6s\n", "ranks", "mode", "ms/token", "tok/s",
              "floor ms", "collective us", "CPU us/tok", "% floor", "match");
  bool all_match = true;
  for (const Row& r : rows) {
    if (!r.skipped.empty()) {
      std::printf("%-6d skipped: %s\n", r.ranks, r.skipped.c_str());
      continue;
    }
    all_match = all_match && r.tokens_match;
    std::printf("%-6d %-7s %10.3f %8.1f %12.3f %13.1f %11.1f %7.1f%% %6s\n", r.ranks,
                r.mode.c_str(), r.ms_per_token, 1e3 / r.ms_per_token, r.floor_ms, r.collective_us,
                r.cpu_us_per_token, 100.0 * r.floor_ms / r.ms_per_token,
                r.tokens_match ? "yes" : "NO");
  }
  if (!o.json.empty()) {
    std::ofstream out(o.json);
    out << "{\"schema\":\"stagefence.tp_bench/1\",\"device\":" << sf::json_quote(info.name)
        << ",\"backend\":" << sf::json_quote(sf::backend_name(info.backend))
        << ",\"shape\":" << sf::json_quote(o.shape)
        << ",\"dtype\":" << sf::json_quote(sf::dtype_name(o.dtype)) << ",\"context\":" << o.context
        << ",\"copy_gb_s\":" << sf::json_number(copy.bytes_per_s * 1e-9) << ",\"rows\":[";
    for (size_t i = 0; i < rows.size(); ++i) {
      const Row& r = rows[i];
      out << (i ? "," : "") << "{\"ranks\":" << r.ranks;
      if (!r.skipped.empty()) {
        out << ",\"skipped\":" << sf::json_quote(r.skipped) << "}";
        continue;
      }
      out << ",\"mode\":" << sf::json_quote(r.mode)
          << ",\"ms_per_token\":" << sf::json_number(r.ms_per_token)
          << ",\"cpu_us_per_token\":" << sf::json_number(r.cpu_us_per_token)
          << ",\"shard_weight_bytes\":" << sf::json_number(r.shard_bytes)
          << ",\"kv_bytes\":" << sf::json_number(r.kv_bytes)
          << ",\"collective_us\":" << sf::json_number(r.collective_us)
          << ",\"floor_ms\":" << sf::json_number(r.floor_ms)
          << ",\"tokens_match\":" << (r.tokens_match ? "true" : "false") << "}";
    }
    out << "]}\n";
    if (!out.flush()) sf::raise(sf::ErrorCode::Io, "cannot write " + o.json);
    std::printf("wrote %s\n", o.json.c_str());
  }
  if (!all_match) {
    std::fprintf(stderr, "stagefence_tp_bench: the modes decoded different tokens\n");
    return 3;
  }
  return 0;
}

}  // namespace

int main(int argc, char** argv) {
  try {
    return run(argc, argv);
  } catch (const std::exception& e) {
    std::fprintf(stderr, "stagefence_tp_bench: %s\n", e.what());
    return 1;
  }
}
