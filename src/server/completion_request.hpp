// A POST /v1/chat/completions or /v1/completions body, parsed and checked field by field. Every
// problem is an ApiError (400) naming the parameter, its value and what is allowed; fields this
// server does not implement are rejected when they would change the answer (n > 1, logprobs,
// tools, penalties) and ignored otherwise (user, metadata).
#pragma once
#include <cstdint>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "model/tokenizer/chat_template.hpp"

namespace stagefence::server {

enum class Endpoint { Chat, Completion };

struct CompletionRequest {
  Endpoint endpoint = Endpoint::Chat;
  std::string model;                       // empty: the served model
  std::vector<tok::ChatMessage> messages;  // Chat
  std::string prompt;                      // Completion
  std::optional<int> max_tokens;           // unset: until the end of the turn or the context
  float temperature = 1.0f;                // OpenAI's default
  float top_p = 1.0f;
  int top_k = 0;
  std::optional<uint64_t> seed;  // unset: a random seed
  std::vector<std::string> stop;
  bool stream = false;
  bool include_usage = false;  // stream_options.include_usage
  bool cache_prompt = true;    // reuse a slot's KV cache for a shared prefix
};

// Throws ApiError for malformed JSON, wrong types and values out of range.
CompletionRequest parse_completion_request(std::string_view body, Endpoint endpoint);

}  // namespace stagefence::server
