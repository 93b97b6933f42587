#!/usr/bin/env bash
# On the GPU machine: builds llama.cpp's CUDA llama-bench and llama-quantize (build_llama_cpp.sh)
# and packs them into $OUT in parts the device tool can bring back (16 MiB per file). Unpack them
# on the development machine with `bench/peers/unpack_prebuilt.sh DIR`; then they travel in
# bench/peers/bin/cuda and gpu_peer.sh skips the build.
#   device_prebuild.sh OUT_DIR
set -euo pipefail
here=$(cd "$(dirname "$0")" && pwd)
out=${1:?output directory}
dir=${PEER_ROOT:-/root/peer}/build
bash "$here/build_llama_cpp.sh" cuda "$dir"
tar cf - -C "$dir/bin" llama-bench llama-quantize | xz -T0 -6 | split -b 15m - "$out/llama-cuda.tar.xz.part-"
ls -la "$out"/llama-cuda.tar.xz.part-*
