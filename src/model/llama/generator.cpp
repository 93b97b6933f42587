#include "model/llama/generator.hpp"

#include <time.h>

#include <algorithm>
#include <chrono>

#include "stagefence/error.hpp"

namespace stagefence::llama {

namespace ops = kernels::ops;

namespace {

double thread_cpu_us() {
  timespec ts{};
  clock_gettime(CLOCK_THREAD_CPUTIME_ID, &ts);
  return double(ts.tv_sec) * 1e6 + double(ts.tv_nsec) * 1e-3;
}

double now_ms() {
  using namespace std::chrono;
  return duration<double, std::milli>(steady_clock::now().time_since_epoch()).count();
}

bool same_sampler(const ops::SamplerParams& a, const ops::SamplerParams& b) {
  return a.temperature == b.temperature && a.top_k == b.top_k && a.top_p == b.top_p;
}

}  // namespace

const char* mode_name(SubmissionMode mode) {
  switch (mode) {
    case SubmissionMode::Blocking:
      return "blocking";
    case SubmissionMode::Single:
      return "single";
    case SubmissionMode::Session:
      return "session";
    case SubmissionMode::Replay:
      return "replay";
  }
  return "?";
}

SubmissionMode parse_mode(std::string_view name) {
  for (SubmissionMode m : kAllModes)
    if (name == mode_name(m)) return m;
  raise(ErrorCode::InvalidArgument, "unknown submission mode '" + std::string(name) +
                                        "' (expected blocking, single, session or replay)");
}

Generator::Generator(Device& device, const LlamaModel& model, ForwardOptions options)
    : device_(&device), forward_(device, model, options) {}

int32_t Generator::read_token() const {
  int32_t token = -1;
  forward_.token().download(&token, sizeof token);
  return token;
}

void Generator::run_pass(StageChain* chain, CommandEncoder* encoder, SubmissionMode mode,
                         const StagePlan& plan, const Pass& pass, bool with_head,
                         const ops::SamplerParams& sampler, bool last_of_chain) {
  const size_t count = with_head ? plan.size() : plan.size() - 1;  // head is the last stage
  switch (mode) {
    case SubmissionMode::Blocking:
      for (size_t i = 0; i < count; ++i) {
        if (encoder->is_committed()) encoder->reset();
        encoder->set_label(plan.stages[i].label);
        forward_.record_stage(*encoder, plan.stages[i], pass, sampler);
        encoder->commit_and_wait();
      }
      return;
    case SubmissionMode::Single:
      if (encoder->is_committed()) encoder->reset();
      encoder->set_label(pass.decode ? "token" : "prefill");
      for (size_t i = 0; i < count; ++i)
        forward_.record_stage(*encoder, plan.stages[i], pass, sampler);
      encoder->commit_and_wait();
      return;
    case SubmissionMode::Session:
    case SubmissionMode::Replay:
      for (size_t i = 0; i < count; ++i) {
        CommandEncoder& enc = chain->begin(plan.stages[i].label);
        forward_.record_stage(enc, plan.stages[i], pass, sampler);
        if (i + 1 == count && last_of_chain)
          chain->finish();
        else
          chain->fence();
      }
      return;
  }
}

void Generator::replay_decode(StageChain& chain, const StagePlan& plan, const Captured& c) {
  for (size_t i = 0; i < plan.size(); ++i) {
    chain.begin(plan.stages[i].label).replay(c.graphs[i]);
    if (i + 1 == plan.size())
      chain.finish();
    else
      chain.fence();
  }
}

const Generator::Captured& Generator::capture_decode(const StagePlan& plan,
                                                     const ops::SamplerParams& sampler) {
  if (captured_ && captured_->layers_per_stage == plan.layers_per_stage &&
      same_sampler(captured_->sampler, sampler))
    return *captured_;
  captured_.reset();
  Captured c{plan.layers_per_stage, sampler, {}};
  CommandEncoder recorder = device_->command_encoder();
  const Pass pass = forward_.decode_pass();
  for (const Stage& stage : plan.stages) {
    recorder.begin_capture();
    try {
      forward_.record_stage(recorder, stage, pass, sampler);
    } catch (...) {
      recorder.end_capture();
      throw;
    }
    c.graphs.push_back(recorder.end_capture());
  }
  captured_ = std::move(c);
  return *captured_;
}

GenerationResult Generator::generate(std::span<const int32_t> prompt, const GenerateOptions& o) {
  const StagePlan plan = StagePlan::make(forward_.model().config.layers, o.layers_per_stage);
  const ops::SamplerParams sampler{o.sampling.temperature, o.sampling.top_k, o.sampling.top_p};
  device_->synchronize();  // start_sequence writes buffers from the host
  forward_.start_sequence(prompt, o.max_new_tokens, o.sampling.seed);

  GenerationResult r;
  r.mode = o.mode;
  r.stages_per_token = o.mode == SubmissionMode::Single ? 1 : int(plan.size());
  const Captured* graphs =
      o.mode == SubmissionMode::Replay ? &capture_decode(plan, sampler) : nullptr;
  std::optional<StageChain> chain;
  std::optional<CommandEncoder> encoder;
  if (o.mode == SubmissionMode::Session || o.mode == SubmissionMode::Replay) {
    chain.emplace(*device_, o.prefer_session);
    r.session_fallback = !chain->uses_session();
  } else {
    encoder.emplace(device_->command_encoder());
  }
  StageChain* chain_ptr = chain ? &*chain : nullptr;
  CommandEncoder* encoder_ptr = encoder ? &*encoder : nullptr;

  // Prefill: chunks go through every stage; the last chunk's head samples the first token.
  const double prefill_start = now_ms();
  const int total = int(prompt.size());
  for (int first = 0; first < total; first += forward_.prefill_chunk()) {
    const int count = std::min(forward_.prefill_chunk(), total - first);
    const bool last = first + count == total;
    run_pass(chain_ptr, encoder_ptr, o.mode, plan, forward_.prefill_pass(first, count), last,
             sampler, last);
    ++r.prefill_passes;
  }
  r.prefill_ms = now_ms() - prefill_start;
  r.tokens.push_back(read_token());
  if (o.on_token) o.on_token(0, r.tokens.back());
  const auto stops = [&] { return o.stop_after && o.stop_after(r.tokens.back()); };
  bool stopped = stops();

  // Decode: each step feeds the sampled token back through the device's token buffer.
  const Pass decode = forward_.decode_pass();
  const CounterSnapshot before = counters::snapshot();
  const double wall_start = now_ms(), cpu_start = thread_cpu_us();
  for (int step = 1; step < o.max_new_tokens && !stopped; ++step) {
    if (graphs)
      replay_decode(*chain, plan, *graphs);
    else
      run_pass(chain_ptr, encoder_ptr, o.mode, plan, decode, true, sampler, true);
    r.tokens.push_back(read_token());
    if (o.on_token) o.on_token(step, r.tokens.back());
    stopped = stops();
  }
  const double wall = now_ms() - wall_start, cpu = thread_cpu_us() - cpu_start;
  DecodeFigures& d = r.decode;
  d.total = counters::snapshot() - before;
  d.steps = int(r.tokens.size()) - 1;
  if (d.steps > 0) {
    const double n = d.steps;
    d.ms_per_token = wall / n;
    d.cpu_us_per_token = cpu / n;
    d.syncs = double(d.total.syncs) / n;
    d.command_buffers = double(d.total.command_buffers) / n;
    d.commits = double(d.total.commits) / n;
    d.dispatches = double(d.total.dispatches) / n;
    d.fences_signalled = double(d.total.fences_signalled) / n;
    d.waits_encoded = double(d.total.waits_encoded) / n;
  }

  // The sampler also logged every token on the device; it must agree with what the host read.
  std::vector<int32_t> history(r.tokens.size());
  forward_.history().download(history.data(), history.size() * sizeof(int32_t));
  if (history != r.tokens)
    raise(ErrorCode::Internal, "the device's token history disagrees with the tokens read");
  return r;
}

}  // namespace stagefence::llama
