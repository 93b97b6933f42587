#!/usr/bin/env bash
# llama.cpp against stagefence on the very same GGUF files, on a GPU machine, in one run.
#
#   bench/peers/gpu_peer.sh STAGEFENCE_BIN OUT_DIR [deadline_s]
#
# Files (random weights written by llama.cpp's own gguf package, bench/peers/make_gguf.py,
# tokenizer "no_vocab" so both engines take token ids): Llama-3-8B shape in bf16 and, quantised by
# llama.cpp's llama-quantize, Q8_0, Q4_0 and Q4_K_M; SmolLM2-135M and Llama-3.2-1B shapes in bf16.
# llama.cpp: `llama-bench -ngl 99 -fa 1 -p 0 -n 128 -d 0,1024 -r 2`, built from the llama-cpp-python
# sdist's vendored source (bench/peers/fetch_llama_cpp.sh; carried in bench/peers/llama.cpp) with
# bench/peers/build_llama_cpp.sh cuda, unless prebuilt binaries are in bench/peers/bin/cuda.
# stagefence: the CLI a user runs, `stagefence generate --model F --tokens 128 --mode all --json`
# after a 1-token prompt (depth 0) or a 1024-token prompt (depth 1024); its best mode counts.
# Re-entrant: builds and files under $PEER_ROOT (default /root/peer) are reused on a warm machine.
# Writes $OUT_DIR/peers.json and prints the table last.
set -uo pipefail
here=$(cd "$(dirname "$0")" && pwd)
bin=${1:?stagefence binary}
out=${2:?output directory}
deadline=$(($(date +%s) + ${3:-480}))
root=${PEER_ROOT:-/root/peer}
mkdir -p "$out" "$root/models"
left() { echo $((deadline - $(date +%s))); }

# llama.cpp's tools: prebuilt, or built here (build_llama_cpp.sh waits for a build that an
# earlier call left running in the same directory) while the files are written. Both engines are
# timed only after the build, on a quiet machine.
tools=$here/bin/cuda
if [[ ! -x $tools/llama-bench ]]; then
  tools=$root/build/bin
  (JOBS=${PEER_JOBS:-$(nproc)} timeout "$(left)" bash "$here/build_llama_cpp.sh" cuda "$root/build" \
    >"$out/llama_build.log" 2>&1) &
  build_pid=$!
fi

timeout "$(left)" bash "$here/make_peer_files.sh" "$root" >>"$out/make_gguf.log" 2>&1 ||
  echo "writing the GGUF files failed: $(tail -2 "$out/make_gguf.log")"
if [[ -n ${build_pid:-} ]]; then
  wait "$build_pid" || echo "llama.cpp build failed: $(tail -3 "$out/llama_build.log")"
fi
quantize=$here/bin/tools/llama-quantize
[[ -x $quantize ]] || quantize=$tools/llama-quantize
m8=$root/models/llama3-8b-bf16.gguf

quantise() {  # type name
  local dst=$root/models/llama3-8b-$2.gguf
  [[ -s $dst ]] && return 0
  timeout "$(left)" "$quantize" "$m8" "$dst.tmp" "$1" "$(nproc)" >>"$out/quantize.log" 2>&1 &&
    mv -f "$dst.tmp" "$dst"
}
if [[ -x $quantize && -s $m8 ]]; then
  quantise Q8_0 q8_0
  quantise Q4_0 q4_0
  quantise Q4_K_M q4_k_m
else
  echo "no llama-quantize or no bf16 8B file: the quantised files are missing"
fi

files=(llama3-8b-bf16 llama3-8b-q8_0 llama3-8b-q4_0 llama3-8b-q4_k_m smollm2-135m-bf16
       llama3.2-1b-bf16)

# SF_READY names a file whose appearance says STAGEFENCE_BIN is built (a caller building it
# alongside, as scripts/gpu-peer-call.sh does).
if [[ -n ${SF_READY:-} ]]; then
  while [[ ! -e $SF_READY ]] && (($(left) > 0)); do sleep 2; done
fi

# Each file at depth 0 and 1024: stagefence through the CLI, then llama-bench.
ids1024=$(python3 -c 'print(",".join(str(1 + (i * 7919) % 30000) for i in range(1024)))')
for f in "${files[@]}"; do
  path=$root/models/$f.gguf
  [[ -s $path ]] || continue
  for depth in 0 1024; do
    ids=1
    [[ $depth == 1024 ]] && ids=$ids1024
    timeout 120 "$bin" generate --model "$path" --backend cuda --prompt-ids "$ids" --tokens 128 \
      --ignore-eos --mode all --context 2048 --json >"$out/sf-$f-d$depth.json" \
      2>"$out/sf-$f-d$depth.log" || echo "stagefence $f depth $depth failed: $(tail -1 "$out/sf-$f-d$depth.log")"
  done
done
if [[ -x $tools/llama-bench ]]; then
  for f in "${files[@]}"; do
    path=$root/models/$f.gguf
    [[ -s $path ]] || continue
    timeout 120 "$tools/llama-bench" -m "$path" -ngl 99 -fa 1 -p 0 -n 128 -d 0,1024 -r 2 -o json \
      >"$out/llama-$f.json" 2>"$out/llama-$f.log" || echo "llama-bench $f failed: $(tail -1 "$out/llama-$f.log")"
  done
fi

python3 "$here/peer_table.py" --dir "$out" --files "${files[@]}" --json "$out/peers.json"
