// One generation request between the HTTP thread that answers it and the slot that runs it:
// what to generate, and a queue of events (text as it becomes final, then the end) the slot
// pushes and the HTTP thread pops with a deadline. Either side may cancel.
#pragma once
#include <atomic>
#include <chrono>
#include <condition_variable>
#include <cstdint>
#include <deque>
#include <mutex>
#include <optional>
#include <string>
#include <vector>

#include "model/llama/generator.hpp"
#include "server/openai_wire.hpp"

namespace stagefence::server {

struct JobSpec {
  std::vector<int32_t> prompt;
  int max_tokens = 1;
  llama::SamplingOptions sampling;
  std::vector<std::string> stop;
  bool cache_prompt = true;
};

struct JobEvent {
  enum class Kind { Text, Finished, Failed };
  Kind kind = Kind::Text;
  std::string text;           // Text: the next piece of the answer
  std::string finish_reason;  // Finished: "stop", "length" or "cancelled"
  Usage usage;                // Finished
  std::string error;          // Failed: what went wrong
};

class Job {
 public:
  explicit Job(JobSpec spec) : spec_(std::move(spec)) {}

  const JobSpec& spec() const { return spec_; }

  // The next event, or nullopt when none arrives within `wait`.
  std::optional<JobEvent> next(std::chrono::milliseconds wait);
  void push(JobEvent event);

  // Asks the slot to stop at its next token (or the scheduler to drop it from the queue).
  void cancel() { cancelled_.store(true, std::memory_order_relaxed); }
  bool cancelled() const { return cancelled_.load(std::memory_order_relaxed); }
  // The job ran to a Finished or Failed event.
  bool done() const;

 private:
  JobSpec spec_;
  std::atomic<bool> cancelled_{false};
  mutable std::mutex mu_;
  std::condition_variable cv_;
  std::deque<JobEvent> events_;
  bool done_ = false;
};

}  // namespace stagefence::server
