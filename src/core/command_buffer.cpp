#include "core/command_buffer.hpp"

#include <algorithm>
#include <cstdint>

#include "core/counters_internal.hpp"
#include "core/device_core.hpp"
#include "core/host_spin.hpp"

namespace stagefence {

namespace {

std::atomic<uint64_t> g_next_cb_id{1};

// Dispatch lists of destroyed buffers, handed to new ones: a 1000-dispatch list is ~384 KB, and
// growing one from empty for every buffer costs more than recording into it.
class SpareRecordLists {
 public:
  static constexpr size_t kMaxLists = 4;
  static constexpr size_t kMinCapacity = 64;    // smaller lists are cheap to grow
  static constexpr size_t kMaxCapacity = 8192;  // bounds what is kept (~3 MB a list)

  SpareRecordLists() { lists_.reserve(kMaxLists); }  // give() never allocates

  // The largest spare list (empty), or an empty vector.
  std::vector<DispatchRecord> take() {
    std::lock_guard<std::mutex> lock(mu_);
    if (lists_.empty()) return {};
    auto largest = std::max_element(lists_.begin(), lists_.end(), [](const auto& a, const auto& b) {
      return a.capacity() < b.capacity();
    });
    std::vector<DispatchRecord> out = std::move(*largest);
    lists_.erase(largest);
    return out;
  }
  void give(std::vector<DispatchRecord>& list) noexcept {
    if (list.capacity() < kMinCapacity || list.capacity() > kMaxCapacity) return;
    list.clear();
    std::lock_guard<std::mutex> lock(mu_);
    if (lists_.size() < kMaxLists) lists_.push_back(std::move(list));
  }

 private:
  std::mutex mu_;
  std::vector<std::vector<DispatchRecord>> lists_;
};

// Never destroyed: buffers may outlive static destruction on backend threads.
SpareRecordLists& spare_record_lists() {
  static auto* lists = new SpareRecordLists;
  return *lists;
}

}  // namespace

CommandBuffer::CommandBuffer()
    : id(g_next_cb_id.fetch_add(1, std::memory_order_relaxed)),
      dispatches(spare_record_lists().take()),
      created_at(std::chrono::steady_clock::now()) {
  detail::gauge(detail::counters().live_command_buffers, 1);
}

CommandBuffer::~CommandBuffer() {
  spare_record_lists().give(dispatches);
  detail::gauge(detail::counters().live_command_buffers, -1);
}

bool CommandBuffer::finished() const {
  std::lock_guard<std::mutex> lock(mu);
  return status == Status::Completed || status == Status::Failed;
}

std::string CommandBuffer::display_name() const {
  return label.empty() ? "#" + std::to_string(id) : "'" + label + "'";
}

std::string CommandBuffer::stage_suffix(size_t dispatch) const {
  if (!stages) return {};
  const StageMark* found = nullptr;
  for (const StageMark& m : *stages)
    if (m.first_dispatch <= dispatch) found = &m;
  return found ? " in stage '" + found->label + "'" : std::string();
}

std::string CommandBuffer::stages_suffix() const {
  if (!stages || stages->empty()) return {};
  return " (stages '" + stages->front().label + "' to '" + stages->back().label + "')";
}

bool CommandBuffer::wait_finished(std::chrono::nanoseconds timeout, bool spin) {
  auto is_final = [](Status s) { return s == Status::Completed || s == Status::Failed; };
  const auto deadline = std::chrono::steady_clock::now() + timeout;
  if (spin && spin_for([&] { return is_final(status.load(std::memory_order_acquire)); },
                       std::min(timeout, host_spin_window())))
    return true;
  std::unique_lock<std::mutex> lock(mu);
  return cv.wait_until(lock, deadline, [&] { return is_final(status); });
}

void CommandBuffer::wait_or_throw(std::optional<std::chrono::nanoseconds> timeout) {
  const std::chrono::nanoseconds limit =
      timeout ? *timeout : (queue ? queue->watchdog->deadline() : Watchdog::kDefaultDeadline);
  if (!wait_finished(limit)) fail_overdue(limit);
  std::lock_guard<std::mutex> lock(mu);
  if (status == Status::Failed) throw Error(error_code, error);
}

void CommandBuffer::fail_overdue(std::chrono::nanoseconds timeout) {
  const auto ms = std::chrono::duration_cast<std::chrono::milliseconds>(timeout).count();
  std::string what = "command buffer " + display_name();
  if (queue) what += " on queue '" + queue->name + "'";
  what += " did not complete within " + std::to_string(ms) + " ms";
  auto fence_list = [](const std::vector<FenceOp>& ops) {
    std::string out;
    for (const FenceOp& op : ops)
      out += (out.empty() ? "" : ", ") + std::string("fence '") + op.fence->name + "' value " +
             std::to_string(op.value) + " (now at " + std::to_string(op.fence->value()) + ")";
    return out;
  };
  if (!waits.empty()) what += "; it waits for " + fence_list(waits);
  if (!signals.empty()) what += "; it signals " + fence_list(signals);
  if (started.load(std::memory_order_acquire)) {
    what += "; its work is running on the device and cannot be stopped";
    if (queue) {
      queue->watchdog->mark_unusable("the watchdog found " + what);
      what += ", so the device is now unusable";
    }
  } else {
    what += "; it has not started (its fence waits are not satisfied)";
  }
  raise(ErrorCode::Timeout, what);
}

void complete_command_buffer(CommandBuffer& cb, std::optional<Error> error,
                             const CommandBufferTimes* times) {
  const bool tracing = detail::trace_on();
  const auto completed_at =
      tracing ? std::chrono::steady_clock::now() : std::chrono::steady_clock::time_point{};
  // Memory goes back to the pool before anyone can observe completion.
  std::vector<std::shared_ptr<Allocation>> retained;
  retained.swap(cb.retained);
  retained.clear();
  std::vector<std::shared_ptr<const void>> replays;
  replays.swap(cb.retained_replays);
  replays.clear();
  for (auto& t : cb.tracked) t->end_use();
  cb.tracked.clear();

  std::string message;
  if (error) {
    message = error->what();
    for (auto& s : cb.signals) s.fence->poison(s.value, message);
  } else {
    for (auto& s : cb.signals) s.fence->signal(s.value);
  }
  if (tracing) detail::trace_executed(cb, completed_at, times, error ? &message : nullptr);
  {
    std::lock_guard<std::mutex> lock(cb.mu);
    if (times) cb.times = *times;
    if (error) {
      cb.status = CommandBuffer::Status::Failed;
      cb.error_code = error->code();
      // Error's what() already carries the code name; keep the message without repeating it.
      const std::string prefix = std::string(error_code_name(error->code())) + ": ";
      cb.error = message.rfind(prefix, 0) == 0 ? message.substr(prefix.size()) : message;
    } else {
      cb.status = CommandBuffer::Status::Completed;
    }
  }
  cb.cv.notify_all();
}

}  // namespace stagefence
