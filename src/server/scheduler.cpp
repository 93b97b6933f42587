#include "server/scheduler.hpp"

#include <algorithm>
#include <cstdint>

#include "model/tokenizer/incremental_decoder.hpp"
#include "server/api_error.hpp"
#include "server/stop_matcher.hpp"
#include "stagefence/error.hpp"

namespace stagefence::server {

Scheduler::Scheduler(const GeneratorFactory& make, const tok::Tokenizer& tokenizer,
                     SchedulerOptions options)
    : tokenizer_(tokenizer), options_(options), turn_(options.turn_deadline) {
  if (options_.parallel < 1)
    raise(ErrorCode::InvalidArgument,
          "parallel = " + std::to_string(options_.parallel) + ": expected at least 1 slot");
  for (int i = 0; i < options_.parallel; ++i)
    slots_.push_back(std::make_unique<Slot>(Slot{i, make(), nullptr, 0, {}}));
  context_ = slots_.front()->generator.forward().capacity();
  for (auto& slot : slots_) slot->thread = std::thread([this, s = slot.get()] { slot_loop(*s); });
}

Scheduler::~Scheduler() {
  stop();
}

std::shared_ptr<Job> Scheduler::submit(JobSpec spec) {
  auto job = std::make_shared<Job>(std::move(spec));
  {
    std::lock_guard<std::mutex> lock(mu_);
    if (stopping_)
      throw ApiError(503, "the server is shutting down", "server_error", "", "shutting_down");
    if (int(queue_.size()) >= options_.queue_limit)
      throw ApiError(503,
                     "the server is busy: " + std::to_string(queue_.size()) +
                         " requests are already waiting for one of " +
                         std::to_string(slots_.size()) + " slots; retry later",
                     "server_error", "", "server_busy");
    queue_.push_back(job);
    assign_locked();
  }
  cv_.notify_all();
  return job;
}

void Scheduler::withdraw(const std::shared_ptr<Job>& job) {
  job->cancel();
  std::lock_guard<std::mutex> lock(mu_);
  const auto it = std::find(queue_.begin(), queue_.end(), job);
  if (it == queue_.end()) return;
  queue_.erase(it);
  ++totals_.cancelled;
  JobEvent e;
  e.kind = JobEvent::Kind::Finished;
  e.finish_reason = "cancelled";
  job->push(std::move(e));
}

void Scheduler::stop() {
  {
    std::lock_guard<std::mutex> lock(mu_);
    stopping_ = true;
    for (auto& job : queue_) {
      job->cancel();
      JobEvent e;
      e.kind = JobEvent::Kind::Finished;
      e.finish_reason = "cancelled";
      job->push(std::move(e));
      ++totals_.cancelled;
    }
    queue_.clear();
    for (auto& slot : slots_)
      if (slot->job) slot->job->cancel();
  }
  cv_.notify_all();
  for (auto& slot : slots_)
    if (slot->thread.joinable()) slot->thread.join();
}

SchedulerStats Scheduler::stats() const {
  std::lock_guard<std::mutex> lock(mu_);
  SchedulerStats s = totals_;
  s.slots = int(slots_.size());
  s.queued = int(queue_.size());
  for (const auto& slot : slots_) s.busy += slot->job ? 1 : 0;
  return s;
}

void Scheduler::assign_locked() {
  while (!queue_.empty()) {
    const std::shared_ptr<Job>& job = queue_.front();
    Slot* best = nullptr;
    int best_prefix = -1;
    for (auto& slot : slots_) {
      if (slot->job) continue;
      const int prefix =
          job->spec().cache_prompt ? slot->generator.reusable_prefix(job->spec().prompt) : 0;
      if (prefix > best_prefix || (prefix == best_prefix && slot->last_used < best->last_used)) {
        best = slot.get();
        best_prefix = prefix;
      }
    }
    if (!best) return;
    best->job = job;
    best->last_used = ++uses_;
    queue_.pop_front();
  }
}

void Scheduler::slot_loop(Slot& slot) {
  while (true) {
    std::shared_ptr<Job> job;
    {
      std::unique_lock<std::mutex> lock(mu_);
      cv_.wait(lock, [&] { return stopping_ || slot.job; });
      if (!slot.job) return;  // stopping, nothing assigned
      job = slot.job;
    }
    JobEvent last = run_job(slot, *job);
    {
      std::lock_guard<std::mutex> lock(mu_);
      slot.job.reset();
      assign_locked();
    }
    cv_.notify_all();
    job->push(std::move(last));
  }
}

JobEvent Scheduler::run_job(Slot& slot, Job& job) {
  const JobSpec& spec = job.spec();
  tok::IncrementalDecoder decoder(tokenizer_);
  StopMatcher stops(spec.stop);
  bool end_of_turn = false;
  const auto send = [&](const std::string& text) {
    if (text.empty()) return;
    JobEvent e;
    e.text = text;
    job.push(std::move(e));
  };
  llama::GenerateOptions go;
  go.mode = options_.mode;
  go.layers_per_stage = options_.layers_per_stage;
  go.stream_interval = options_.stream_interval;
  go.max_new_tokens = spec.max_tokens;
  go.sampling = spec.sampling;
  go.reuse_cached_prefix = spec.cache_prompt;
  go.on_token = [&](int, int32_t token) {
    if (tokenizer_.is_end_of_generation(token)) {
      end_of_turn = true;
      return;
    }
    send(stops.push(decoder.push(token)));
  };
  go.stop_after = [&](int32_t) { return end_of_turn || stops.matched(); };
  go.stop_ids = llama::device_stop_ids(tokenizer_.end_of_generation_ids());
  bool holding = false;
  const auto stop_requested = [&] { return job.cancelled() || stopping_.load(); };
  go.cancelled = [&] {
    if (stop_requested()) return true;
    turn_.release();  // every waiting slot gets one pass before this one's next
    holding = false;
    turn_.acquire();
    holding = true;
    return stop_requested();
  };

  llama::GenerationResult result;
  try {
    if (stop_requested()) raise(ErrorCode::State, "cancelled before it started");
    turn_.acquire();
    holding = true;
    result = slot.generator.generate(spec.prompt, go);
    turn_.release();
    holding = false;
  } catch (const std::exception& e) {
    if (holding) turn_.release();
    JobEvent failed;
    if (stop_requested()) {
      failed.kind = JobEvent::Kind::Finished;
      failed.finish_reason = "cancelled";
    } else {
      failed.kind = JobEvent::Kind::Failed;
      failed.error = e.what();
    }
    std::lock_guard<std::mutex> lock(mu_);
    ++(stop_requested() ? totals_.cancelled : totals_.failed);
    return failed;
  }
  if (!stops.matched()) {
    std::string rest = stops.push(decoder.finish());
    if (!stops.matched()) rest += stops.finish();
    send(rest);
  }
  JobEvent done;
  done.kind = JobEvent::Kind::Finished;
  done.finish_reason = result.cancelled                 ? "cancelled"
                       : end_of_turn || stops.matched() ? "stop"
                                                        : "length";
  done.usage.prompt_tokens = int(spec.prompt.size());
  done.usage.completion_tokens = int(result.tokens.size());
  done.usage.cached_tokens = result.cached_prompt_tokens;
  {
    std::lock_guard<std::mutex> lock(mu_);
    ++(result.cancelled ? totals_.cancelled : totals_.completed);
    totals_.prompt_tokens += uint64_t(done.usage.prompt_tokens);
    totals_.cached_prompt_tokens += uint64_t(done.usage.cached_tokens);
    totals_.generated_tokens += uint64_t(done.usage.completion_tokens);
  }
  return done;
}

}  // namespace stagefence::server
