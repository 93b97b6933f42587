#include "stagefence/capture.hpp"

#include <atomic>
#include <cstdint>
#include <sstream>

#include "stagefence/error.hpp"

namespace stagefence {

namespace {
std::atomic<uint64_t> g_next_graph_id{1};
}

CaptureGraph::CaptureGraph() : id_(g_next_graph_id.fetch_add(1, std::memory_order_relaxed)) {}

size_t CaptureGraph::dispatch_count() const {
  size_t n = 0;
  for (const auto& node : nodes_) n += node.kind == CaptureNode::Kind::Dispatch;
  return n;
}

size_t CaptureGraph::barrier_count() const {
  return nodes_.size() - dispatch_count();
}

std::string CaptureGraph::to_text() const {
  std::ostringstream os;
  os << "graph " << id_ << ": " << dispatch_count() << " dispatches, " << barrier_count()
     << " barriers\n";
  size_t index = 0;
  for (const auto& node : nodes_) {
    if (node.kind == CaptureNode::Kind::Barrier) {
      os << "  barrier\n";
      continue;
    }
    const CapturedDispatch& d = node.dispatch;
    os << "  [" << index++ << "] " << KernelRegistry::global().def(d.kernel).name;
    if (d.launch)
      os << " grid=" << d.launch->grid.x << 'x' << d.launch->grid.y << 'x' << d.launch->grid.z
         << " block=" << d.launch->block.x << 'x' << d.launch->block.y << 'x' << d.launch->block.z
         << " smem=" << d.launch->shared_bytes;
    os << " scalars=[";
    for (size_t i = 0; i < d.scalars.size(); ++i) os << (i ? "," : "") << d.scalars[i];
    os << "] bindings=[";
    for (size_t i = 0; i < d.bindings.size(); ++i) {
      const Binding& b = d.bindings[i];
      const uint64_t len = b.length == kWholeRange ? b.buffer.size() - b.offset : b.length;
      os << (i ? " " : "") << access_name(b.access) << ":alloc" << b.buffer.allocation_id() << '@'
         << b.buffer.offset() + b.offset << '+' << len;
    }
    os << "] deps=[";
    for (size_t i = 0; i < d.deps.size(); ++i) os << (i ? "," : "") << d.deps[i];
    os << "]\n";
  }
  return os.str();
}

CaptureGraph CaptureGraph::rebind(
    const std::vector<std::pair<Buffer, Buffer>>& replacements) const {
  CaptureGraph out;
  out.nodes_ = nodes_;
  for (auto& node : out.nodes_) {
    for (Binding& b : node.dispatch.bindings) {
      const Buffer* target = nullptr;
      uint64_t base = 0;
      for (const auto& [from, to] : replacements) {
        if (from.allocation_id() == b.buffer.allocation_id()) {
          target = &to;
          base = from.offset();
          break;
        }
      }
      if (!target)
        raise(ErrorCode::InvalidArgument,
              "rebind: no replacement for allocation " + std::to_string(b.buffer.allocation_id()));
      const uint64_t rel = b.buffer.offset() - base;
      Buffer moved = target->view(rel, b.buffer.size());
      b.buffer = b.buffer.dtype() == DType::U8 && b.buffer.shape().empty()
                     ? moved
                     : moved.as(b.buffer.dtype(), b.buffer.shape());
    }
  }
  return out;
}

}  // namespace stagefence
