#include "stagefence/trace.hpp"

#include <algorithm>
#include <atomic>
#include <cerrno>
#include <chrono>
#include <cmath>
#include <cstdint>
#include <cstdio>
#include <cstring>
#include <fstream>
#include <map>
#include <mutex>
#include <sstream>
#include <string>
#include <vector>

#include "core/command_buffer.hpp"
#include "core/device_core.hpp"
#include "stagefence/error.hpp"
#include "stagefence/kernel.hpp"
#include "stagefence/report.hpp"

namespace stagefence {
namespace detail {
std::atomic<bool> g_trace_on{false};
}

namespace trace {
namespace {

using Clock = std::chrono::steady_clock;

constexpr int kDevicePid = 1;
constexpr int kHostPid = 2;
// Dispatch lane k of queue q lives on tid (k + 1) * kLaneStride + q, next to the queue's track.
constexpr uint64_t kLaneStride = 1'000'000;

// One trace event; `args` is a JSON object body without braces (may be empty). Times are whole
// nanoseconds so that a span's ts + dur equals its end exactly in the output.
struct Event {
  char phase;  // 'X' complete span, 'i' instant
  int pid;
  uint64_t tid;
  int64_t ts_ns;
  int64_t dur_ns;
  std::string name;
  const char* category;
  std::string args;
};

struct Recorder {
  std::mutex mu;
  bool on = false;
  std::string path;
  Clock::time_point origin;
  std::vector<Event> events;
  std::map<uint64_t, std::string> queue_names;         // queue id -> name
  std::map<uint64_t, std::vector<int64_t>> lane_ends;  // queue id -> end of each dispatch lane
  std::map<uint64_t, bool> encode_threads;             // host tids seen
};

Recorder& recorder() {
  static Recorder r;
  return r;
}

// A small number per host thread, stable for the life of the process.
uint64_t host_thread_tid() {
  static std::atomic<uint64_t> next{1};
  thread_local const uint64_t tid = next.fetch_add(1, std::memory_order_relaxed);
  return tid;
}

int64_t since_origin_ns(const Recorder& r, Clock::time_point t) {
  return std::max<int64_t>(
      0, std::chrono::duration_cast<std::chrono::nanoseconds>(t - r.origin).count());
}

std::string buffer_name(const CommandBuffer& cb) {
  return cb.label.empty() ? "command buffer #" + std::to_string(cb.id) : cb.label;
}

void begin(Recorder& r, std::string path) {
  std::lock_guard<std::mutex> lock(r.mu);
  if (r.on) raise(ErrorCode::State, "trace::start: a trace is already recording");
  r.path = std::move(path);
  r.origin = Clock::now();
  r.events.clear();
  r.queue_names.clear();
  r.lane_ends.clear();
  r.encode_threads.clear();
  r.on = true;
  detail::g_trace_on.store(true, std::memory_order_relaxed);
}

// Nanoseconds as microseconds with three exact decimals (the format's unit is the microsecond).
void append_micros(std::ostringstream& os, int64_t ns) {
  char buf[32];
  std::snprintf(buf, sizeof buf, "%lld.%03lld", static_cast<long long>(ns / 1000),
                static_cast<long long>(ns % 1000));
  os << buf;
}

void append_metadata(std::ostringstream& os, const char* what, int pid, uint64_t tid,
                     const std::string& key, const std::string& value_json, const char*& sep) {
  os << sep << "\n{\"ph\":\"M\",\"name\":\"" << what << "\",\"pid\":" << pid << ",\"tid\":" << tid
     << ",\"args\":{\"" << key << "\":" << value_json << "}}";
  sep = ",";
}

std::string to_json(const Recorder& r) {
  std::ostringstream os;
  os << "{\"displayTimeUnit\":\"ms\",\"otherData\":{\"producer\":\"stagefence\"},\"traceEvents\":[";
  const char* sep = "";
  append_metadata(os, "process_name", kDevicePid, 0, "name", json_quote("stagefence device"), sep);
  append_metadata(os, "process_sort_index", kDevicePid, 0, "sort_index", "1", sep);
  append_metadata(os, "process_name", kHostPid, 0, "name", json_quote("stagefence host"), sep);
  append_metadata(os, "process_sort_index", kHostPid, 0, "sort_index", "2", sep);
  for (const auto& [id, name] : r.queue_names) {
    append_metadata(os, "thread_name", kDevicePid, id, "name", json_quote("queue " + name), sep);
    append_metadata(os, "thread_sort_index", kDevicePid, id, "sort_index",
                    std::to_string(id * 1000), sep);
    const auto lanes = r.lane_ends.find(id);
    const size_t lane_count = lanes == r.lane_ends.end() ? 0 : lanes->second.size();
    for (size_t k = 0; k < lane_count; ++k) {
      const uint64_t tid = (k + 1) * kLaneStride + id;
      append_metadata(os, "thread_name", kDevicePid, tid, "name",
                      json_quote("queue " + name + " dispatches " + std::to_string(k)), sep);
      append_metadata(os, "thread_sort_index", kDevicePid, tid, "sort_index",
                      std::to_string(id * 1000 + k + 1), sep);
    }
  }
  for (const auto& [tid, seen] : r.encode_threads) {
    append_metadata(os, "thread_name", kHostPid, tid, "name",
                    json_quote("encoding thread " + std::to_string(tid)), sep);
  }
  for (const Event& e : r.events) {
    os << sep << "\n{\"ph\":\"" << e.phase << "\",\"cat\":\"" << e.category
       << "\",\"name\":" << json_quote(e.name) << ",\"pid\":" << e.pid << ",\"tid\":" << e.tid
       << ",\"ts\":";
    append_micros(os, e.ts_ns);
    if (e.phase == 'X') {
      os << ",\"dur\":";
      append_micros(os, e.dur_ns);
    } else {
      os << ",\"s\":\"t\"";
    }
    os << ",\"args\":{" << e.args << "}}";
    sep = ",";
  }
  os << "\n]}\n";
  return os.str();
}

void write_file(const std::string& path, const std::string& text) {
  std::ofstream out(path, std::ios::binary | std::ios::trunc);
  if (out) out << text;
  if (out) out.flush();
  if (!out) raise(ErrorCode::Io, "cannot write trace file '" + path + "': " + std::strerror(errno));
}

}  // namespace

void start() {
  begin(recorder(), {});
}

void start(const std::string& path) {
  if (path.empty()) raise(ErrorCode::InvalidArgument, "trace::start: empty file path");
  // Fail now, before the run, if the file cannot be written.
  std::ofstream probe(path, std::ios::binary | std::ios::trunc);
  if (!probe)
    raise(ErrorCode::Io, "cannot create trace file '" + path + "': " + std::strerror(errno));
  begin(recorder(), path);
}

bool active() {
  return detail::g_trace_on.load(std::memory_order_relaxed);
}

std::string stop() {
  Recorder& r = recorder();
  std::string text, path;
  {
    std::lock_guard<std::mutex> lock(r.mu);
    if (!r.on) raise(ErrorCode::State, "trace::stop: no trace is recording");
    r.on = false;
    detail::g_trace_on.store(false, std::memory_order_relaxed);
    text = to_json(r);
    path = std::move(r.path);
    r.events.clear();
    r.events.shrink_to_fit();
  }
  if (!path.empty()) write_file(path, text);
  return text;
}

size_t event_count() {
  Recorder& r = recorder();
  std::lock_guard<std::mutex> lock(r.mu);
  return r.events.size();
}

Scope::Scope(const std::string& path) {
  if (path.empty()) return;
  start(path);
  owns_ = true;
}

Scope::~Scope() {
  if (!owns_) return;
  try {
    stop();
  } catch (const std::exception& e) {
    std::fprintf(stderr, "stagefence: trace not written: %s\n", e.what());
  }
}

}  // namespace trace

namespace detail {

void trace_encoded(const CommandBuffer& cb) {
  trace::Recorder& r = trace::recorder();
  const uint64_t tid = trace::host_thread_tid();
  std::string args = "\"buffer\":" + std::to_string(cb.id) +
                     ",\"dispatches\":" + std::to_string(cb.dispatches.size());
  if (cb.queue) args += ",\"queue\":" + json_quote(cb.queue->name);
  std::lock_guard<std::mutex> lock(r.mu);
  if (!r.on) return;
  const int64_t begin = trace::since_origin_ns(r, cb.created_at);
  const int64_t end = std::max(begin, trace::since_origin_ns(r, cb.committed_at));
  r.encode_threads[tid] = true;
  r.events.push_back({'X', trace::kHostPid, tid, begin, end - begin,
                      "encode " + trace::buffer_name(cb), "encode", std::move(args)});
}

void trace_executed(const CommandBuffer& cb, std::chrono::steady_clock::time_point completed_at,
                    const CommandBufferTimes* times, const std::string* error) {
  using Clock = std::chrono::steady_clock;
  // Backend-reported execution times when present, else derived from the completion.
  Clock::time_point exec_end = cb.exec_end != Clock::time_point{} ? cb.exec_end : completed_at;
  Clock::time_point exec_begin = cb.exec_begin;
  if (exec_begin == Clock::time_point{}) {
    exec_begin = exec_end;
    if (times && times->valid)
      exec_begin -= std::chrono::duration_cast<Clock::duration>(
          std::chrono::duration<double, std::micro>(times->gpu_us));
  }
  const uint64_t queue_id = cb.queue ? cb.queue->id : 0;
  const std::string queue_name = cb.queue ? cb.queue->name : "unknown";
  const std::string name = trace::buffer_name(cb);

  std::string args = "\"buffer\":" + std::to_string(cb.id) +
                     ",\"dispatches\":" + std::to_string(cb.dispatches.size()) +
                     ",\"status\":" + json_quote(error ? "failed" : "completed");
  if (error) args += ",\"error\":" + json_quote(*error);
  if (cb.stages) args += ",\"stages\":" + std::to_string(cb.stages->size());

  trace::Recorder& r = trace::recorder();
  std::lock_guard<std::mutex> lock(r.mu);
  if (!r.on) return;
  r.queue_names.emplace(queue_id, queue_name);
  const int64_t begin = trace::since_origin_ns(r, exec_begin);
  const int64_t end = std::max(begin, trace::since_origin_ns(r, exec_end));
  r.events.push_back({'X', trace::kDevicePid, queue_id, begin, end - begin, name, "command_buffer",
                      std::move(args)});
  for (const FenceOp& w : cb.waits) {
    r.events.push_back(
        {'i', trace::kDevicePid, queue_id, begin, 0, "wait " + w.fence->name, "fence",
         "\"fence\":" + json_quote(w.fence->name) + ",\"fence_id\":" + std::to_string(w.fence->id) +
             ",\"value\":" + std::to_string(w.value) + ",\"buffer\":" + std::to_string(cb.id)});
  }
  for (const FenceOp& s : cb.signals) {
    r.events.push_back(
        {'i', trace::kDevicePid, queue_id, end, 0, (error ? "poison " : "signal ") + s.fence->name,
         "fence",
         "\"fence\":" + json_quote(s.fence->name) + ",\"fence_id\":" + std::to_string(s.fence->id) +
             ",\"value\":" + std::to_string(s.value) + ",\"buffer\":" + std::to_string(cb.id)});
  }
  if (!times || times->dispatches.empty()) return;

  // Dispatches may overlap; each goes to the first lane of its queue that is free by its start,
  // so no lane holds overlapping spans.
  std::vector<size_t> order(times->dispatches.size());
  for (size_t i = 0; i < order.size(); ++i) order[i] = i;
  std::sort(order.begin(), order.end(), [&](size_t a, size_t b) {
    return times->dispatches[a].start_us < times->dispatches[b].start_us;
  });
  std::vector<int64_t>& lanes = r.lane_ends[queue_id];
  const auto ns = [](double us) { return static_cast<int64_t>(std::llround(us * 1e3)); };
  for (size_t i : order) {
    const DispatchTime& d = times->dispatches[i];
    const int64_t d_begin = std::min(end, begin + ns(d.start_us));
    const int64_t d_end = std::clamp(begin + ns(d.end_us), d_begin, end);
    size_t lane = 0;
    while (lane < lanes.size() && lanes[lane] > d_begin) ++lane;
    if (lane == lanes.size()) lanes.push_back(0);
    lanes[lane] = d_end;
    const KernelRegistry& kernels = KernelRegistry::global();
    r.events.push_back({'X', trace::kDevicePid, (lane + 1) * trace::kLaneStride + queue_id, d_begin,
                        d_end - d_begin, kernels.def(d.kernel).name, "dispatch",
                        "\"buffer\":" + std::to_string(cb.id) + ",\"label\":" + json_quote(name) +
                            ",\"dispatch\":" + std::to_string(i)});
  }
  if (!cb.stages) return;
  // A buffer holding several stages: each stage's span on the queue's track, inside the
  // buffer's, from its first dispatch's start to its last one's end.
  for (size_t k = 0; k < cb.stages->size(); ++k) {
    const StageMark& m = (*cb.stages)[k];
    const size_t stop =
        k + 1 < cb.stages->size() ? (*cb.stages)[k + 1].first_dispatch : times->dispatches.size();
    int64_t s_begin = end, s_end = begin;
    for (size_t i = m.first_dispatch; i < std::min(stop, times->dispatches.size()); ++i) {
      s_begin = std::min(s_begin, std::min(end, begin + ns(times->dispatches[i].start_us)));
      s_end = std::max(s_end, std::clamp(begin + ns(times->dispatches[i].end_us), begin, end));
    }
    if (s_end < s_begin) continue;  // no timed dispatch in this stage
    r.events.push_back({'X', trace::kDevicePid, queue_id, s_begin, s_end - s_begin, m.label,
                        "stage",
                        "\"buffer\":" + std::to_string(cb.id) + ",\"label\":" + json_quote(name)});
  }
}

}  // namespace detail
}  // namespace stagefence
