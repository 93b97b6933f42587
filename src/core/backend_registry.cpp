#include "core/backend_registry.hpp"

#include <algorithm>
#include <array>
#include <mutex>
#include <string>

#include "stagefence/backend_kind.hpp"
#include "stagefence/env.hpp"
#include "stagefence/error.hpp"

namespace stagefence {
namespace {

struct Table {
  std::mutex mu;
  std::array<std::optional<BackendEntry>, kMaxBackends> slots;
  std::string choices = "auto";  // for help texts, rebuilt on every registration
};

void add(Table& t, BackendEntry e) {
  const int slot = static_cast<int>(e.kind);
  if (slot >= kMaxBackends)
    raise(ErrorCode::InvalidArgument, "backend '" + e.name + "': slot " + std::to_string(slot) +
                                          " is past " + std::to_string(kMaxBackends));
  if (e.name.empty() || e.name == "auto" || !e.open)
    raise(ErrorCode::InvalidArgument,
          "backend '" + e.name + "' needs a name other than auto and an open function");
  for (const auto& s : t.slots)
    if (s && (s->name == e.name || s->kind == e.kind))
      raise(ErrorCode::InvalidArgument, "backend '" + e.name + "' (slot " + std::to_string(slot) +
                                            ") clashes with the registered '" + s->name + "'");
  t.slots[size_t(slot)] = std::move(e);
  std::vector<std::string> names;
  for (const auto& s : t.slots)
    if (s) names.push_back(s->name);
  t.choices = "auto";
  for (size_t i = 0; i < names.size(); ++i)
    t.choices += (i + 1 == names.size() ? " or " : ", ") + names[i];
}

std::shared_ptr<Backend> open_cuda(const DeviceOptions& options, std::string* why_not) {
#ifdef STAGEFENCE_WITH_CUDA
  return make_cuda_backend(options.cuda_ordinal, why_not);
#else
  (void)options;
  *why_not = "this build of stagefence has no CUDA backend";
  return nullptr;
#endif
}

// The built-in backends; "auto" prefers a GPU.
Table& table() {
  static Table* t = [] {
    auto* made = new Table();  // never destroyed: devices may open during static teardown
    add(*made, {"cpu", "CPU", BackendKind::Cpu,
                [](const DeviceOptions&, std::string*) { return make_cpu_backend(); }, 0});
    add(*made, {"cuda", "CUDA", BackendKind::Cuda, open_cuda, 10});
    return made;
  }();
  return *t;
}

}  // namespace

void register_backend(BackendEntry entry) {
  Table& t = table();
  std::lock_guard<std::mutex> lock(t.mu);
  add(t, std::move(entry));
}

std::vector<BackendEntry> registered_backends() {
  Table& t = table();
  std::lock_guard<std::mutex> lock(t.mu);
  std::vector<BackendEntry> out;
  for (const auto& s : t.slots)
    if (s) out.push_back(*s);
  return out;
}

std::optional<BackendEntry> find_backend(BackendKind kind) {
  if (static_cast<int>(kind) >= kMaxBackends) return std::nullopt;
  Table& t = table();
  std::lock_guard<std::mutex> lock(t.mu);
  return t.slots[static_cast<size_t>(kind)];
}

const char* backend_name(BackendKind k) {
  static const char* const kUnnamed[kMaxBackends] = {"backend 0", "backend 1", "backend 2",
                                                     "backend 3", "backend 4", "backend 5",
                                                     "backend 6", "backend 7"};
  if (static_cast<int>(k) >= kMaxBackends) return "backend ?";
  Table& t = table();
  std::lock_guard<std::mutex> lock(t.mu);
  const auto& s = t.slots[static_cast<size_t>(k)];
  // Entries are never removed, so the name's storage lives as long as the table.
  return s ? s->name.c_str() : kUnnamed[static_cast<size_t>(k)];
}

std::optional<BackendKind> parse_backend(std::string_view text, std::string_view what) {
  if (text == "auto") return std::nullopt;
  for (const BackendEntry& e : registered_backends())
    if (text == e.name) return e.kind;
  raise(ErrorCode::InvalidArgument,
        std::string(what) + " '" + std::string(text) + "': expected " + backend_choices());
}

const char* backend_choices() {
  Table& t = table();
  std::lock_guard<std::mutex> lock(t.mu);
  return t.choices.c_str();
}

std::shared_ptr<Backend> open_backend(const DeviceOptions& options, std::string* reason) {
  std::optional<BackendKind> wanted = options.backend;
  if (!wanted) {
    const std::string b = env::backend();
    wanted = parse_backend(b, "STAGEFENCE_BACKEND");
    if (wanted) *reason = "STAGEFENCE_BACKEND=" + b;
  } else {
    *reason = std::string("requested ") + backend_name(*wanted);
  }
  if (wanted) {
    const std::optional<BackendEntry> e = find_backend(*wanted);
    if (!e)
      raise(ErrorCode::InvalidArgument, std::string("no backend is registered in slot ") +
                                            std::to_string(static_cast<int>(*wanted)));
    std::string why_not;
    if (auto b = e->open(options, &why_not)) return b;
    raise(ErrorCode::Unsupported, e->title + " backend unavailable: " + why_not);
  }
  std::vector<BackendEntry> order = registered_backends();
  order.erase(std::remove_if(order.begin(), order.end(),
                             [](const BackendEntry& e) { return e.auto_rank < 0; }),
              order.end());
  std::stable_sort(order.begin(), order.end(), [](const BackendEntry& a, const BackendEntry& b) {
    return a.auto_rank > b.auto_rank;
  });
  std::string passed;  // why the preferred ones could not open
  for (const BackendEntry& e : order) {
    std::string why_not;
    if (auto b = e.open(options, &why_not)) {
      *reason =
          passed.empty() ? "auto: the " + e.title + " backend is available" : "auto: " + passed;
      return b;
    }
    passed +=
        (passed.empty() ? "" : "; ") + ("no usable " + e.title + " backend (" + why_not + ")");
  }
  raise(ErrorCode::Unsupported, "no backend could open: " + passed);
}

}  // namespace stagefence
