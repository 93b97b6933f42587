// What a server serves, shared read-only by every request: the model's id, its tokenizer and
// chat template, and the scheduler that runs it.
#pragma once
#include <cstdint>
#include <string>

#include "model/tokenizer/chat_template.hpp"
#include "model/tokenizer/tokenizer.hpp"

namespace stagefence::server {

struct ServedModel {
  std::string id;  // the model name requests give and GET /v1/models lists
  const tok::Tokenizer* tokenizer = nullptr;
  const tok::ChatTemplate* chat = nullptr;  // null: chat completions are refused
  std::string chat_error;                   // why there is no chat template
  int64_t created = 0;                      // unix time the server started
};

}  // namespace stagefence::server
