#include "model/staged/generator.hpp"

#include <algorithm>
#include <chrono>
#include <cstdint>

#include "kernels/finite_check.hpp"
#include "stagefence/error.hpp"
#include "stagefence/report.hpp"

namespace stagefence::model {

namespace ops = kernels::ops;

namespace {

double now_ms() {
  using namespace std::chrono;
  return duration<double, std::milli>(steady_clock::now().time_since_epoch()).count();
}

// Whether `t` ends the generation: a stop id or the caller's stop_after.
bool stops_at(const GenerateOptions& o, int32_t t) {
  return std::find(o.stop_ids.begin(), o.stop_ids.end(), t) != o.stop_ids.end() ||
         (o.stop_after && o.stop_after(t));
}

bool same_sampler(const ops::SamplerParams& a, const ops::SamplerParams& b) {
  return a.temperature == b.temperature && a.top_k == b.top_k && a.top_p == b.top_p;
}

}  // namespace

std::vector<int32_t> device_stop_ids(const std::vector<int32_t>& ids) {
  if (ids.size() > LoopControlParams::kMaxStopIds) return {};
  return ids;
}

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
    case SubmissionMode::Loop:
      return "loop";
  }
  return "?";
}

SubmissionMode parse_mode(std::string_view name) {
  for (SubmissionMode m : kAllModes)
    if (name == mode_name(m)) return m;
  raise(ErrorCode::InvalidArgument, "unknown submission mode '" + std::string(name) +
                                        "' (expected blocking, single, session, replay or loop)");
}

Generator::Generator(std::vector<GeneratorRank> ranks) : ranks_(std::move(ranks)) {
  if (ranks_.empty()) raise(ErrorCode::InvalidArgument, "a generator needs at least one rank");
  for (size_t r = 0; r < ranks_.size(); ++r)
    if (!ranks_[r].device || !ranks_[r].forward)
      raise(ErrorCode::InvalidArgument,
            "generator rank " + std::to_string(r) + " has no device or forward pass");
}

int32_t Generator::read_token() const {
  return forward().read_token();  // throws when the head's finite check fired
}

void Generator::synchronize() const {
  for (const Rank& rank : ranks_) rank.device->synchronize();
}

void Generator::run_pass(Submitters& sub, SubmissionMode mode, const StagePlan& plan,
                         const std::vector<Pass>& passes, bool with_head,
                         const ops::SamplerParams& sampler, bool last_of_chain) {
  const size_t count = with_head ? plan.size() : plan.size() - 1;  // head is the last stage
  const size_t n = ranks_.size();
  switch (mode) {
    case SubmissionMode::Blocking:
      for (size_t i = 0; i < count; ++i) {
        for (size_t r = 0; r < n; ++r) {
          CommandEncoder& enc = sub.encoders[r];
          if (enc.is_committed()) enc.reset();
          enc.set_label(plan.stages[i].label);
          ranks_[r].forward->record_stage(enc, plan.stages[i], passes[r], sampler);
          enc.commit();
        }
        for (CommandEncoder& enc : sub.encoders) enc.wait();
      }
      return;
    case SubmissionMode::Single:
      for (size_t r = 0; r < n; ++r) {
        CommandEncoder& enc = sub.encoders[r];
        if (enc.is_committed()) enc.reset();
        enc.set_label(passes[r].decode ? "token" : "prefill");
        for (size_t i = 0; i < count; ++i)
          ranks_[r].forward->record_stage(enc, plan.stages[i], passes[r], sampler);
        enc.commit();
      }
      for (CommandEncoder& enc : sub.encoders) enc.wait();
      return;
    case SubmissionMode::Session:
    case SubmissionMode::Replay:
    case SubmissionMode::Loop:
      for (size_t i = 0; i < count; ++i) {
        const bool last = i + 1 == count && last_of_chain;
        for (size_t r = 0; r < n; ++r) {
          CommandEncoder& enc = sub.chains[r].begin(plan.stages[i].label);
          ranks_[r].forward->record_stage(enc, plan.stages[i], passes[r], sampler);
          if (last)
            sub.chains[r].commit();
          else
            sub.chains[r].fence();
        }
      }
      if (last_of_chain)
        for (StageChain& chain : sub.chains) chain.wait();
      return;
  }
}

