#include "collective/nccl_library.hpp"

#include <dlfcn.h>

#include <mutex>

#include "stagefence/env.hpp"

namespace stagefence::collective {

namespace {

struct Loaded {
  NcclLibrary lib;
  bool ok = false;
  std::string why_not;
};

template <typename Fn>
bool resolve(void* handle, const char* name, Fn& fn, std::string& why_not) {
  fn = reinterpret_cast<Fn>(dlsym(handle, name));
  if (!fn) why_not = "symbol " + std::string(name) + " is missing";
  return fn != nullptr;
}

Loaded load() {
  Loaded l;
  l.lib.path = env::nccl_library();
  void* handle = dlopen(l.lib.path.c_str(), RTLD_NOW | RTLD_LOCAL);
  if (!handle) {
    const char* e = dlerror();
    l.why_not = "cannot load NCCL (" + l.lib.path + "): " + (e ? e : "unknown error") +
                "; set STAGEFENCE_NCCL_LIBRARY to its path";
    return l;
  }
  NcclLibrary& n = l.lib;
  l.ok = resolve(handle, "ncclGetVersion", n.get_version, l.why_not) &&
         resolve(handle, "ncclCommInitAll", n.comm_init_all, l.why_not) &&
         resolve(handle, "ncclCommDestroy", n.comm_destroy, l.why_not) &&
         resolve(handle, "ncclGetErrorString", n.get_error_string, l.why_not) &&
         resolve(handle, "ncclAllReduce", n.all_reduce, l.why_not) &&
         resolve(handle, "ncclAllGather", n.all_gather, l.why_not);
  if (l.ok && n.get_version(&n.version) != NcclLibrary::kSuccess) {
    l.ok = false;
    l.why_not = "ncclGetVersion failed";
  }
  if (!l.ok) l.why_not = l.lib.path + ": " + l.why_not;
  return l;  // the handle stays open for the life of the process
}

}  // namespace

const NcclLibrary* NcclLibrary::get(std::string* why_not) {
  static const Loaded loaded = load();
  if (!loaded.ok && why_not) *why_not = loaded.why_not;
  return loaded.ok ? &loaded.lib : nullptr;
}

std::string NcclLibrary::describe(const char* call, int result) const {
  const char* text = get_error_string ? get_error_string(result) : nullptr;
  return std::string(call) + ": " + (text ? text : "error") + " (" + std::to_string(result) + ")";
}

std::string NcclLibrary::version_text() const {
  // NCCL >= 2.9 encodes major * 10000 + minor * 100 + patch.
  return std::to_string(version / 10000) + "." + std::to_string(version / 100 % 100) + "." +
         std::to_string(version % 100);
}

}  // namespace stagefence::collective
