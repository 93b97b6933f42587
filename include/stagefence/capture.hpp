// A captured command stream: a portable graph of dispatches and barriers that replays into any
// command encoder on any backend, and dumps as text for debugging.
#pragma once
#include <cstdint>
#include <memory>
#include <optional>
#include <string>
#include <vector>

#include "stagefence/buffer.hpp"
#include "stagefence/kernel.hpp"

namespace stagefence {

struct CapturedDispatch {
  KernelId kernel = 0;
  std::optional<Launch> launch;  // empty: the backend's launch rule decides
  std::vector<uint64_t> scalars;
  std::vector<Binding> bindings;
  std::vector<uint32_t> deps;    // indices of earlier dispatches this one waits for
};

struct CaptureNode {
  enum class Kind { Dispatch, Barrier } kind = Kind::Dispatch;
  CapturedDispatch dispatch;  // valid when kind == Dispatch
};

class CaptureGraph {
 public:
  const std::vector<CaptureNode>& nodes() const { return nodes_; }
  std::vector<CaptureNode>& mutable_nodes() { return nodes_; }
  size_t dispatch_count() const;
  size_t barrier_count() const;
  // Unique per graph object; backends key caches on it.
  uint64_t id() const { return id_; }
  std::string to_text() const;
  // A copy whose bindings point into other buffers (e.g. on another device): every binding's
  // allocation must appear as the first buffer of a pair; offsets within it are kept.
  CaptureGraph rebind(const std::vector<std::pair<Buffer, Buffer>>& replacements) const;

  CaptureGraph();

 private:
  uint64_t id_;
  std::vector<CaptureNode> nodes_;
};

}  // namespace stagefence
