#!/usr/bin/env bash
# The llama.cpp side by side in device calls of at most 10 minutes: the first call starts
# bench/peers/gpu_peer.sh in its own process session (it outlives the call: llama.cpp's build,
# the GGUF files, then both engines), builds stagefence meanwhile and waits; a later call on the
# warm machine waits for the same run. Either call copies the results to $OUT once it is done.
#   gpu-peer-call.sh [wait_s=560]
set -uo pipefail
cd "$(dirname "$0")/.."
wait_s=${1:-560}
start=$(date +%s)
root=/root/peer
mkdir -p "$root"
. scripts/device-deps.sh
if [[ ! -e $root/started ]]; then
  touch "$root/started"
  rm -f "$root/done" "$root/sf.ready"
  SF_READY=$root/sf.ready setsid bash -c "timeout 1150 bash bench/peers/gpu_peer.sh \
    build-gpu/app/stagefence $root/out 1120 >$root/out.txt 2>&1; touch $root/done" </dev/null \
    >/dev/null 2>&1 &
  cmake -S . -B build-gpu -G Ninja -DCMAKE_BUILD_TYPE=Release -DSTAGEFENCE_CUDA=ON >"$root/sf_build.log" 2>&1 &&
    timeout 400 ninja -C build-gpu -j 8 app/stagefence >>"$root/sf_build.log" 2>&1 &&
    touch "$root/sf.ready" || { echo "stagefence build failed"; tail -20 "$root/sf_build.log"; }
fi
while [[ ! -e $root/done ]] && (($(date +%s) - start < wait_s)); do sleep 5; done
if [[ -e $root/done ]]; then
  nvidia-smi --query-gpu=name,driver_version --format=csv >"$root/out/gpu.txt" 2>&1
  tar czf "${OUT:-/tmp}/peer.tgz" -C "$root" out out.txt sf_build.log $(cd "$root" && ls *.log 2>/dev/null)
  cat "$root/out.txt"
else
  echo "still running after $((($(date +%s) - start))) s: call again on the warm machine"
  tail -3 "$root/out.txt"; ls -la "$root/models" 2>/dev/null | tail -8
fi
