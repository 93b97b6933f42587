// The OpenAI wire format of responses: completion objects, streamed chunks, usage, the model
// list, and their framing as server-sent events ("data: {...}\n\n", then "data: [DONE]\n\n").
#pragma once
#include <cstdint>
#include <nlohmann/json.hpp>
#include <optional>
#include <string>

#include "server/completion_request.hpp"

namespace stagefence::server {

struct Usage {
  int prompt_tokens = 0;
  int completion_tokens = 0;
  int cached_tokens = 0;  // of prompt_tokens, reused from a slot's KV cache
};

// The identity every object of one response carries.
struct ResponseId {
  std::string id;  // "chatcmpl-..." or "cmpl-..."
  int64_t created = 0;
  std::string model;
};

nlohmann::json usage_json(const Usage& usage);

// A whole (non-streamed) answer.
nlohmann::json completion_json(Endpoint endpoint, const ResponseId& id, const std::string& text,
                               const std::string& finish_reason, const Usage& usage);
// One streamed chunk: `text` as a delta (chat: with the assistant role when `first`), and the
// finish reason on the last.
nlohmann::json chunk_json(Endpoint endpoint, const ResponseId& id, const std::string& text,
                          bool first, const std::optional<std::string>& finish_reason);
// The usage chunk stream_options.include_usage asks for: no choices, the usage.
nlohmann::json usage_chunk_json(Endpoint endpoint, const ResponseId& id, const Usage& usage);

nlohmann::json model_list_json(const std::string& model, int64_t created);

std::string sse_event(const nlohmann::json& data);
std::string sse_done();

}  // namespace stagefence::server
