#include "stagefence/counters.hpp"

#include <cstdint>
#include <sstream>

#include "core/counters_internal.hpp"

namespace stagefence {
namespace detail {
Counters& counters() {
  static Counters c;
  return c;
}
}  // namespace detail

namespace {
// One list of (name, member) pairs serves snapshot, subtraction and printing.
template <typename F>
void for_each_event(F&& f) {
  f("dispatches", &CounterSnapshot::dispatches);
  f("command_buffers", &CounterSnapshot::command_buffers);
  f("commits", &CounterSnapshot::commits);
  f("syncs", &CounterSnapshot::syncs);
  f("barriers_explicit", &CounterSnapshot::barriers_explicit);
  f("barriers_auto", &CounterSnapshot::barriers_auto);
  f("concurrent_dispatches", &CounterSnapshot::concurrent_dispatches);
  f("dependencies", &CounterSnapshot::dependencies);
  f("fences_signalled", &CounterSnapshot::fences_signalled);
  f("waits_encoded", &CounterSnapshot::waits_encoded);
  f("residency_flushes", &CounterSnapshot::residency_flushes);
  f("graph_launches", &CounterSnapshot::graph_launches);
  f("graph_instantiations", &CounterSnapshot::graph_instantiations);
  f("graph_updates", &CounterSnapshot::graph_updates);
}
template <typename F>
void for_each_gauge(F&& f) {
  f("live_command_buffers", &CounterSnapshot::live_command_buffers);
  f("live_fences", &CounterSnapshot::live_fences);
  f("live_allocations", &CounterSnapshot::live_allocations);
  f("pool_bytes_in_use", &CounterSnapshot::pool_bytes_in_use);
  f("pool_bytes_cached", &CounterSnapshot::pool_bytes_cached);
  f("live_graph_execs", &CounterSnapshot::live_graph_execs);
}
}  // namespace

CounterSnapshot CounterSnapshot::operator-(const CounterSnapshot& earlier) const {
  CounterSnapshot d = *this;
  for_each_event([&](const char*, uint64_t CounterSnapshot::*m) { d.*m = this->*m - earlier.*m; });
  return d;
}

std::string CounterSnapshot::to_string() const {
  std::ostringstream os;
  const char* sep = "";
  for_each_event([&](const char* n, uint64_t CounterSnapshot::*m) {
    os << sep << n << '=' << this->*m;
    sep = " ";
  });
  for_each_gauge(
      [&](const char* n, int64_t CounterSnapshot::*m) { os << ' ' << n << '=' << this->*m; });
  return os.str();
}

std::string CounterSnapshot::to_json() const {
  std::ostringstream os;
  os << '{';
  const char* sep = "";
  for_each_event([&](const char* n, uint64_t CounterSnapshot::*m) {
    os << sep << '"' << n << "\":" << this->*m;
    sep = ",";
  });
  for_each_gauge(
      [&](const char* n, int64_t CounterSnapshot::*m) { os << ",\"" << n << "\":" << this->*m; });
  os << '}';
  return os.str();
}

namespace counters {

CounterSnapshot snapshot() {
  auto& c = detail::counters();
  auto r = [](const auto& a) { return a.load(std::memory_order_relaxed); };
  CounterSnapshot s;
  s.dispatches = r(c.dispatches);
  s.command_buffers = r(c.command_buffers);
  s.commits = r(c.commits);
  s.syncs = r(c.syncs);
  s.barriers_explicit = r(c.barriers_explicit);
  s.barriers_auto = r(c.barriers_auto);
  s.concurrent_dispatches = r(c.concurrent_dispatches);
  s.dependencies = r(c.dependencies);
  s.fences_signalled = r(c.fences_signalled);
  s.waits_encoded = r(c.waits_encoded);
  s.residency_flushes = r(c.residency_flushes);
  s.graph_launches = r(c.graph_launches);
  s.graph_instantiations = r(c.graph_instantiations);
  s.graph_updates = r(c.graph_updates);
  s.live_command_buffers = r(c.live_command_buffers);
  s.live_fences = r(c.live_fences);
  s.live_allocations = r(c.live_allocations);
  s.pool_bytes_in_use = r(c.pool_bytes_in_use);
  s.pool_bytes_cached = r(c.pool_bytes_cached);
  s.live_graph_execs = r(c.live_graph_execs);
  return s;
}

void reset() {
  auto& c = detail::counters();
  for (auto* a : {&c.dispatches, &c.command_buffers, &c.commits, &c.syncs, &c.barriers_explicit,
                  &c.barriers_auto, &c.concurrent_dispatches, &c.dependencies, &c.fences_signalled,
                  &c.waits_encoded, &c.residency_flushes, &c.graph_launches,
                  &c.graph_instantiations, &c.graph_updates})
    a->store(0, std::memory_order_relaxed);
}

}  // namespace counters
}  // namespace stagefence
