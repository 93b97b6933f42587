#include "server/openai_wire.hpp"

#include <cstdint>

namespace stagefence::server {

using nlohmann::json;

namespace {

json finish_or_null(const std::optional<std::string>& reason) {
  return reason ? json(*reason) : json(nullptr);
}

json envelope(Endpoint endpoint, const ResponseId& id, bool chunk) {
  const char* object = endpoint == Endpoint::Chat
                           ? (chunk ? "chat.completion.chunk" : "chat.completion")
                           : "text_completion";
  return {{"id", id.id}, {"object", object}, {"created", id.created}, {"model", id.model}};
}

}  // namespace

json usage_json(const Usage& u) {
  return {{"prompt_tokens", u.prompt_tokens},
          {"completion_tokens", u.completion_tokens},
          {"total_tokens", u.prompt_tokens + u.completion_tokens},
          {"prompt_tokens_details", {{"cached_tokens", u.cached_tokens}}}};
}

json completion_json(Endpoint endpoint, const ResponseId& id, const std::string& text,
                     const std::string& finish_reason, const Usage& usage) {
  json out = envelope(endpoint, id, false);
  json choice = {{"index", 0}, {"finish_reason", finish_reason}, {"logprobs", nullptr}};
  if (endpoint == Endpoint::Chat)
    choice["message"] = {{"role", "assistant"}, {"content", text}};
  else
    choice["text"] = text;
  out["choices"] = json::array({choice});
  out["usage"] = usage_json(usage);
  return out;
}

json chunk_json(Endpoint endpoint, const ResponseId& id, const std::string& text, bool first,
                const std::optional<std::string>& finish_reason) {
  json out = envelope(endpoint, id, true);
  json choice = {
      {"index", 0}, {"finish_reason", finish_or_null(finish_reason)}, {"logprobs", nullptr}};
  if (endpoint == Endpoint::Chat) {
    json delta = json::object();
    if (first) delta["role"] = "assistant";
    if (!text.empty() || (first && !finish_reason)) delta["content"] = text;
    choice["delta"] = delta;
  } else {
    choice["text"] = text;
  }
  out["choices"] = json::array({choice});
  return out;
}

json usage_chunk_json(Endpoint endpoint, const ResponseId& id, const Usage& usage) {
  json out = envelope(endpoint, id, true);
  out["choices"] = json::array();
  out["usage"] = usage_json(usage);
  return out;
}

json model_list_json(const std::string& model, int64_t created) {
  return {{"object", "list"},
          {"data", json::array({{{"id", model},
                                 {"object", "model"},
                                 {"created", created},
                                 {"owned_by", "stagefence"}}})}};
}

std::string sse_event(const json& data) {
  return "data: " + data.dump() + "\n\n";
}

std::string sse_done() {
  return "data: [DONE]\n\n";
}

}  // namespace stagefence::server
