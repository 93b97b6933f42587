// Generation: prefill the prompt in chunks through the stage plan, then decode one token per
// pass, in one of four submission modes that all produce the same tokens:
//   blocking  every stage is its own command buffer and the host waits on each
//   single    one command buffer per token (per prefill chunk), one wait
//   session   one fenced command buffer per stage through an EncoderSession, one wait at head
//   replay    every decode stage is captured once; a token replays them all, a barrier between
//             stages, into one command buffer: one launch (one CUDA graph) and one wait per
//             token, the stages named by stage marks (trace spans, fault messages)
//   loop      the replayed token plus a loop_control kernel run as a device-side loop
//             (stagefence/loop.hpp): one command buffer and one launch for every decode token
//             (a CUDA WHILE node); the host streams the tokens from a host-visible ring with no
//             sync per token and stops the loop through a cancel word
// With tensor parallelism every rank runs the same stages on its own device and queue; the host
// records and commits each stage for all ranks before it waits, so the ranks' collectives meet.
#pragma once
#include <chrono>
#include <cstdint>
#include <functional>
#include <map>
#include <memory>
#include <optional>
#include <span>
#include <string>
#include <string_view>
#include <vector>

#include "model/staged/stage_chain.hpp"
#include "model/staged/staged_forward.hpp"
#include "stagefence/capture.hpp"
#include "stagefence/counters.hpp"
#include "stagefence/loop.hpp"

namespace stagefence::model {

enum class SubmissionMode { Blocking, Single, Session, Replay, Loop };
const char* mode_name(SubmissionMode mode);
// Throws InvalidArgument for anything but blocking, single, session, replay and loop.
SubmissionMode parse_mode(std::string_view name);
inline constexpr SubmissionMode kAllModes[] = {SubmissionMode::Blocking, SubmissionMode::Single,
                                               SubmissionMode::Session, SubmissionMode::Replay,
                                               SubmissionMode::Loop};

struct SamplingOptions {
  float temperature = 0.0f;  // <= 0: greedy
  int top_k = 0;             // 0: no limit
  float top_p = 1.0f;        // >= 1: off
  uint64_t seed = 0;
};

// `ids` as GenerateOptions::stop_ids when loop mode can check them all on the device (at most
// LoopControlParams::kMaxStopIds); else none, and the caller's stop_after alone stops.
std::vector<int32_t> device_stop_ids(const std::vector<int32_t>& ids);

struct GenerateOptions {
  SubmissionMode mode = SubmissionMode::Session;
  int layers_per_stage = 1;  // 0: every layer in one stage
  int max_new_tokens = 32;
  SamplingOptions sampling;
  // session/replay: false drives plain command encoders with a fence, as when the session gate
  // (STAGEFENCE_ENCODER_SESSION=0) is off.
  bool prefer_session = true;
  // Called after each token, step 0 being the prompt's; forward().logits() then holds the
  // logits the token was sampled from (loop mode: only for step 0, the device runs ahead).
  std::function<void(int step, int32_t token)> on_token;
  // Called after on_token; returning true ends the generation with that token (e.g. at the
  // end of a chat turn). Unset: always max_new_tokens tokens.
  std::function<bool(int32_t token)> stop_after;
  // Token ids that end the generation after they are produced, in every mode (e.g. EOS); loop
  // mode checks them on the device (at most LoopControlParams::kMaxStopIds of them).
  std::vector<int32_t> stop_ids;
  // Checked before each prefill chunk and each decode step (loop mode: at each poll of the
  // ring); returning true ends the generation there (GenerationResult::cancelled), e.g. on
  // Ctrl-C or when a client disconnects.
  std::function<bool()> cancelled;
  // Loop mode: how long the host sleeps between reads of the device's token ring; on_token,
  // stop_after and cancelled are served once per interval (the loop's end wakes it at once).
  // Shorter streams text more smoothly at a host wake-up per interval.
  std::chrono::microseconds stream_interval{50000};
  // Keep the K/V of the longest prefix this prompt shares with what the previous generate()
  // call left in the cache, and prefill only the rest (at least the last prompt token).
  bool reuse_cached_prefix = false;
};

// Decode figures, per decode step (every generated token after the first).
struct DecodeFigures {
  int steps = 0;
  double ms_per_token = 0;
  double cpu_us_per_token = 0;  // CPU time of the calling thread (recording, submitting, waiting)
  double syncs = 0, command_buffers = 0, commits = 0, dispatches = 0;
  double fences_signalled = 0, waits_encoded = 0;
  double graph_launches = 0;     // CUDA graph launches (0 on the CPU backend or with graphs off)
  double tokens_per_commit = 0;  // decode tokens per command buffer committed (loop: all of them)
  int device_overrun = 0;  // loop: tokens the device produced past a host-side stop (discarded)
  CounterSnapshot total;   // the counters over all decode steps
};

struct GenerationResult {
  SubmissionMode mode = SubmissionMode::Session;
  std::vector<int32_t> tokens;  // the generated ids (the prompt excluded)
  int stages_per_token = 0;
  bool session_fallback = false;  // the session gate was off: plain encoders with fences
  int prefill_passes = 0;
  double prefill_ms = 0;
  int cached_prompt_tokens = 0;  // prompt tokens whose K/V were reused, not prefilled
  bool cancelled = false;        // GenerateOptions::cancelled ended it
  DecodeFigures decode;
};

// One rank of a generator: its device and its architecture's forward pass on that device.
struct GeneratorRank {
  Device* device = nullptr;
  std::unique_ptr<StagedForward> forward;
};

class Generator {
 public:
  // One rank, or with tensor parallelism every rank in rank order (each forward pass holding
  // its communicator); devices must outlive the generator. Throws InvalidArgument for no rank.
  explicit Generator(std::vector<GeneratorRank> ranks);

