#!/usr/bin/env bash
# Runs the CUDA cases of the contract tests and the model's CUDA tests under compute-sanitizer
# (memcheck, then racecheck on the kernel-heavy model tests). Expects build-gpu/ from gpu-check.sh.
# Usage: scripts/gpu-sanitize.sh [log-dir]
set -uo pipefail
cd "$(dirname "$0")/.."
out=${1:-gpu-out}
mkdir -p "$out"
cs=$(command -v compute-sanitizer || echo /usr/local/cuda/bin/compute-sanitizer)
status=0
run() {
  local name=$1
  shift
  echo "== $name"
  if timeout "${SANITIZE_EACH_S:-240}" "$cs" --error-exitcode 9 "$@" >"$out/sanitize-$name.log" 2>&1; then
    echo "   clean: $(grep -E 'ERROR SUMMARY' "$out/sanitize-$name.log" | tail -1)"
  else
    status=1
    echo "   FAILED (see $out/sanitize-$name.log):"
    grep -E "ERROR SUMMARY|Invalid|Race|FAILED" "$out/sanitize-$name.log" | head -5
  fi
}
# Fault-injection tests are excluded: they fault on purpose.
run memcheck-core --tool memcheck build-gpu/tests/sf_core_tests \
  --gtest_filter='*/cuda:-*StageMarks.FailingKernelNamesItsStage*'
run memcheck-model --tool memcheck build-gpu/tests/sf_model_tests \
  --gtest_filter='LlamaBuiltinModel.*:*LlamaReferenceTest*Cuda*'
run memcheck-kernels --tool memcheck build-gpu/tests/sf_kernels_tests \
  --gtest_filter='*BackendOps*/cuda:*DecodeFused*'
run racecheck-model --tool racecheck build-gpu/tests/sf_model_tests \
  --gtest_filter='*LlamaReferenceTest*Cuda_llama_gqa*'
exit $status
