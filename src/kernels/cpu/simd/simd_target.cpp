#include "kernels/cpu/simd/simd_target.hpp"

#include <hwy/targets.h>

#include <atomic>
#include <cctype>
#include <cstdint>
#include <cstdlib>
#include <string>

#include "stagefence/env.hpp"
#include "stagefence/error.hpp"

namespace stagefence::kernels::cpu::simd {
namespace {

// The targets the SIMD files are compiled for (CMake disables the others).
constexpr int64_t kCompiled = HWY_TARGETS;

std::atomic<int64_t> g_active{0};

void set_target(int64_t target) {
  hwy::GetChosenTarget().Update(target);
  g_active = target;
}

int64_t apply_environment() {
  const std::string v = env::read_string("STAGEFENCE_CPU_SIMD", "auto");  // empty: unset
  const std::vector<int64_t> runnable = runnable_targets();
  if (v == "auto") {
    set_target(runnable.front());
    return runnable.front();
  }
  std::string allowed = "auto";
  for (int64_t t : runnable) {
    if (target_name(t) == v) {
      set_target(t);
      return t;
    }
    allowed += ", " + target_name(t);
  }
  raise(
      ErrorCode::InvalidArgument,
      "STAGEFENCE_CPU_SIMD=" + v + " names no instruction set this CPU runs; allowed: " + allowed);
}

}  // namespace

std::vector<int64_t> runnable_targets() {
  std::vector<int64_t> out;
  const int64_t mask = hwy::SupportedTargets() & kCompiled;
  for (int64_t bit = 1; bit != 0 && bit <= mask; bit <<= 1)
    if (mask & bit) out.push_back(bit);  // lower bits are the better targets
  return out;
}

std::string target_name(int64_t target) {
  std::string name = hwy::TargetName(target);
  for (char& c : name) c = char(std::tolower(static_cast<unsigned char>(c)));
  return name;
}

void use_target(int64_t target) {
  active_target();  // the environment's choice first, so it never overrides this one later
  set_target(target);
}

int64_t active_target() {
  static const int64_t from_env = apply_environment();
  (void)from_env;
  return g_active;
}

}  // namespace stagefence::kernels::cpu::simd
