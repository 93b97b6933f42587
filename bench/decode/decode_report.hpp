// The benchmark's results: the rows, the bandwidth floor of each, the table printed last and
// the JSON (stagefence.bench/1 with a "decode" object; docs/json-schema.md).
#pragma once
#include <cstdint>
#include <cstdio>
#include <optional>
#include <string>
#include <vector>

#include "copy_bandwidth.hpp"
#include "decode_options.hpp"
#include "gpu_busy.hpp"
#include "model/llama/config.hpp"
#include "model/llama/generator.hpp"
#include "stagefence/device.hpp"
#include "value_samples.hpp"

namespace stagefence::bench {

struct DecodeRow {
  DType dtype = DType::BF16;
  int context = 0;
  llama::SubmissionMode mode = llama::SubmissionMode::Session;
  llama::GenerationResult result;  // the measured run
  std::optional<GpuBusy> busy;     // the timestamped run
  int busy_steps = 0;
  double busy_ms_per_token = 0;  // wall time per token of the timestamped run
  uint64_t busy_commits = 0;
  double weight_bytes = 0;   // weight bytes one token reads
  double kv_bytes = 0;       // KV-cache bytes one token reads and writes, averaged over the steps
  bool tokens_match = true;  // same tokens as the first mode of this dtype and context

  std::vector<int32_t> decode_tokens() const;  // the tokens of the decode steps
  double ms_per_token() const { return result.decode.ms_per_token; }
  double floor_ms(double bytes_per_s) const;
  double pct_of_floor(double bytes_per_s) const;
  double gpu_busy_us() const;  // NaN without a timestamped run
  // Of the timestamped run: its wall time per token minus its GPU busy time per token.
  double gpu_idle_us() const;
};

struct DecodeReport {
  DecodeOptions options;
  std::string shape;  // "llama3-8b" or "tiny"
  llama::LlamaConfig config;
  int32_t start_token = 0;
  CopyBandwidth copy;
  std::vector<std::pair<DType, double>> init_ms;  // hashed_model time per dtype
  std::vector<DecodeRow> rows;
  std::vector<WeightSample> weight_samples;                       // of the bf16 model
  std::vector<std::pair<int, std::vector<KvSample>>> kv_samples;  // per context
};

// Weight bytes one decode token reads: every weight, except that the embedding contributes one
// row (unless it is also the output matrix).
double weight_bytes_per_token(const llama::LlamaWeights& weights, const llama::LlamaConfig& c);
// KV bytes per token over `steps` decode steps from `context`: step s attends keys
// [0, context + s - 2] (K and V read) and writes one position (K and V).
double kv_bytes_per_token(const llama::LlamaConfig& c, int context, int steps);

void print_table(const DecodeReport& report, std::FILE* out);
std::string decode_json(const DecodeReport& report, const DeviceInfo& device);

}  // namespace stagefence::bench
