// Request bodies: defaults, accepted shapes, and a 400 naming the parameter for every wrong
// type or value.
#include "server/completion_request.hpp"

#include <gtest/gtest.h>

#include <cstdint>
#include <string>

#include "server/api_error.hpp"

namespace stagefence::server {
namespace {

ApiError error_of(const std::string& body, Endpoint endpoint = Endpoint::Chat) {
  try {
    parse_completion_request(body, endpoint);
  } catch (const ApiError& e) {
    return e;
  }
  ADD_FAILURE() << "accepted: " << body;
  return ApiError(0, "", "");
}

TEST(CompletionRequest, ChatDefaultsAndTextParts) {
  const CompletionRequest r = parse_completion_request(
      R"({"model": "m", "messages": [{"role": "developer", "content": "S"},
          {"role": "user", "content": [{"type": "text", "text": "a"}, {"type": "text", "text": "b"}]}],
          "stop": "x", "seed": -1, "stream": true, "stream_options": {"include_usage": true}})",
      Endpoint::Chat);
  ASSERT_EQ(r.messages.size(), 2u);
  EXPECT_EQ(r.messages[0].role, "system");
  EXPECT_EQ(r.messages[1].content, "ab");
  EXPECT_FALSE(r.max_tokens);
  EXPECT_EQ(r.temperature, 1.0f);
  EXPECT_EQ(r.top_p, 1.0f);
  EXPECT_EQ(r.stop, std::vector<std::string>{"x"});
  EXPECT_EQ(*r.seed, ~uint64_t(0));
  EXPECT_TRUE(r.stream && r.include_usage && r.cache_prompt);
}

TEST(CompletionRequest, CompletionPromptAndLimits) {
  const CompletionRequest r = parse_completion_request(
      R"({"prompt": ["p"], "max_tokens": 5, "temperature": 0, "top_p": 0.5, "top_k": 3,
          "n": 1, "logprobs": false, "user": "ignored"})",
      Endpoint::Completion);
  EXPECT_EQ(r.prompt, "p");
  EXPECT_EQ(*r.max_tokens, 5);
  EXPECT_EQ(r.top_k, 3);
}

TEST(CompletionRequest, EveryProblemNamesItsParameter) {
  const struct {
    const char* body;
    const char* param;
    const char* code;
  } cases[] = {
      {R"({"messages": [)", "", "invalid_json"},
      {R"([])", "body", "invalid_type"},
      {R"({})", "messages", "missing_field"},
      {R"({"messages": []})", "messages", "invalid_value"},
      {R"({"messages": [{"role": "user"}]})", "messages[0].content", "missing_field"},
      {R"({"messages": [{"role": 1, "content": "x"}]})", "messages[0].role", "invalid_type"},
      {R"({"messages": [{"role": "user", "content": [{"type": "image_url"}]}]})",
       "messages[0].content[0].type", "invalid_value"},
      {R"({"messages": [{"role": "user", "content": "x"}], "max_tokens": 0})", "max_tokens",
       "invalid_value"},
      {R"({"messages": [{"role": "user", "content": "x"}], "max_tokens": true})", "max_tokens",
       "invalid_type"},
      {R"({"messages": [{"role": "user", "content": "x"}], "max_tokens": 2.5})", "max_tokens",
       "invalid_type"},
      {R"({"messages": [{"role": "user", "content": "x"}], "temperature": 2.5})", "temperature",
       "invalid_value"},
      {R"({"messages": [{"role": "user", "content": "x"}], "temperature": "hot"})", "temperature",
       "invalid_type"},
      {R"({"messages": [{"role": "user", "content": "x"}], "top_p": 0})", "top_p", "invalid_value"},
      {R"({"messages": [{"role": "user", "content": "x"}], "top_k": -2})", "top_k",
       "invalid_value"},
      {R"({"messages": [{"role": "user", "content": "x"}], "stop": ["a","b","c","d","e"]})", "stop",
       "invalid_value"},
      {R"({"messages": [{"role": "user", "content": "x"}], "stop": [""]})", "stop",
       "invalid_value"},
      {R"({"messages": [{"role": "user", "content": "x"}], "n": 3})", "n", "invalid_value"},
      {R"({"messages": [{"role": "user", "content": "x"}], "logprobs": true})", "logprobs",
       "unsupported_parameter"},
      {R"({"messages": [{"role": "user", "content": "x"}], "frequency_penalty": 1})",
       "frequency_penalty", "unsupported_parameter"},
      {R"({"messages": [{"role": "user", "content": "x"}], "model": 3})", "model", "invalid_type"},
  };
  for (const auto& c : cases) {
    const ApiError e = error_of(c.body);
    EXPECT_EQ(e.status(), 400) << c.body;
    EXPECT_EQ(e.param(), c.param) << c.body << ": " << e.what();
    EXPECT_EQ(e.code(), c.code) << c.body << ": " << e.what();
    const nlohmann::json j = e.to_json();
    EXPECT_EQ(j.at("error").at("type"), "invalid_request_error");
    EXPECT_FALSE(j.at("error").at("message").get<std::string>().empty());
  }
  EXPECT_EQ(error_of(R"({"prompt": 5})", Endpoint::Completion).param(), "prompt");
}

}  // namespace
}  // namespace stagefence::server
