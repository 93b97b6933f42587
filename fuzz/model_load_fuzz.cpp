// libFuzzer target: arbitrary bytes through GGUF parsing, the Llama configuration, the tensor
// layout and weight loading into a model on the CPU backend (model_load_target.hpp). Anything
// but a loaded model or a Format error traps.
#include <cstdint>
#include <cstdio>
#include <cstdlib>
#include <span>

#include "model_load_target.hpp"

namespace {

stagefence::Device& device() {
  static stagefence::Device dev = stagefence::Device::open({stagefence::BackendKind::Cpu});
  return dev;
}

}  // namespace

extern "C" int LLVMFuzzerInitialize(int*, char***) {
  setenv("STAGEFENCE_CPU_WORKERS", "1", 1);  // one worker: iterations stay fast and sequential
  return 0;
}

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  std::span<const std::byte> bytes(reinterpret_cast<const std::byte*>(data), size);
  try {
    stagefence::fuzzing::load_model_bytes(device(), bytes);
  } catch (const std::exception& e) {
    std::fprintf(stderr, "model_load_fuzz: %s\n", e.what());
    __builtin_trap();
  }
  return 0;
}
