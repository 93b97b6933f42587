#include "run_options.hpp"

#include <cstdint>
#include <limits>

#include "option_checks.hpp"
#include "stagefence/backend_kind.hpp"

namespace stagefence::cli {

DeviceOptions ModelArgs::device_options() const {
  DeviceOptions o;
  o.backend = parse_backend(backend, "--backend");
  return o;
}

llama::ForwardOptions ModelArgs::forward_options() const {
  llama::ForwardOptions o;
  o.context = context;
  o.prefill_chunk = prefill_chunk;
  return o;
}

llama::SamplingOptions SamplingArgs::options() const {
  llama::SamplingOptions o;
  o.temperature = float(temperature);
  o.top_k = top_k;
  o.top_p = float(top_p);
  o.seed = seed;
  return o;
}

void add_model_options(CLI::App& app, ModelArgs& a, bool allow_all_modes) {
  app.add_option("-m,--model", a.model,
                 "a Llama-family GGUF model (default: $STAGEFENCE_MODEL_GGUF, else the installed "
                 "SmolLM2, else the built-in model)")
      ->type_name("FILE.gguf")
      ->check(non_empty("a GGUF file path"));
  app.add_option("--backend", a.backend, std::string(backend_choices()) + " (default: auto)")
      ->type_name("KIND")
      ->check(backend_name_check());
  app.add_option("--ranks", a.ranks,
                 "tensor-parallel ranks: GPUs 0..N-1 through NCCL, or N CPU devices (default: 1)")
      ->type_name("N")
      ->check(integer_in(1, 64));
  app.add_option("-c,--context", a.context,
                 "KV cache capacity in tokens; 0 = min(model context, 2048) (default: 0)")
      ->type_name("N")
      ->check(integer_in(0, 1 << 20));
  app.add_option("--prefill-chunk", a.prefill_chunk, "prompt tokens per prefill pass (default: 32)")
      ->type_name("N")
      ->check(integer_in(1, 4096));
  app.add_option("--layers-per-stage", a.layers_per_stage,
                 "layers sharing one stage; 0 = all (default: 1)")
      ->type_name("N")
      ->check(integer_in(0, 1 << 16));
  std::vector<std::string> modes = {"blocking", "single", "session", "replay", "loop"};
  if (allow_all_modes) modes.push_back("all");
  app.add_option("--mode", a.mode,
                 std::string("submission mode: blocking | single | session | replay | loop") +
                     (allow_all_modes ? " | all" : "") + " (default: session)")
      ->type_name("MODE")
      ->check(one_of(modes));
  app.add_option("--stream-interval-ms", a.stream_interval_ms,
                 "loop mode: milliseconds between the host's reads of the device's token ring; "
                 "tokens stream once per interval (default: 50)")
      ->type_name("MS")
      ->check(integer_in(1, 60000));
}

void add_sampling_options(CLI::App& app, SamplingArgs& a) {
  app.add_option("-t,--temperature", a.temperature,
                 "sampling temperature, >= 0; 0 = greedy (default: 0)")
      ->type_name("T")
      ->check(number_in(0, std::numeric_limits<double>::infinity()));
  app.add_option("-k,--top-k", a.top_k, "keep the K most likely tokens; 0 = all (default: 0)")
      ->type_name("K")
      ->check(integer_in(0, 1 << 30));
  app.add_option("--top-p", a.top_p,
                 "keep the smallest set with probability mass >= P, 0 < P <= 1; 1 = off "
                 "(default: 1)")
      ->type_name("P")
      ->check(number_in(0, 1, /*open_lo=*/true));
  app.add_option("-s,--seed", a.seed, "sampling seed (default: 0)")
      ->type_name("S")
      ->check(integer_in(0, std::numeric_limits<int64_t>::max()));
}

void finish_model_options(const CLI::App& app, ModelArgs& a) {
  a.model_given = app.count("--model") > 0;
}

}  // namespace stagefence::cli
