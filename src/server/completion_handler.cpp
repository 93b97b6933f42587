#include "server/completion_handler.hpp"

#include <atomic>
#include <cstdint>
#include <cstdio>
#include <ctime>
#include <random>

#include "server/api_error.hpp"
#include "stagefence/error.hpp"

namespace stagefence::server {
namespace {

using nlohmann::json;
using Clock = std::chrono::steady_clock;

constexpr std::chrono::milliseconds kPollSlice{50};

std::string new_id(Endpoint endpoint) {
  static std::atomic<uint64_t> counter{0};
  static const uint64_t salt = std::random_device{}();
  char buf[48];
  std::snprintf(buf, sizeof buf, "%s-%08llx%06llx",
                endpoint == Endpoint::Chat ? "chatcmpl" : "cmpl",
                static_cast<unsigned long long>(salt & 0xffffffffu),
                static_cast<unsigned long long>(counter.fetch_add(1) & 0xffffff));
  return buf;
}

ApiError failure(const JobEvent& e) {
  return ApiError(500, "generation failed: " + e.error, "server_error", "", "generation_failed");
}

ApiError timeout(std::chrono::seconds limit) {
  return ApiError(504,
                  "the request did not finish within " + std::to_string(limit.count()) +
                      " s (--request-timeout); it was cancelled",
                  "server_error", "", "timeout");
}

}  // namespace

CompletionHandler::CompletionHandler(Scheduler& scheduler, const ServedModel& model,
                                     std::chrono::seconds request_timeout)
    : scheduler_(scheduler), model_(model), request_timeout_(request_timeout) {}

std::vector<int32_t> CompletionHandler::prompt_ids(const CompletionRequest& r) const {
  if (r.endpoint == Endpoint::Chat) {
    if (!model_.chat)
      throw ApiError::invalid(
          "chat completions need a chat template: " + model_.chat_error + "; use /v1/completions",
          "messages", "no_chat_template");
    try {
      return model_.tokenizer->encode(model_.chat->render(r.messages, true));
    } catch (const Error& e) {
      throw ApiError::invalid(e.what(), "messages", "invalid_value");
    }
  }
  return model_.tokenizer->encode(r.prompt, /*add_special=*/true, /*parse_special=*/false);
}

AdmittedRequest CompletionHandler::admit(std::string_view body, Endpoint endpoint) const {
  AdmittedRequest a;
  a.request = parse_completion_request(body, endpoint);
  const CompletionRequest& r = a.request;
  if (!r.model.empty() && r.model != model_.id)
    throw ApiError(
        404, "the model '" + r.model + "' does not exist; this server serves '" + model_.id + "'",
        "invalid_request_error", "model", "model_not_found");
  JobSpec spec;
  spec.prompt = prompt_ids(r);
  const int n = int(spec.prompt.size());
  const int context = scheduler_.context();
  if (n == 0)
    throw ApiError::invalid("the prompt encodes to no tokens",
                            endpoint == Endpoint::Chat ? "messages" : "prompt", "empty_prompt");
  // The last generated token is never fed back, so prompt + max_tokens - 1 positions are used.
  if (n > context)
    throw ApiError::invalid(
        "the prompt has " + std::to_string(n) + " tokens; this server's context holds " +
            std::to_string(context) + " (--context)",
        endpoint == Endpoint::Chat ? "messages" : "prompt", "context_length_exceeded");
  spec.max_tokens = r.max_tokens.value_or(context - n + 1);
  if (int64_t(n) + spec.max_tokens - 1 > context)
    throw ApiError::invalid("the prompt (" + std::to_string(n) + " tokens) and max_tokens (" +
                                std::to_string(spec.max_tokens) + ") need " +
                                std::to_string(int64_t(n) + spec.max_tokens - 1) +
                                " positions; this server's context holds " +
                                std::to_string(context) + ": at most " +
                                std::to_string(context - n + 1) + " new tokens fit",
                            "max_tokens", "context_length_exceeded");
  spec.sampling.temperature = r.temperature;
  spec.sampling.top_p = r.top_p;
  spec.sampling.top_k = r.top_k;
  spec.sampling.seed =
      r.seed ? *r.seed : (uint64_t(std::random_device{}()) << 32) ^ std::random_device{}();
  spec.stop = r.stop;
  spec.cache_prompt = r.cache_prompt;
  a.id = {new_id(endpoint), int64_t(std::time(nullptr)), model_.id};
  a.job = scheduler_.submit(std::move(spec));
  return a;
}

std::optional<JobEvent> CompletionHandler::next_event(AdmittedRequest& a,
                                                      const std::function<bool()>& client_gone,
                                                      Clock::time_point deadline,
                                                      bool& timed_out) const {
  while (true) {
    std::optional<JobEvent> e = a.job->next(kPollSlice);
    if (e && e->kind != JobEvent::Kind::Text) return e;
    // Checked at every token too: a job whose text keeps coming never leaves a slice idle.
    timed_out = Clock::now() > deadline;
    if (timed_out || client_gone()) {
      scheduler_.withdraw(a.job);  // cancels a running job too
      return std::nullopt;
    }
    if (e) return e;
  }
}

json CompletionHandler::complete(AdmittedRequest& a,
                                 const std::function<bool()>& client_gone) const {
  const Clock::time_point deadline = Clock::now() + request_timeout_;
  std::string text;
  bool timed_out = false;
  while (std::optional<JobEvent> e = next_event(a, client_gone, deadline, timed_out)) {
    switch (e->kind) {
      case JobEvent::Kind::Text:
        text += e->text;
        break;
      case JobEvent::Kind::Failed:
        throw failure(*e);
      case JobEvent::Kind::Finished:
        if (e->finish_reason == "cancelled")
          throw ApiError(503, "the request was cancelled: the server is shutting down",
                         "server_error", "", "shutting_down");
        return completion_json(a.request.endpoint, a.id, text, e->finish_reason, e->usage);
    }
  }
  if (timed_out) throw timeout(request_timeout_);
  return json();  // the client is gone: nobody reads this
}

bool CompletionHandler::stream(AdmittedRequest& a,
                               const std::function<bool(const std::string&)>& write,
                               const std::function<bool()>& client_gone) const {
  const Endpoint endpoint = a.request.endpoint;
  const Clock::time_point deadline = Clock::now() + request_timeout_;
  const auto write_or_cancel = [&](const std::string& s) {
    if (write(s)) return true;
    scheduler_.withdraw(a.job);
    return false;
  };
  if (!write_or_cancel(sse_event(chunk_json(endpoint, a.id, "", true, std::nullopt)))) return false;
  bool timed_out = false;
  while (std::optional<JobEvent> e = next_event(a, client_gone, deadline, timed_out)) {
    if (e->kind == JobEvent::Kind::Text) {
      if (!write_or_cancel(sse_event(chunk_json(endpoint, a.id, e->text, false, std::nullopt))))
        return false;
      continue;
    }
    if (e->kind == JobEvent::Kind::Failed) {
      write(sse_event(failure(*e).to_json()));
      return write(sse_done());
    }
    if (e->finish_reason == "cancelled") break;
    if (!write_or_cancel(sse_event(chunk_json(endpoint, a.id, "", false, e->finish_reason))))
      return false;
    if (a.request.include_usage &&
        !write_or_cancel(sse_event(usage_chunk_json(endpoint, a.id, e->usage))))
      return false;
    return write(sse_done());
  }
  if (timed_out || Clock::now() > deadline) {
    write(sse_event(timeout(request_timeout_).to_json()));
    return write(sse_done());
  }
  return false;
}

}  // namespace stagefence::server
