// The response objects: usage adds up, chunks carry the role first and the finish reason last,
// and events are framed as SSE.
#include "server/openai_wire.hpp"

#include <gtest/gtest.h>

namespace stagefence::server {
namespace {

const ResponseId kId{"chatcmpl-1", 1700000000, "m"};

TEST(OpenAiWire, CompletionAndUsage) {
  const nlohmann::json c = completion_json(Endpoint::Chat, kId, "hi", "stop", {10, 3, 4});
  EXPECT_EQ(c["object"], "chat.completion");
  EXPECT_EQ(c["choices"][0]["message"]["content"], "hi");
  EXPECT_EQ(c["choices"][0]["finish_reason"], "stop");
  EXPECT_EQ(c["usage"]["total_tokens"], 13);
  EXPECT_EQ(c["usage"]["prompt_tokens_details"]["cached_tokens"], 4);
  const nlohmann::json t = completion_json(Endpoint::Completion, kId, "x", "length", {1, 1, 0});
  EXPECT_EQ(t["object"], "text_completion");
  EXPECT_EQ(t["choices"][0]["text"], "x");
}

TEST(OpenAiWire, ChunksAndFraming) {
  const nlohmann::json first = chunk_json(Endpoint::Chat, kId, "", true, std::nullopt);
  EXPECT_EQ(first["object"], "chat.completion.chunk");
  EXPECT_EQ(first["choices"][0]["delta"]["role"], "assistant");
  EXPECT_TRUE(first["choices"][0]["finish_reason"].is_null());
  const nlohmann::json last = chunk_json(Endpoint::Chat, kId, "", false, "length");
  EXPECT_TRUE(last["choices"][0]["delta"].empty());
  EXPECT_EQ(last["choices"][0]["finish_reason"], "length");
  EXPECT_TRUE(usage_chunk_json(Endpoint::Chat, kId, {2, 2, 0})["choices"].empty());
  EXPECT_EQ(sse_event({{"a", 1}}), "data: {\"a\":1}\n\n");
  EXPECT_EQ(sse_done(), "data: [DONE]\n\n");
}

}  // namespace
}  // namespace stagefence::server
