// Which instruction set the SIMD kernels run on: the best the CPU supports among those compiled,
// or the one STAGEFENCE_CPU_SIMD names (avx3, avx2, sse4, emu128; "auto" is the default).
#pragma once
#include <cstdint>
#include <string>
#include <vector>

namespace stagefence::kernels::cpu::simd {

// Highway target bits (HWY_AVX2, ...) compiled into the kernels that this CPU can run, best first.
std::vector<int64_t> runnable_targets();
// The lower-case name of one target bit ("avx2").
std::string target_name(int64_t target);
// Makes every later SIMD call run on `target` (one of runnable_targets()); for tests and the
// environment flag.
void use_target(int64_t target);
// The target the SIMD calls run on now, after applying STAGEFENCE_CPU_SIMD on first use; throws
// InvalidArgument naming the flag and the allowed values when it names no runnable target.
int64_t active_target();

}  // namespace stagefence::kernels::cpu::simd
