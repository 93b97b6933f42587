#!/usr/bin/env bash
# A development round on a GPU machine (one device call): build build-gpu, the CUDA-facing tests,
# the decode-kernel bench and the decode bench (PDL on and off), each under its own timeout;
# logs under gpu-out/, packed into $OUT/gpu-dev.tgz when $OUT is set; a summary last.
#   gpu-dev.sh [ctest regex]     default: the decode kernels, the model tests, the CUDA tests
# DECODE_ARGS are extra decode-bench arguments. GPU_DEV_STEPS picks steps (default "ctest kernels decode smol"; also "costs": runtime_costs,
# "sanitize": compute-sanitizer memcheck/racecheck (scripts/gpu-sanitize.sh, SANITIZE_EACH_S per run),
# "gemma": the shipped Gemma 3 file through the CLI when it is staged under the model directory,
# "ncu": Nsight Compute on chosen kernels (NCU_CASES), "ncutoken": every kernel of a few decode
# tokens timed alone (NCU_TOKEN_DTYPE), and
# "peerprep": llama.cpp's CUDA tools built and the peer's GGUF files written in the background at
# low priority, under /root/peer, for bench/peers/gpu_peer.sh in the next call on the warm
# machine); PEER_PREBUILD=1 also packs llama.cpp's tools into $OUT (device_prebuild.sh).
set -uo pipefail
cd "$(dirname "$0")/.."
out=gpu-out
rm -rf "$out"
mkdir -p "$out"
regex=${1:-DecodeFused|Llama|Cuda|Determinism|Modes|Fault|Graph|Fence|TensorParallel|Smol}
start=$(date +%s)
summary=()
run() {  # name budget cmd...
  local name=$1 budget=$2
  shift 2
  local t0=$(date +%s)
  timeout --kill-after=5 "$budget" "$@" >"$out/$name.log" 2>&1
  local rc=$?
  summary+=("$(printf '%-16s rc=%-4s %4ss' "$name" "$rc" "$(($(date +%s) - t0))")")
  return $rc
}
. scripts/device-deps.sh
nvidia-smi --query-gpu=name,driver_version,clocks.sm,clocks.mem --format=csv >"$out/gpu.txt" 2>&1
steps=" ${GPU_DEV_STEPS:-ctest kernels decode smol} "
want() { [[ $steps == *" $1 "* ]]; }
if [[ ${PEER_PREBUILD:-0} == 1 && -n ${OUT:-} ]]; then
  (JOBS=8 timeout 500 bash bench/peers/device_prebuild.sh "$OUT" >"$out/peer_prebuild.log" 2>&1
   echo "rc=$?" >>"$out/peer_prebuild.log") &
  peer_pid=$!
fi
if want peerprep; then
  # In their own process sessions, so they outlive this call (the device tool ends the others
  # when a command returns) and the next call on the warm machine, gpu_peer.sh, waits for them
  # through their locks. Their logs stay under /root/peer.
  mkdir -p /root/peer
  setsid nice -n 19 env JOBS=12 timeout 900 bash bench/peers/build_llama_cpp.sh cuda /root/peer/build \
    >/root/peer/peer_build.log 2>&1 </dev/null &
  setsid nice -n 19 timeout 900 bash bench/peers/make_peer_files.sh /root/peer \
    >/root/peer/peer_files.log 2>&1 </dev/null &
  sleep 2  # both hold their locks before anything else starts
fi
run configure 60 cmake -S . -B build-gpu -G Ninja -DCMAKE_BUILD_TYPE=Release -DSTAGEFENCE_CUDA=ON
run build 300 ninja -C build-gpu -k 0 -j "${BUILD_JOBS:-$(nproc)}" || { tail -30 "$out/build.log"; }
want ctest && run ctest 200 ctest --test-dir build-gpu -R "$regex" -LE long -j 8 --timeout 120 --output-on-failure
want kernels && run kernels 110 build-gpu/bench/decode_kernels/stagefence_kernel_bench --json "$out/kernels.json"
if want ncu; then
  # Nsight Compute on single launches of the kernel bench: NCU_CASES lists filter:kernel:skip
  # (the bench's --filter, the kernel's name regex, matching launches to skip).
  kb=build-gpu/bench/decode_kernels/stagefence_kernel_bench
  for c in ${NCU_CASES:-qkv.bf16:qkv_kernel:1 mv.q4_0:mv_kernel:18 glu.q4_0:glu_kernel:1 attn.decode:attn_decode:1}; do
    IFS=: read -r f k s <<<"$c"
    run "ncu-$f" 90 ncu --clock-control none --section SpeedOfLight --section MemoryWorkloadAnalysis \
      --section WarpStateStats --section SchedulerStats --section Occupancy --section LaunchStats \
      -k "regex:$k" --launch-skip "$s" --launch-count 1 "$kb" --filter "$f" --launches 1
  done
