#!/usr/bin/env bash
# Focused GPU iteration: build, then run the named ctest regex and the kernel harness.
# Usage: OUT=dir scripts/gpu-focus.sh 'ctest-regex'
set -uo pipefail
cd "$(dirname "$0")/.."
out=${OUT:-./gpu-out}
mkdir -p "$out"
cmake -S . -B build-gpu -G Ninja -DCMAKE_BUILD_TYPE=Release -DSTAGEFENCE_CUDA=ON >"$out/configure.log" 2>&1
ninja -C build-gpu -j "$(nproc)" >"$out/build.log" 2>&1 || { tail -30 "$out/build.log"; exit 1; }
timeout 300 ctest --test-dir build-gpu --output-on-failure -j 8 --timeout 60 -R "$1" >"$out/ctest.log" 2>&1
grep -E "tests passed|Failed|Timeout|\*\*\*" "$out/ctest.log" | head -40
