// The backends a device can open, by slot and name: the built-in CPU and CUDA backends and any
// registered at run time (a new backend's folder, a test's variant). parse_backend(), the
// choice of "auto" and Device::open all read this table, so adding a backend edits none of them.
#pragma once
#include <functional>
#include <memory>
#include <optional>
#include <string>
#include <vector>

#include "core/backend.hpp"
#include "stagefence/device.hpp"

namespace stagefence {

struct BackendEntry {
  std::string name;   // what --backend and STAGEFENCE_BACKEND take ("cpu", "cuda")
  std::string title;  // in messages ("CPU", "CUDA")
  BackendKind kind = BackendKind::Cpu;
  // Opens the backend; returns nullptr and sets *why_not when this machine or build cannot.
  std::function<std::shared_ptr<Backend>(const DeviceOptions&, std::string* why_not)> open;
  // "auto" tries the backends of rank >= 0, highest first; -1: opened only when named.
  int auto_rank = -1;
};

// Adds a backend. Throws InvalidArgument when its name or slot is taken, the slot is past
// kMaxBackends, or it has no open function.
void register_backend(BackendEntry entry);
// Every registered backend, in slot order.
std::vector<BackendEntry> registered_backends();
std::optional<BackendEntry> find_backend(BackendKind kind);

// The backend DeviceOptions asks for (or STAGEFENCE_BACKEND, or auto), opened; `reason` says why
// it was chosen. A named backend that cannot open throws Unsupported with its reason.
std::shared_ptr<Backend> open_backend(const DeviceOptions& options, std::string* reason);

}  // namespace stagefence
