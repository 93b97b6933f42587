#!/usr/bin/env bash
# Builds llama-bench and llama-quantize from bench/peers/llama.cpp (fetch_llama_cpp.sh).
#   build_llama_cpp.sh cuda BUILD_DIR    CUDA backend, sm_90, static libraries
#   build_llama_cpp.sh cpu  BUILD_DIR    CPU only, -DGGML_NATIVE=ON (this machine's instruction sets)
#   build_llama_cpp.sh tools BUILD_DIR   CPU only, portable x86-64 (AVX2): llama-quantize for another
#                                        machine (the GPU machine quantises with it)
# Re-entrant: an existing build directory is reused (ninja rebuilds nothing when nothing changed).
set -euo pipefail
here=$(cd "$(dirname "$0")" && pwd)
kind=${1:?cuda or cpu}
dir=${2:?build directory}
jobs=${JOBS:-$(nproc)}
src=$here/llama.cpp
mkdir -p "$(dirname "$dir")"
# One build of a directory at a time: a second caller (gpu_peer.sh while gpu-dev.sh's peerprep
# still builds) waits for the first, then finds its tools.
exec 9>"$dir.lock"
flock 9
[[ -f $src/CMakeLists.txt ]] || { echo "no llama.cpp source: run bench/peers/fetch_llama_cpp.sh" >&2; exit 1; }
common=(-G Ninja -DCMAKE_BUILD_TYPE=Release -DBUILD_SHARED_LIBS=OFF -DLLAMA_CURL=OFF
  -DLLAMA_OPENSSL=OFF -DLLAMA_BUILD_TESTS=OFF -DLLAMA_BUILD_EXAMPLES=OFF -DLLAMA_BUILD_SERVER=OFF
  -DLLAMA_BUILD_APP=OFF -DLLAMA_BUILD_TOOLS=ON -DLLAMA_BUILD_COMMON=ON)
case $kind in
  cuda)
    nvcc=$(command -v nvcc || echo /usr/local/cuda/bin/nvcc)
    cmake -S "$src" -B "$dir" "${common[@]}" -DGGML_CUDA=ON -DGGML_NATIVE=OFF \
      -DCMAKE_CUDA_COMPILER="$nvcc" -DCMAKE_CUDA_ARCHITECTURES=90 >"$dir.configure.log" 2>&1 ||
      { cat "$dir.configure.log"; exit 1; } ;;
  cpu)
    cmake -S "$src" -B "$dir" "${common[@]}" -DGGML_CUDA=OFF -DGGML_NATIVE=ON \
      >"$dir.configure.log" 2>&1 || { cat "$dir.configure.log"; exit 1; } ;;
  tools)
    cmake -S "$src" -B "$dir" "${common[@]}" -DGGML_CUDA=OFF -DGGML_NATIVE=OFF \
      >"$dir.configure.log" 2>&1 || { cat "$dir.configure.log"; exit 1; } ;;
  *) echo "kind must be cuda, cpu or tools" >&2; exit 2 ;;
esac
ninja -C "$dir" -j "$jobs" llama-bench llama-quantize
ls -la "$dir/bin/llama-bench" "$dir/bin/llama-quantize"
