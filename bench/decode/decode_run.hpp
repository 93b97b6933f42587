// One row of the benchmark: decode from a hashed context in one submission mode, untimed
// warm-up first, then the measured run, then (optionally) a timestamped run for GPU busy time.
#pragma once
#include <cstdint>
#include <optional>

#include "decode_options.hpp"
#include "gpu_busy.hpp"
#include "model/llama/generator.hpp"
#include "stagefence/device.hpp"

namespace stagefence::bench {

// Where decoding starts: the first decode step feeds `start_token` at position context - 1,
// with hashed K/V at positions [0, context - 1) of every layer.
struct DecodeStart {
  int context = 0;
  int32_t start_token = 0;
  uint64_t seed = 0;
};

struct ModeRun {
  llama::GenerationResult measured;
  std::optional<GpuBusy> busy;   // of the timestamped run's decode steps
  int busy_steps = 0;            // decode steps of the timestamped run
  double busy_ms_per_token = 0;  // wall time per token of the timestamped run
  uint64_t busy_commits = 0;     // command buffers that run committed while decoding
};

// Generates `tokens` tokens: a one-token prompt is prefilled, then, before the decode timing
// starts, the cache, the position buffer and the token buffer are set to `start`. With `busy`,
// the recorder starts right after that setup (so it sees decode buffers only).
llama::GenerationResult decode_from_context(Device& device, llama::Generator& generator,
                                            const DecodeStart& start, llama::SubmissionMode mode,
                                            int tokens, int layers_per_stage,
                                            BusyRecorder* busy = nullptr);

// Warm-up (options.warmup tokens, if at least 2), measured run, and the timestamped run when
// options.gpu_busy.
ModeRun run_mode(Device& device, llama::Generator& generator, const DecodeStart& start,
                 llama::SubmissionMode mode, const DecodeOptions& options);

}  // namespace stagefence::bench
