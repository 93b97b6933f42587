#include "decode_report.hpp"

#include <cmath>
#include <cstdint>
#include <limits>
#include <sstream>

#include "stagefence/report.hpp"

namespace stagefence::bench {
namespace {

constexpr double kNaN = std::numeric_limits<double>::quiet_NaN();

std::string num(double v) {
  return json_number(v);
}

std::string config_json(const llama::LlamaConfig& c) {
  std::ostringstream os;
  os << "{\"architecture\":" << json_quote(c.architecture) << ",\"dim\":" << c.dim
     << ",\"layers\":" << c.layers << ",\"heads\":" << c.heads << ",\"kv_heads\":" << c.kv_heads
     << ",\"head_dim\":" << c.head_dim << ",\"ffn_dim\":" << c.ffn_dim << ",\"vocab\":" << c.vocab
     << ",\"rope_dim\":" << c.rope_dim << ",\"rope_theta\":" << num(c.rope_theta)
     << ",\"rms_eps\":" << num(c.rms_eps) << ",\"rope_mode\":"
     << json_quote(c.rope_mode == kernels::ops::RopeMode::Adjacent ? "adjacent" : "half")
     << ",\"tied_output\":" << (c.tied_output ? "true" : "false") << '}';
  return os.str();
}

std::string tokens_json(const std::vector<int32_t>& tokens) {
  std::string s = "[";
  for (size_t i = 0; i < tokens.size(); ++i) s += (i ? "," : "") + std::to_string(tokens[i]);
  return s + "]";
}

RunFigures run_figures(const DecodeRow& r, const DecodeReport& report) {
  const llama::DecodeFigures& d = r.result.decode;
  RunFigures f;
  f.command = "decode";
  f.mode = llama::mode_name(r.mode);
  f.model = report.shape + " " + std::string(dtype_name(r.dtype));
  f.tokens = uint64_t(d.steps);
  f.wall_ms = d.ms_per_token * d.steps;
  f.host_cpu_ms = d.cpu_us_per_token * d.steps * 1e-3;
  f.counters = d.total;
  const double bw = report.copy.bytes_per_s;
  f.figures = {{"context", double(r.context)},
               {"tok_s", d.ms_per_token > 0 ? 1e3 / d.ms_per_token : kNaN},
               {"floor_ms", r.floor_ms(bw)},
               {"pct_of_floor", r.pct_of_floor(bw)},
               {"gpu_busy_us", r.gpu_busy_us()},
               {"gpu_idle_us", r.gpu_idle_us()},
               {"weight_bytes", r.weight_bytes},
               {"kv_bytes", r.kv_bytes},
               {"prefill_ms", r.result.prefill_ms}};
  return f;
}

std::string row_json(const DecodeRow& r, const DecodeReport& report) {
  const llama::DecodeFigures& d = r.result.decode;
  const double bw = report.copy.bytes_per_s;
  std::ostringstream os;
  os << "{\"dtype\":" << json_quote(dtype_name(r.dtype)) << ",\"context\":" << r.context
     << ",\"mode\":" << json_quote(llama::mode_name(r.mode)) << ",\"decode_steps\":" << d.steps
     << ",\"ms_per_token\":" << num(d.ms_per_token)
     << ",\"tok_s\":" << num(d.ms_per_token > 0 ? 1e3 / d.ms_per_token : kNaN)
     << ",\"cpu_us_per_token\":" << num(d.cpu_us_per_token)
     << ",\"gpu_busy_us_per_token\":" << num(r.gpu_busy_us())
     << ",\"gpu_idle_us_per_token\":" << num(r.gpu_idle_us())
     << ",\"timestamped_ms_per_token\":" << num(r.busy ? r.busy_ms_per_token : kNaN)
     << ",\"gpu_busy_buffers\":" << (r.busy ? std::to_string(r.busy->buffers) : "null")
     << ",\"gpu_busy_commits\":" << (r.busy ? std::to_string(r.busy_commits) : "null")
     << ",\"syncs_per_token\":" << num(d.syncs)
     << ",\"command_buffers_per_token\":" << num(d.command_buffers)
     << ",\"dispatches_per_token\":" << num(d.dispatches)
     << ",\"fences_per_token\":" << num(d.fences_signalled)
     << ",\"stages_per_token\":" << r.result.stages_per_token
     << ",\"session_fallback\":" << (r.result.session_fallback ? "true" : "false")
     << ",\"weight_bytes_per_token\":" << num(r.weight_bytes)
     << ",\"kv_bytes_per_token\":" << num(r.kv_bytes) << ",\"floor_ms\":" << num(r.floor_ms(bw))
     << ",\"pct_of_floor\":" << num(r.pct_of_floor(bw))
     << ",\"tokens_match\":" << (r.tokens_match ? "true" : "false")
     << ",\"tokens\":" << tokens_json(r.decode_tokens()) << '}';
  return os.str();
}

}  // namespace

std::vector<int32_t> DecodeRow::decode_tokens() const {
  if (result.tokens.size() <= 1) return {};
  return {result.tokens.begin() + 1, result.tokens.end()};
}

double DecodeRow::floor_ms(double bytes_per_s) const {
  return bytes_per_s > 0 ? (weight_bytes + kv_bytes) / bytes_per_s * 1e3 : kNaN;
}

double DecodeRow::pct_of_floor(double bytes_per_s) const {
  const double ms = ms_per_token();
  return ms > 0 ? 100.0 * floor_ms(bytes_per_s) / ms : kNaN;
}

double DecodeRow::gpu_busy_us() const {
  return busy && busy_steps > 0 ? busy->total_us / busy_steps : kNaN;
}

double DecodeRow::gpu_idle_us() const {
  return busy_ms_per_token * 1e3 - gpu_busy_us();
}

double weight_bytes_per_token(const llama::LlamaWeights& weights, const llama::LlamaConfig& c) {
  double bytes = double(weights.device_bytes());
  if (!c.tied_output)
    bytes -= double(weights.token_embd.buffer.size()) * (1.0 - 1.0 / double(c.vocab));
  return bytes;
}

double kv_bytes_per_token(const llama::LlamaConfig& c, int context, int steps) {
  const double position_bytes = 2.0 * c.layers * c.kv_heads * c.head_dim * 2;  // K and V, f16
  const double mean_keys = double(context) + (double(steps) - 1.0) / 2.0;
  return position_bytes * (mean_keys + 1.0);  // reads, plus the new position's write
}

void print_table(const DecodeReport& report, std::FILE* out) {
  const double bw = report.copy.bytes_per_s;
  std::fprintf(out,
               "\ndecode at batch 1, %s shape, %d tokens per run; floor = (weight + KV bytes per "
               "token) / %.0f GB/s measured copy bandwidth\n",
               report.shape.c_str(), report.options.tokens, bw * 1e-9);
  std::fprintf(out, "%-5s %6s %-8s %8s %8s %8s %7s %8s %9s %9s %5s %6s %6s %5s\n", "dtype", "ctx",
               "mode", "tok/s", "ms/tok", "floor_ms", "%floor", "cpu_us", "gpu_busy", "gpu_idle",
               "syncs", "cmdbuf", "disp", "same");
  for (const DecodeRow& r : report.rows) {
    const llama::DecodeFigures& d = r.result.decode;
    std::fprintf(
        out, "%-5s %6d %-8s %8.1f %8.3f %8.3f %6.1f%% %8.1f %9.1f %9.1f %5.2g %6.3g %6.4g %5s\n",
        std::string(dtype_name(r.dtype)).c_str(), r.context, llama::mode_name(r.mode),
        d.ms_per_token > 0 ? 1e3 / d.ms_per_token : 0.0, d.ms_per_token, r.floor_ms(bw),
        r.pct_of_floor(bw), d.cpu_us_per_token, r.gpu_busy_us(), r.gpu_idle_us(), d.syncs,
        d.command_buffers, d.dispatches, r.tokens_match ? "yes" : "NO");
  }
  std::fprintf(
      out,
      "(cpu_us, gpu_busy, gpu_idle: us per token; gpu_busy, gpu_idle: of a second run with "
      "timestamps on, idle = its wall time - its command buffers' GPU time; same: tokens "
      "equal to the first mode's)\n");
}

std::string decode_json(const DecodeReport& report, const DeviceInfo& device) {
  std::vector<RunFigures> runs;
  for (const DecodeRow& r : report.rows) runs.push_back(run_figures(r, report));
  std::string out = bench_json("decode", runs, device);
  out.pop_back();  // the closing brace: the "decode" object goes in first

  const DecodeOptions& o = report.options;
  std::ostringstream os;
  os << ",\"decode\":{\"shape\":" << json_quote(report.shape)
     << ",\"config\":" << config_json(report.config) << ",\"seed\":" << o.seed
     << ",\"start_token\":" << report.start_token << ",\"tokens\":" << o.tokens
     << ",\"warmup\":" << o.warmup << ",\"layers_per_stage\":" << o.layers_per_stage
     << ",\"copy\":{\"bytes\":" << report.copy.bytes << ",\"copy_us\":" << num(report.copy.copy_us)
     << ",\"bandwidth_gb_s\":" << num(report.copy.bytes_per_s * 1e-9) << "},\"init_ms\":{";
  for (size_t i = 0; i < report.init_ms.size(); ++i)
    os << (i ? "," : "") << json_quote(dtype_name(report.init_ms[i].first)) << ':'
       << num(report.init_ms[i].second);
  os << "},\"rows\":[";
  for (size_t i = 0; i < report.rows.size(); ++i)
    os << (i ? "," : "") << row_json(report.rows[i], report);
  os << "],\"weight_samples\":[";
  for (size_t i = 0; i < report.weight_samples.size(); ++i) {
    const WeightSample& s = report.weight_samples[i];
    os << (i ? "," : "") << "{\"tensor\":" << json_quote(s.tensor)
       << ",\"dtype\":" << json_quote(s.dtype) << ",\"index\":" << s.index << ",\"bits\":" << s.bits
       << '}';
  }
  os << "],\"kv_samples\":[";
  const char* sep = "";
  for (const auto& [context, samples] : report.kv_samples) {
    for (const KvSample& s : samples) {
      os << sep << "{\"context\":" << context << ",\"layer\":" << s.layer
         << ",\"cache\":" << (s.value ? "\"v\"" : "\"k\"") << ",\"position\":" << s.position
         << ",\"head\":" << s.head << ",\"dim\":" << s.dim << ",\"bits\":" << s.bits << '}';
      sep = ",";
    }
  }
  os << "]}}";
  return out + os.str();
}

}  // namespace stagefence::bench
