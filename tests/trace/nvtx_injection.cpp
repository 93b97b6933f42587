#include "nvtx_injection.hpp"

#include <mutex>

#if defined(STAGEFENCE_WITH_CUDA) && __has_include(<nvtx3/nvToolsExt.h>)
// Declarations only: this file defines the injection symbol NVTX's loader looks for.
#define NVTX_NO_IMPL
#include <nvtx3/nvToolsExt.h>
#define SF_PROBE_NVTX 1
#endif

namespace nvtx_probe {
namespace {
std::mutex g_mu;
std::vector<std::string> g_pushed;
int g_depth = 0;
}  // namespace

#ifdef SF_PROBE_NVTX
bool available() {
  return true;
}
#else
bool available() {
  return false;
}
#endif

std::vector<std::string> pushed() {
  std::lock_guard<std::mutex> lock(g_mu);
  return g_pushed;
}

int depth() {
  std::lock_guard<std::mutex> lock(g_mu);
  return g_depth;
}

#ifdef SF_PROBE_NVTX
namespace {

int NVTX_API record_push(const char* message) {
  std::lock_guard<std::mutex> lock(g_mu);
  g_pushed.emplace_back(message ? message : "");
  return ++g_depth;
}

int NVTX_API record_pop() {
  std::lock_guard<std::mutex> lock(g_mu);
  return g_depth--;
}

}  // namespace

int NVTX_API initialize_injection(NvtxGetExportTableFunc_t get_export_table) {
  const auto* callbacks =
      static_cast<const NvtxExportTableCallbacks*>(get_export_table(NVTX_ETID_CALLBACKS));
  NvtxFunctionTable table = nullptr;
  unsigned int size = 0;
  if (!callbacks || !callbacks->GetModuleFunctionTable(NVTX_CB_MODULE_CORE, &table, &size))
    return 0;
  if (size <= NVTX_CBID_CORE_RangePop) return 0;
  *table[NVTX_CBID_CORE_RangePushA] = reinterpret_cast<NvtxFunctionPointer>(record_push);
  *table[NVTX_CBID_CORE_RangePop] = reinterpret_cast<NvtxFunctionPointer>(record_pop);
  return 1;
}
#endif

}  // namespace nvtx_probe

#ifdef SF_PROBE_NVTX
// NVTX's loader binds its weak symbol of this name here and calls it at the first NVTX call.
extern "C" {
NvtxInitializeInjectionNvtxFunc_t InitializeInjectionNvtx2_fnptr = nvtx_probe::initialize_injection;
}
#endif