  GenerationResult generate(std::span<const int32_t> prompt, const GenerateOptions& options);

  // The tokens whose K/V the cache holds at positions 0, 1, ... (the last call's prompt and
  // every generated token but the last); empty before the first call or after a failed one.
  const std::vector<int32_t>& cached_tokens() const { return cached_; }
  // Prompt tokens generate() with reuse_cached_prefix would take from the cache.
  int reusable_prefix(std::span<const int32_t> prompt) const;

  int ranks() const { return int(ranks_.size()); }
  // Rank 0's forward pass (every rank ends a step with the same logits and token).
  StagedForward& forward() { return *ranks_[0].forward; }
  const StagedForward& forward() const { return *ranks_[0].forward; }
  const StagedForward& forward(int rank) const { return *ranks_.at(size_t(rank)).forward; }

 private:
  using Rank = GeneratorRank;
  struct Captured {
    int layers_per_stage;
    kernels::ops::SamplerParams sampler;
    std::vector<CaptureGraph> tokens;  // per rank: every stage of the plan, barriers between
    StageMarks stages;                 // where each stage starts in a token's dispatches
    StageMarks loop_stages;            // the same and the loop's control kernel after them
  };
  // Loop mode's host-visible ring and the device words its loop runs under (rank 0).
  struct LoopResources {
    LoopChannel channel;
    Buffer words;  // LoopWords
  };
  // The per-rank submission objects of one generate() call.
  struct Submitters {
    std::vector<StageChain> chains;        // session, replay (its prefill)
    std::vector<CommandEncoder> encoders;  // blocking, single, replay (its decode)
  };

  void run_pass(Submitters& sub, SubmissionMode mode, const StagePlan& plan,
                const std::vector<Pass>& passes, bool with_head,
                const kernels::ops::SamplerParams& sampler, bool last_of_chain);
  // One command buffer per rank and token: the captured token, its stages marked.
  void replay_decode(Submitters& sub, const Captured& captured);
  // Every decode token in one device-side loop; streams the tokens into r as they arrive.
  void loop_decode(Submitters& sub, const Captured& captured, const GenerateOptions& o,
                   GenerationResult& r);
  const Captured& capture_decode(const StagePlan& plan, const kernels::ops::SamplerParams& s);
  int32_t read_token() const;
  void synchronize() const;

  std::vector<Rank> ranks_;
  std::optional<Captured> captured_;
  std::optional<LoopResources> loop_;
  std::vector<int32_t> cached_;
};

}  // namespace stagefence::model
