// A captured command stream: a portable graph of dispatches and barriers that replays into any
// command encoder on any backend, and dumps as text for debugging.
#pragma once
#include <cstdint>
#include <memory>
#include <mutex>
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
  std::vector<uint32_t> deps;  // indices of earlier dispatches this one waits for
};

struct CaptureNode {
  enum class Kind { Dispatch, Barrier } kind = Kind::Dispatch;
  CapturedDispatch dispatch;  // valid when kind == Dispatch
};

namespace detail {
struct CompiledReplay;  // src/core/capture_replay.hpp

// The compiled replay forms of one graph, one per device and recording flags, built on first
// replay. Thread-safe; a copy starts empty and compiles again.
class ReplayCache {
 public:
  using Form = std::shared_ptr<const CompiledReplay>;
  static constexpr size_t kMaxForms = 4;

  ReplayCache() = default;
  ReplayCache(const ReplayCache&) {}
  ReplayCache(ReplayCache&& other) noexcept : forms_(other.take()) {}
  ReplayCache& operator=(const ReplayCache&) {
    clear();
    return *this;
  }
  ReplayCache& operator=(ReplayCache&& other) noexcept {
    if (this != &other) {
      std::vector<Form> forms = other.take();
      std::lock_guard<std::mutex> lock(mu_);
      forms_.swap(forms);
    }
    return *this;
  }

  // The first form `usable` accepts, or nullptr.
  template <typename Pred>
  Form find(Pred usable) const {
    std::lock_guard<std::mutex> lock(mu_);
    for (const Form& f : forms_)
      if (usable(*f)) return f;
    return nullptr;
  }
  // Adds `form`, dropping the forms `replaces` accepts and, past kMaxForms, the oldest.
  template <typename Pred>
  void add(Form form, Pred replaces) const {
    std::lock_guard<std::mutex> lock(mu_);
    std::erase_if(forms_, [&](const Form& f) { return replaces(*f); });
    if (forms_.size() >= kMaxForms) forms_.erase(forms_.begin());
    forms_.push_back(std::move(form));
  }
  void clear() { take(); }

 private:
  std::vector<Form> take() {
    std::vector<Form> out;
    std::lock_guard<std::mutex> lock(mu_);
    out.swap(forms_);
    return out;
  }
  mutable std::mutex mu_;
  mutable std::vector<Form> forms_;
};
}  // namespace detail

class CaptureGraph {
 public:
  const std::vector<CaptureNode>& nodes() const { return nodes_; }
  // For editing the nodes. Drops the compiled replay forms, so later replays see the edits made
  // before them; take the reference again after a replay before editing further.
  std::vector<CaptureNode>& mutable_nodes() {
    replay_cache_.clear();
    return nodes_;
  }
  size_t dispatch_count() const;
  size_t barrier_count() const;
  // Unique per graph object; backends key caches on it.
  uint64_t id() const { return id_; }
  std::string to_text() const;
  // A copy whose bindings point into other buffers (e.g. on another device): every binding's
  // allocation must appear as the first buffer of a pair; offsets within it are kept.
  CaptureGraph rebind(const std::vector<std::pair<Buffer, Buffer>>& replacements) const;

  CaptureGraph();

  // Compiled forms for CommandEncoder::replay (internal).
  const detail::ReplayCache& replay_cache() const { return replay_cache_; }

 private:
  uint64_t id_;
  std::vector<CaptureNode> nodes_;
  detail::ReplayCache replay_cache_;
};

}  // namespace stagefence