void Generator::replay_decode(Submitters& sub, const Captured& c) {
  for (size_t r = 0; r < ranks_.size(); ++r) {
    CommandEncoder& enc = sub.encoders[r];
    enc.reset();  // a fresh buffer per token, the first one too: one buffer per token counted
    enc.set_label("token");
    enc.replay(c.tokens[r]);
    enc.set_stage_marks(c.stages);
    enc.commit();
  }
  for (CommandEncoder& enc : sub.encoders) enc.wait();
}

void Generator::loop_decode(Submitters& sub, const Captured& c, const GenerateOptions& o,
                            GenerationResult& r) {
  Device& device = *ranks_[0].device;
  const uint32_t want = uint32_t(o.max_new_tokens - 1);  // the prefill sampled the first token
  if (!loop_ || loop_->channel.capacity() < want)
    loop_ = LoopResources{make_loop_channel(device, std::max<uint32_t>(want, 64)),
                          device.alloc(DType::U32, {2})};
  const LoopChannel& channel = loop_->channel;
  channel.reset();
  const LoopWords start;
  loop_->words.upload(&start, sizeof start);  // nothing in flight: the prefill was waited for

  LoopControlParams p;
  p.channel = channel.device_address();
  p.max_tokens = want;
  p.finite_ok = ops::kAllFinite;
  p.capacity = channel.capacity();
  p.stop_count = uint32_t(o.stop_ids.size());
  std::copy(o.stop_ids.begin(), o.stop_ids.end(), p.stop_ids);

  CommandEncoder& enc = sub.encoders[0];
  enc.reset();
  enc.set_label("loop");
  enc.replay(c.tokens[0]);
  const Binding control[] = {reads(forward().token_status()), reads_writes(loop_->words)};
  enc.dispatch(device.kernels().id("loop_control"), control, 2, std::nullopt, p);
  enc.set_stage_marks(c.loop_stages);
  set_loop(enc, loop_->words, want);
  enc.commit();

  // Stream: read the counter and hand each new token over, then block on the buffer for one
  // stream interval; the wait ends early when the loop does, so the last tokens come at once.
  // One wake-up serves every token of an interval (a wake-up costs more host CPU than a token's
  // worth at the budget). A fault surfaces at wait().
  using Clock = std::chrono::steady_clock;
  const auto deadline = Clock::now() + wait_deadline(enc);
  const std::chrono::nanoseconds interval =
      std::max(o.stream_interval, std::chrono::microseconds(1));
  uint64_t seen = 0;
  bool host_stop = false;
  for (;;) {
    const bool done = enc.is_completed();  // before the counter: a done loop's count is final
    const uint64_t published = channel.published();
    for (; seen < published && !host_stop; ++seen) {
      r.tokens.push_back(channel.token(seen));
      if (o.on_token) o.on_token(int(r.tokens.size()) - 1, r.tokens.back());
      if (stops_at(o, r.tokens.back()))
        host_stop = true;
      else if (seen + 1 < uint64_t(want) && o.cancelled && o.cancelled())
        host_stop = r.cancelled = true;  // as the other modes check before each step
    }
    if (!host_stop && o.cancelled && o.cancelled()) host_stop = r.cancelled = true;
    if (host_stop && !channel.cancel_requested()) channel.cancel();
    const auto now = Clock::now();
    if (done || host_stop || seen >= uint64_t(want) || now >= deadline) break;
    poll_completion(enc, std::min<std::chrono::nanoseconds>(interval, deadline - now));
  }
  const auto left = deadline - Clock::now();
  enc.wait(std::max<std::chrono::nanoseconds>(left, std::chrono::nanoseconds(1)));
  r.decode.device_overrun = int(channel.published() - seen);
  // The head's finite check stopped the loop before the token was published: throw its error.
  if (channel.stop_reason() == LoopStop::NonFinite) read_token();
}

