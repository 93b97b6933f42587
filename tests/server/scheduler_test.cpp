// The scheduler on the CPU with a tiny model (cheap enough for ThreadSanitizer) that carries the
// built-in model's vocabulary: every queued job finishes with its tokens,
// slots share the device fairly, a cancelled job frees its slot, the queue limit answers 503,
// a job whose prompt extends a slot's last sequence lands there and reuses its cache, and a
// non-streaming client that leaves while tokens keep coming cancels its job.
#include "server/scheduler.hpp"

#include <gtest/gtest.h>

#include <chrono>
#include <cstdint>
#include <thread>

#include "model/builtin_model.hpp"
#include "model/gguf/gguf_file.hpp"
#include "model/gguf/gguf_writer.hpp"
#include "model/llama/model_writer.hpp"
#include "model/tokenizer/gguf_tokenizer_data.hpp"
#include "server/api_error.hpp"
#include "server/completion_handler.hpp"

namespace stagefence::server {
namespace {

class SchedulerTest : public ::testing::Test {
 protected:
  // Two layers of width 64 over the first 320 tokens of the built-in vocabulary.
  static std::vector<std::byte> tiny_model_gguf() {
    llama::LlamaConfig c = llama::builtin_config();
    c.dim = 64;
    c.layers = 2;
    c.heads = 4;
    c.kv_heads = 2;
    c.head_dim = 16;
    c.rope_dim = 16;
    c.ffn_dim = 96;
    c.vocab = 320;
    std::vector<std::string> tokens = llama::builtin_vocabulary();
    tokens.resize(size_t(c.vocab));
    gguf::GgufWriter w;
    llama::add_vocabulary(w, "llama", tokens);
    llama::add_random_model(w, c, llama::WeightTypes::all(DType::Q8_0), 3);
    return w.to_bytes();
  }
  void SetUp() override {
    file_.emplace(gguf::GgufFile::from_bytes(tiny_model_gguf()));
    device_.emplace(Device::open({BackendKind::Cpu}));
    model_.emplace(llama::load_model(*device_, *file_));
    tokenizer_.emplace(tok::tokenizer_data_from_gguf(*file_));
  }
  std::unique_ptr<Scheduler> make(int parallel, int queue_limit = 64, int context = 128) {
    SchedulerOptions o;
    o.parallel = parallel;
    o.queue_limit = queue_limit;
    llama::ForwardOptions fo;
    fo.context = context;
    return std::make_unique<Scheduler>(
        [this, fo] { return llama::Generator(*device_, *model_, fo); }, *tokenizer_, o);
  }
  static JobSpec spec(std::vector<int32_t> prompt, int max_tokens) {
    JobSpec s;
    s.prompt = std::move(prompt);
    s.max_tokens = max_tokens;
    return s;
  }
  // Waits for the job's last event.
  static JobEvent finish(Job& job) {
    for (int i = 0; i < 600; ++i)
      if (std::optional<JobEvent> e = job.next(std::chrono::milliseconds(100)))
        if (e->kind != JobEvent::Kind::Text) return *e;
    ADD_FAILURE() << "the job did not finish in 60 s";
    return {};
  }

  std::optional<gguf::GgufFile> file_;
  std::optional<Device> device_;
  std::optional<llama::LlamaModel> model_;
  std::optional<tok::Tokenizer> tokenizer_;
};

TEST_F(SchedulerTest, EveryJobFinishesWithItsTokensAndTheGaugesReturn) {
  const CounterSnapshot before = counters::snapshot();
  {
    auto s = make(3);
    std::vector<std::shared_ptr<Job>> jobs;
    for (int i = 0; i < 8; ++i) jobs.push_back(s->submit(spec({1, int32_t(300 + i), 290}, 5)));
    for (auto& job : jobs) {
      const JobEvent e = finish(*job);
      ASSERT_EQ(e.kind, JobEvent::Kind::Finished) << e.error;
      EXPECT_EQ(e.finish_reason == "length", e.usage.completion_tokens == 5);
      EXPECT_EQ(e.usage.prompt_tokens, 3);
    }
    const SchedulerStats st = s->stats();
    EXPECT_EQ(st.completed, 8u);
    EXPECT_EQ(st.busy, 0);
  }
  device_->synchronize();  // the queue thread lets go of the last buffer after its waiter wakes
  const CounterSnapshot after = counters::snapshot();
  EXPECT_EQ(after.live_command_buffers, before.live_command_buffers);
  EXPECT_EQ(after.live_fences, before.live_fences);
}

TEST_F(SchedulerTest, CancellingARunningJobFreesItsSlotAndTheQueueLimitHolds) {
  auto s = make(1, 1);
  auto running = s->submit(spec({1, 300}, 100));
  auto waiting = s->submit(spec({1, 301}, 2));
  EXPECT_THROW(s->submit(spec({1, 302}, 2)), ApiError);  // one may wait, not two
  running->cancel();
  EXPECT_EQ(finish(*running).finish_reason, "cancelled");
  EXPECT_EQ(finish(*waiting).kind, JobEvent::Kind::Finished);
  auto withdrawn = s->submit(spec({1, 303}, 50));
  auto queued = s->submit(spec({1, 304}, 2));
  s->withdraw(queued);
  EXPECT_EQ(finish(*queued).finish_reason, "cancelled");
  withdrawn->cancel();
  finish(*withdrawn);
  EXPECT_EQ(s->stats().cancelled, 3u);
}

TEST_F(SchedulerTest, AFollowUpPromptReusesItsSlotsCache) {
  auto s = make(2);
  const std::vector<int32_t> first = {1, 300, 290, 48, 73};
  auto a = s->submit(spec(first, 4));
  const JobEvent ea = finish(*a);
  ASSERT_EQ(ea.kind, JobEvent::Kind::Finished);
  std::vector<int32_t> follow = first;
  follow.insert(follow.end(), {301, 54, 177});
  auto b = s->submit(spec(follow, 2));
  const JobEvent eb = finish(*b);
  EXPECT_EQ(eb.usage.cached_tokens, int(first.size()));
  JobSpec fresh = spec(follow, 2);
  fresh.cache_prompt = false;
  auto c = s->submit(fresh);
  EXPECT_EQ(finish(*c).usage.cached_tokens, 0);
}

TEST_F(SchedulerTest, AClientThatLeavesWhileTokensFlowCancelsTheJob) {
  auto s = make(1, 64, 1024);  // 1,000 tokens: the job cannot end before the first one's poll
  const ServedModel served{"tiny", &*tokenizer_, nullptr, "no template", 0};
  const CompletionHandler handler(*s, served, std::chrono::seconds(60));
  // Tokens of the tiny model come far faster than the handler's idle slice: the client's
  // absence has to be noticed between tokens, not only when none arrives.
  AdmittedRequest a =
      handler.admit(R"({"prompt": "ab", "max_tokens": 1000})", Endpoint::Completion);
  int polls = 0;
  const nlohmann::json body = handler.complete(a, [&] { return ++polls > 0; });
  EXPECT_TRUE(body.is_null());
  EXPECT_EQ(polls, 1);
  for (int i = 0; i < 600 && s->stats().busy > 0; ++i)
    std::this_thread::sleep_for(std::chrono::milliseconds(100));
  const SchedulerStats st = s->stats();
  EXPECT_EQ(st.busy, 0);
  EXPECT_EQ(st.cancelled, 1u);
  EXPECT_EQ(st.completed, 0u);
}

}  // namespace
}  // namespace stagefence::server