fi
# Every kernel of a few decode tokens timed alone by Nsight Compute (serialised: no overlap), to
# set against the decode bench's GPU time per token.
want ncutoken && run ncu-token 200 ncu --clock-control none --metrics gpu__time_duration.sum --csv \
  --print-units base build-gpu/bench/decode/stagefence_decode_bench --dtypes "${NCU_TOKEN_DTYPE:-q4_0}" \
  --contexts 1024 --modes replay --tokens 4 --warmup 0
want decode && run decode 130 build-gpu/bench/decode/stagefence_decode_bench ${DECODE_ARGS:-} --json "$out/decode.json"
want nopdl && STAGEFENCE_PDL=0 run decode_nopdl 60 build-gpu/bench/decode/stagefence_decode_bench --dtypes bf16 \
  --contexts 1024 --json "$out/decode_nopdl.json"
want sanitize && SANITIZE_EACH_S=${SANITIZE_EACH_S:-100} run sanitize 420 bash scripts/gpu-sanitize.sh "$out"
want costs && run costs 60 build-gpu/bench/runtime_costs/runtime_costs
want smol && run smol 60 build-gpu/bench/decode/stagefence_decode_bench --shape smollm2-135m --dtypes bf16 \
  --contexts 1024 --json "$out/smol.json"
# The shipped Gemma 3 270M file where a previous call staged it (it is larger than one carry):
# every mode on CUDA, and the same prompt on the CPU for the tokens.
gemma_file=${STAGEFENCE_MODEL_DIR:-$HOME/.cache/stagefence/models}/gemma-3-270m-q4_k_m.gguf
if want gemma && [[ -f $gemma_file ]]; then
  run gemma 90 build-gpu/app/stagefence --backend cuda --model "$gemma_file" \
    --prompt "What is the capital of France?" --tokens 128 --ignore-eos --mode all
  run gemma_cpu 90 build-gpu/app/stagefence --backend cpu --model "$gemma_file" \
    --prompt "What is the capital of France?" --tokens 128 --ignore-eos
fi
[[ -n ${peer_pid:-} ]] && wait "$peer_pid"
{
  echo "== ctest"
  grep -E "tests passed|tests failed|\(Failed\)|\(Timeout\)|SEGFAULT|Exception" "$out/ctest.log" | head -40
  echo "== kernels"
  grep -E "GB/s" "$out/kernels.log"
  echo "== decode"
  sed -n '/^dtype/,$p' "$out/decode.log" | head -20
  echo "== decode, PDL off"
  sed -n '/^dtype/,$p' "$out/decode_nopdl.log" | head -8
  echo "== smollm2 shape"
  sed -n '/^dtype/,$p' "$out/smol.log" | head -8
  want costs && { echo "== runtime costs"; tail -25 "$out/costs.log"; }
  if want gemma; then
    echo "== gemma3 270M file, cuda (every mode) and cpu"
    grep -E "^tokens|^mode|^(blocking|single|session|replay|loop) |match across" "$out/gemma.log" "$out/gemma_cpu.log" 2>/dev/null |
      cut -c1-160
  fi
  want sanitize && { echo "== compute-sanitizer"; cat "$out/sanitize.log"; }
  for f in "$out"/ncu-*.log; do
    [[ -f $f && $f != *ncu-token* ]] || continue
    echo "== $(basename "$f" .log)"
    grep -E "^  [a-z_]+.*\(|Duration|DRAM Throughput|Memory Throughput|L1/TEX Hit|Achieved Occupancy|Registers Per|Issued Warp|No Eligible|Stall|One or More" "$f" | head -24
  done
  for f in peer_build peer_files; do
    [[ -f /root/peer/$f.log ]] && { echo "== $f (still running: next call)"; tail -2 "/root/peer/$f.log"; }
  done
  [[ -f $out/peer_prebuild.log ]] && { echo "== llama.cpp prebuild"; tail -4 "$out/peer_prebuild.log"; }
  printf '%s\n' "${summary[@]}"
  echo "total $(($(date +%s) - start)) s"
} | tee "$out/summary.txt"
[[ -n "${OUT:-}" ]] && tar czf "$OUT/gpu-dev.tgz" -C "$out" . && cp "$out/summary.txt" "$OUT/"
exit 0