const Generator::Captured& Generator::capture_decode(const StagePlan& plan,
                                                     const ops::SamplerParams& sampler) {
  if (captured_ && captured_->layers_per_stage == plan.layers_per_stage &&
      same_sampler(captured_->sampler, sampler))
    return *captured_;
  captured_.reset();
  Captured c{plan.layers_per_stage, sampler, {}, {}, {}};
  auto marks = std::make_shared<std::vector<StageMark>>();
  for (const Rank& rank : ranks_) {
    CommandEncoder recorder = rank.device->command_encoder();
    const Pass pass = rank.forward->decode_pass();
    // The stages are captured one by one and joined with a barrier where the staged modes
    // fence: the same order, in one graph.
    CaptureGraph token;
    std::vector<CaptureNode>& nodes = token.mutable_nodes();
    uint32_t dispatches = 0;
    for (const Stage& stage : plan.stages) {
      recorder.begin_capture();
      try {
        rank.forward->record_stage(recorder, stage, pass, sampler);
      } catch (...) {
        recorder.end_capture();
        throw;
      }
      const CaptureGraph graph = recorder.end_capture();
      if (!nodes.empty()) nodes.push_back({CaptureNode::Kind::Barrier, {}});
      if (&rank == &ranks_.front()) marks->push_back({dispatches, stage.label});
      for (CaptureNode node : graph.nodes()) {
        if (node.kind == CaptureNode::Kind::Dispatch) {
          for (uint32_t& d : node.dispatch.deps) d += dispatches;
          ++dispatches;
        }
        nodes.push_back(std::move(node));
      }
    }
    c.tokens.push_back(std::move(token));
  }
  auto loop_marks = std::make_shared<std::vector<StageMark>>(*marks);
  loop_marks->push_back({uint32_t(c.tokens.front().dispatch_count()), "loop control"});
  c.stages = std::move(marks);
  c.loop_stages = std::move(loop_marks);
  captured_ = std::move(c);
  return *captured_;
}

int Generator::reusable_prefix(std::span<const int32_t> prompt) const {
  const size_t limit = std::min(cached_.size(), prompt.empty() ? 0 : prompt.size() - 1);
  size_t n = 0;
  while (n < limit && cached_[n] == prompt[n]) ++n;
  return int(n);
}

