#!/usr/bin/env bash
# Reproduces the F32-weights prefill hang on a GPU machine (issue: nothing hangs): a tiny Llama
# GGUF in f32 and f16 written by the gguf package, an 8-token prompt, every variant under a
# 20 s timeout; a hung run gets an all-threads backtrace from cuda-gdb before it is killed.
#   gpu-f32-repro.sh [stagefence binary] [out dir]
set -uo pipefail
cd "$(dirname "$0")/.."
bin=${1:-build-gpu/app/stagefence}
out=${2:-gpu-out/repro}
mkdir -p "$out"
dir=$(mktemp -d)
for dt in f32 f16; do
  python3 bench/peers/make_gguf.py --shape tiny --dtype "$dt" --out "$dir/tiny-$dt.gguf" || exit 1
done
ids=1,17,42,99,7,300,5,64
run() {  # name, env..., -- args...
  local name=$1
  shift
  local envs=()
  while [[ $1 != -- ]]; do envs+=("$1"); shift; done
  shift
  local t0=$(date +%s.%N)
  env "${envs[@]}" "$bin" "$@" >"$out/repro-$name.log" 2>&1 &
  local pid=$!
  for _ in $(seq 1 40); do kill -0 $pid 2>/dev/null || break; sleep 0.5; done
  if kill -0 $pid 2>/dev/null; then
    timeout 60 cuda-gdb -p $pid -batch -ex "info threads" -ex "thread apply all bt 25" \
      >"$out/repro-$name.bt" 2>&1
    kill -9 $pid 2>/dev/null
    wait $pid 2>/dev/null
    printf "%-34s HUNG (backtrace in repro-%s.bt)\n" "$name" "$name"
  else
    wait $pid
    local rc=$?
    printf "%-34s rc=%d %ss\n" "$name" $rc "$(awk "BEGIN{printf \"%.1f\", $(date +%s.%N) - $t0}")"
  fi
}
for dt in f16 f32; do
  m="$dir/tiny-$dt.gguf"
  run "$dt-8tok" STAGEFENCE_X=1 -- --model "$m" --prompt-ids $ids --tokens 4 --backend ${BACKEND:-cuda}
done
m="$dir/tiny-f32.gguf"
run f32-4tok STAGEFENCE_X=1 -- --model "$m" --prompt-ids 1,17,42,99 --tokens 4 --backend ${BACKEND:-cuda}
run f32-8tok-nographs STAGEFENCE_CUDA_GRAPHS=0 -- --model "$m" --prompt-ids $ids --tokens 4 --backend ${BACKEND:-cuda}
run f32-8tok-chunk4 STAGEFENCE_X=1 -- --model "$m" --prompt-ids $ids --tokens 4 --backend ${BACKEND:-cuda} --prefill-chunk 4
run f32-8tok-blocking STAGEFENCE_X=1 -- --model "$m" --prompt-ids $ids --tokens 4 --backend ${BACKEND:-cuda} --mode blocking
run f32-8tok-lazy CUDA_MODULE_LOADING=LAZY -- --model "$m" --prompt-ids $ids --tokens 4 --backend ${BACKEND:-cuda}
run f32-8tok-memop STAGEFENCE_FENCE_KIND=memop -- --model "$m" --prompt-ids $ids --tokens 4 --backend ${BACKEND:-cuda}
rm -rf "$dir"
