#!/usr/bin/env bash
# One command for the GPU machine: builds Release with CUDA into build-gpu/, runs every test
# (GPU tests included), bench/runtime_costs, and whichever of bench/cuda_kernels and
# bench/decode exist. Logs and JSON go under ./gpu-out; when $OUT is set (the device tool, which
# brings back at most 8 files) they are also packed into $OUT/gpu-check.tgz beside summary.txt.
# Keeps going when a part fails, prints a summary table last, exits non-zero if any part failed.
# Whole run: under 9 minutes.
set -uo pipefail
cd "$(dirname "$0")/.."
root=$(pwd)
out=$root/gpu-out
rm -rf "$out"
mkdir -p "$out"
jobs=$(nproc)
start=$(date +%s)
deadline=$((start + 560))  # seconds; leaves margin under 9 minutes

names=()
results=()
seconds=()
failed=0

remaining() { echo $((deadline - $(date +%s))); }

# step NAME BUDGET_S LOGFILE CMD...: runs CMD under the smaller of its budget and the time left.
step() {
  local name=$1 budget=$2 log=$3
  shift 3
  local left
  left=$(remaining)
  ((budget > left)) && budget=$left
  local t0
  t0=$(date +%s)
  local status
  if ((budget < 10)); then
    echo "skipped: no time left" >"$log"
    status="SKIP (time)"
    failed=1
  else
    echo "== $name (budget ${budget}s) -> $log"
    timeout --kill-after=10 "$budget" "$@" >"$log" 2>&1
    local rc=$?
    if ((rc == 0)); then
      status="ok"
    elif ((rc == 124 || rc == 137)); then
      status="TIMEOUT"
      failed=1
    else
      status="FAIL ($rc)"
      failed=1
    fi
  fi
  names+=("$name")
  results+=("$status")
  seconds+=($(($(date +%s) - t0)))
  tail -n 3 "$log" | sed 's/^/   /'
}

nvidia-smi >"$out/nvidia-smi.txt" 2>&1 || true

step "configure" 60 "$out/configure.log" \
  cmake -S . -B build-gpu -G Ninja -DCMAKE_BUILD_TYPE=Release -DSTAGEFENCE_CUDA=ON
step "build" 240 "$out/build.log" ninja -C build-gpu -j "$jobs"

# The kernel harness builds on the CPU while the tests use the GPU.
kernels_pid=""
if [[ -f bench/cuda_kernels/CMakeLists.txt ]]; then
  (cmake -S bench/cuda_kernels -B build-gpu/cuda_kernels -G Ninja -DCMAKE_BUILD_TYPE=Release &&
    ninja -C build-gpu/cuda_kernels -j "$jobs") >"$out/cuda_kernels.build.log" 2>&1 &
  kernels_pid=$!
fi

# Each test in its own process (CUDA faults end a process's context); parallel processes
# share the GPU.
step "ctest" 240 "$out/ctest.log" \
  ctest --test-dir build-gpu --output-on-failure -j 8 --timeout 120

step "runtime_costs" 90 "$out/runtime_costs.log" \
  build-gpu/bench/runtime_costs/runtime_costs --json "$out/runtime_costs.json"

if [[ -n "$kernels_pid" ]]; then
  step "cuda_kernels build" 120 "$out/cuda_kernels.wait.log" \
    bash -c "while kill -0 $kernels_pid 2>/dev/null; do sleep 1; done; wait $kernels_pid 2>/dev/null; \
             tail -n 20 '$out/cuda_kernels.build.log'; test -x build-gpu/cuda_kernels/cuda_kernels_check"
  step "cuda_kernels" 90 "$out/cuda_kernels.log" \
    build-gpu/cuda_kernels/cuda_kernels_check --json "$out/cuda_kernels.json"
fi

if [[ -d bench/decode ]]; then
  decode_bin=build-gpu/bench/decode/stagefence_decode_bench
  if [[ -x "$decode_bin" ]]; then
    step "decode" 150 "$out/decode.log" "$decode_bin" --json "$out/decode.json"
    if python3 -c "import torch" 2>/dev/null; then
      step "torch_decode" 150 "$out/torch_decode.log" \
        python3 bench/torch_decode.py --bench-json "$out/decode.json" --json "$out/torch_decode.json"
    fi
    torch_json=()
    [[ -f "$out/torch_decode.json" ]] && torch_json=("$out/torch_decode.json")
    step "compare_decode" 30 "$out/compare_decode.log" \
      python3 bench/compare_decode.py "$out/decode.json" "${torch_json[@]}"
  else
    names+=("decode")
    results+=("FAIL (no $decode_bin)")
    seconds+=(0)
    failed=1
  fi
fi

# compute-sanitizer over the CUDA tests (about 2.5 minutes): GPU_CHECK_SANITIZE=1 turns it on.
if [[ "${GPU_CHECK_SANITIZE:-0}" == 1 ]]; then
  step "compute-sanitizer" 240 "$out/sanitize.log" bash scripts/gpu-sanitize.sh "$out"
fi

{
  echo
  echo "decode comparison:"
  sed -n '/^dtype/,$p' "$out/compare_decode.log" 2>/dev/null
  echo
  echo "runtime_costs table:"
  sed -n '/^figure/,$p' "$out/runtime_costs.log" 2>/dev/null
  echo
  grep -E "tests passed|tests failed" "$out/ctest.log" 2>/dev/null
  grep -E "^\s+[0-9]+ - .*\((Failed|Timeout|SEGFAULT|Subprocess aborted)\)" "$out/ctest.log" 2>/dev/null | head -n 30
  echo
  printf "%-22s %-40s %8s\n" "part" "result" "seconds"
  for i in "${!names[@]}"; do
    printf "%-22s %-40s %8s\n" "${names[$i]}" "${results[$i]}" "${seconds[$i]}"
  done
  echo "total $(($(date +%s) - start)) s; logs and JSON in $out"
} | tee "$out/summary.txt"
if [[ -n "${OUT:-}" ]]; then
  tar czf "$OUT/gpu-check.tgz" -C "$out" .
  cp "$out/summary.txt" "$OUT/summary.txt"
fi
exit $failed
