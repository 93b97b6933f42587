// Process-wide trace recorder that writes the Chrome trace event format (JSON that opens in
// Perfetto and chrome://tracing): what each queue ran, when, and what the host spent encoding.
//
// Tracks: process 1 ("stagefence device") has one thread track per queue (tid = queue id, named
// by the queue) holding one span per command buffer (named by its label) and the fence wait and
// signal markers, plus dispatch lanes per queue when per-dispatch profiling is on. Process 2
// ("stagefence host") has one track per encoding thread holding encode spans (buffer opened to
// committed). Times are microseconds on the host's steady clock, relative to start().
#pragma once
#include <cstddef>
#include <string>

namespace stagefence::trace {

// Starts recording into memory. Throws State if a recording is already running.
void start();
// Starts recording and writes the trace to `path` at stop(). The file is created (truncated)
// now, so an unwritable path throws Io here rather than after the run.
void start(const std::string& path);

// True between start() and stop().
bool active();

// Stops recording and returns the trace as JSON; writes it to the path given to start(), if any
// (Io on failure). Only buffers that completed before stop() appear: drain the queues first
// (Device::synchronize). Throws State if nothing is recording.
std::string stop();

// Events recorded so far (spans and markers, not the naming metadata).
size_t event_count();

// Records from construction to destruction when `path` is not empty; for a CLI's --trace flag.
class Scope {
 public:
  explicit Scope(const std::string& path);
  ~Scope();  // stops and writes; a write failure is printed to stderr, never thrown
  Scope(const Scope&) = delete;
  Scope& operator=(const Scope&) = delete;

 private:
  bool owns_ = false;
};

}  // namespace stagefence::trace
