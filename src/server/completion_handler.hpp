// One completion request from body to answer: parse and check it, build the prompt (the chat
// template's markup with the messages as literal text), check it fits the context, queue it,
// then either collect the whole answer or stream it as server-sent events. The client's
// disconnect cancels the job at its next token; every wait has a deadline.
#pragma once
#include <chrono>
#include <cstdint>
#include <functional>
#include <memory>
#include <nlohmann/json.hpp>
#include <string>
#include <string_view>

#include "server/completion_request.hpp"
#include "server/openai_wire.hpp"
#include "server/scheduler.hpp"
#include "server/served_model.hpp"

namespace stagefence::server {

struct AdmittedRequest {
  CompletionRequest request;
  ResponseId id;
  std::shared_ptr<Job> job;
};

class CompletionHandler {
 public:
  CompletionHandler(Scheduler& scheduler, const ServedModel& model,
                    std::chrono::seconds request_timeout);

  // Throws ApiError (4xx, or 503 when the queue is full) and queues nothing then.
  AdmittedRequest admit(std::string_view body, Endpoint endpoint) const;
  // The prompt's token ids, as admit() builds them (exposed for tests).
  std::vector<int32_t> prompt_ids(const CompletionRequest& request) const;

  // Waits for the whole answer; `client_gone` is polled at every token and idle slice. Throws
  // ApiError for a failed generation (500) or a passed deadline (504).
  nlohmann::json complete(AdmittedRequest& admitted,
                          const std::function<bool()>& client_gone) const;
  // Streams the answer through `write` (returns false when the client is gone), ending with
  // "data: [DONE]". Returns false if the client went away.
  bool stream(AdmittedRequest& admitted, const std::function<bool(const std::string&)>& write,
              const std::function<bool()>& client_gone) const;

 private:
  // The next event, cancelling the job when the client is gone or the deadline passed
  // (nullopt then).
  std::optional<JobEvent> next_event(AdmittedRequest& admitted,
                                     const std::function<bool()>& client_gone,
                                     std::chrono::steady_clock::time_point deadline,
                                     bool& timed_out) const;

  Scheduler& scheduler_;
  const ServedModel& model_;
  std::chrono::seconds request_timeout_;
};

}  // namespace stagefence::server