GenerationResult Generator::generate(std::span<const int32_t> prompt, const GenerateOptions& o) {
  const StagePlan plan = StagePlan::make(forward().layers(), o.layers_per_stage);
  const ops::SamplerParams sampler{o.sampling.temperature, o.sampling.top_k, o.sampling.top_p};
  const int cached = o.reuse_cached_prefix ? reusable_prefix(prompt) : 0;
  synchronize();  // start_sequence writes buffers from the host
  for (Rank& rank : ranks_)
    rank.forward->start_sequence(prompt, o.max_new_tokens, o.sampling.seed, cached);
  cached_.resize(size_t(cached));  // until this call ends well, only the kept prefix is valid

  GenerationResult r;
  r.mode = o.mode;
  r.cached_prompt_tokens = cached;
  r.stages_per_token = o.mode == SubmissionMode::Single ? 1 : int(plan.size());
  const bool looped = o.mode == SubmissionMode::Loop;
  if (looped && ranks_.size() > 1)
    raise(ErrorCode::Unsupported,
          "loop mode runs on one device; with tensor parallelism use replay (a host cancel "
          "would not reach every rank's loop at the same token)");
  if (looped && o.stop_ids.size() > LoopControlParams::kMaxStopIds)
    raise(ErrorCode::InvalidArgument, "loop mode takes at most " +
                                          std::to_string(LoopControlParams::kMaxStopIds) +
                                          " stop ids, not " + std::to_string(o.stop_ids.size()));
  const Captured* graphs =
      o.mode == SubmissionMode::Replay || looped ? &capture_decode(plan, sampler) : nullptr;
  Submitters sub;
  for (Rank& rank : ranks_) {
    if (o.mode == SubmissionMode::Session || o.mode == SubmissionMode::Replay || looped) {
      sub.chains.emplace_back(*rank.device, o.prefer_session);
      r.session_fallback = !sub.chains.back().uses_session();
    }
    if (o.mode != SubmissionMode::Session) sub.encoders.push_back(rank.device->command_encoder());
  }
  const auto each_rank = [&](auto pass_of) {
    std::vector<Pass> passes;
    for (Rank& rank : ranks_) passes.push_back(pass_of(*rank.forward));
    return passes;
  };

  // Prefill: chunks go through every stage; the last chunk's head samples the first token.
  const double prefill_start = now_ms();
  const int total = int(prompt.size());
  for (int first = cached; first < total; first += forward().prefill_chunk()) {
    if (o.cancelled && o.cancelled()) {
      cached_.assign(prompt.begin(), prompt.begin() + first);
      r.cancelled = true;
      r.prefill_ms = now_ms() - prefill_start;
      return r;
    }
    const int count = std::min(forward().prefill_chunk(), total - first);
    const bool last = first + count == total;
    run_pass(sub, o.mode, plan,
             each_rank([&](StagedForward& f) { return f.prefill_pass(first, count); }), last,
             sampler, last);
    ++r.prefill_passes;
  }
  r.prefill_ms = now_ms() - prefill_start;
  r.tokens.push_back(read_token());
  if (o.on_token) o.on_token(0, r.tokens.back());
  bool stopped = stops_at(o, r.tokens.back());

  // Decode: each step feeds the sampled token back through the device's token buffer.
  const std::vector<Pass> decode = each_rank([](StagedForward& f) { return f.decode_pass(); });
  const CounterSnapshot before = counters::snapshot();
  const double wall_start = now_ms(), cpu_start = thread_cpu_ms();
  if (looped && !stopped && o.max_new_tokens > 1) {
    if (o.cancelled && o.cancelled())
      r.cancelled = true;
    else
      loop_decode(sub, *graphs, o, r);
  }
  for (int step = 1; !looped && step < o.max_new_tokens && !stopped; ++step) {
    if (o.cancelled && o.cancelled()) {
      r.cancelled = true;
      break;
    }
    if (graphs)
      replay_decode(sub, *graphs);
    else
      run_pass(sub, o.mode, plan, decode, true, sampler, true);
    r.tokens.push_back(read_token());
    if (o.on_token) o.on_token(step, r.tokens.back());
    stopped = stops_at(o, r.tokens.back());
  }
  const double wall = now_ms() - wall_start, cpu = (thread_cpu_ms() - cpu_start) * 1e3;
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
    d.graph_launches = double(d.total.graph_launches) / n;
    if (d.total.commits) d.tokens_per_commit = n / double(d.total.commits);
  }

  // The sampler also logged every token on each rank's device; all must agree with what the
  // host read.
  for (size_t k = 0; k < ranks_.size(); ++k) {
    std::vector<int32_t> history(r.tokens.size());
    ranks_[k].forward->history().download(history.data(), history.size() * sizeof(int32_t));
    if (history != r.tokens)
      raise(ErrorCode::Internal,
            "rank " + std::to_string(k) + "'s token history disagrees with the tokens read");
  }
  cached_.assign(prompt.begin(), prompt.end());
  cached_.insert(cached_.end(), r.tokens.begin(), r.tokens.end() - 1);
  return r;
}

}  // namespace stagefence::model
