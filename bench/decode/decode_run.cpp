#include "decode_run.hpp"

#include <cstdint>

#include "model/llama/device_init.hpp"

namespace stagefence::bench {

llama::GenerationResult decode_from_context(Device& device, llama::Generator& generator,
                                            const DecodeStart& start, llama::SubmissionMode mode,
                                            int tokens, int layers_per_stage, BusyRecorder* busy) {
  llama::GenerateOptions o;
  o.mode = mode;
  o.layers_per_stage = layers_per_stage;
  o.max_new_tokens = tokens;
  // Step 0 is reported after the prompt's pass has completed and before the decode clock and
  // counters start: replace the prompt's state with the hashed context there.
  o.on_token = [&](int step, int32_t) {
    if (step != 0) return;
    llama::LlamaForward& forward = generator.forward();
    llama::fill_kv_cache(device, forward, start.context - 1, start.seed);
    const int32_t position = start.context - 1;
    forward.position().upload(&position, sizeof position);
    forward.token().upload(&start.start_token, sizeof start.start_token);
    if (busy) busy->start();
  };
  const int32_t prompt[1] = {start.start_token};
  return generator.generate(prompt, o);
}

ModeRun run_mode(Device& device, llama::Generator& generator, const DecodeStart& start,
                 llama::SubmissionMode mode, const DecodeOptions& options) {
  if (options.warmup >= 2)
    decode_from_context(device, generator, start, mode, options.warmup, options.layers_per_stage);
  ModeRun run;
  run.measured =
      decode_from_context(device, generator, start, mode, options.tokens, options.layers_per_stage);
  if (options.gpu_busy) {
    BusyRecorder recorder;
    const llama::GenerationResult timed = decode_from_context(
        device, generator, start, mode, options.tokens, options.layers_per_stage, &recorder);
    device.synchronize();
    run.busy = recorder.finish();
    run.busy_steps = timed.decode.steps;
    run.busy_ms_per_token = timed.decode.ms_per_token;
    run.busy_commits = timed.decode.total.commits;
  }
  return run;
}

}  // namespace stagefence::bench
