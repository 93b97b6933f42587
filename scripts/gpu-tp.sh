#!/usr/bin/env bash
# Tensor parallelism on a machine with several GPUs: builds, finds NCCL, runs the collective and
# tensor-parallel tests on CUDA, then the scaling benchmark (Llama-3-8B at 1, 2, 4, 8 ranks and
# a 70B shape at 2, 4, 8), writes logs under $OUT and prints a short table last.
#   OUT=dir scripts/gpu-tp.sh [tokens=32]
set -uo pipefail
cd "$(dirname "$0")/.."
out=${OUT:-./gpu-out}
tokens=${1:-32}
mkdir -p "$out"
# NVLink multicast stays off: it can take a shared host's GPUs out of service.
export NCCL_NVLS_ENABLE=0 TORCH_SYMM_MEM_DISABLE_MULTICAST=1 NVSHMEM_DISABLE_NVLS=1

if [[ -z "${STAGEFENCE_NCCL_LIBRARY:-}" ]]; then
  nccl=$(python3 -c 'import nvidia.nccl, os; print(os.path.join(list(nvidia.nccl.__path__)[0], "lib", "libnccl.so.2"))' 2>/dev/null)
  [[ -f "$nccl" ]] || nccl=$(ldconfig -p 2>/dev/null | awk '/libnccl\.so\.2 /{print $NF; exit}')
  [[ -f "$nccl" ]] || nccl=$(ls /usr/local/cuda/lib64/libnccl.so.2 2>/dev/null)
  [[ -n "$nccl" ]] && export STAGEFENCE_NCCL_LIBRARY="$nccl"
fi
echo "NCCL: ${STAGEFENCE_NCCL_LIBRARY:-not found}" | tee "$out/nccl.txt"
nvidia-smi topo -m >"$out/topology.txt" 2>&1

cmake -S . -B build-gpu -G Ninja -DCMAKE_BUILD_TYPE=Release -DSTAGEFENCE_CUDA=ON >"$out/configure.log" 2>&1
ninja -C build-gpu -j "$(nproc)" sf_core_tests sf_model_tests stagefence_tp_bench stagefence_cli \
  >"$out/build.log" 2>&1 || { tail -30 "$out/build.log"; exit 1; }

status=0
timeout 300 build-gpu/tests/sf_core_tests --gtest_filter='*Communicator*' >"$out/communicator-tests.log" 2>&1 || status=1
timeout 600 build-gpu/tests/sf_model_tests --gtest_filter='*TensorParallel*' >"$out/tp-tests.log" 2>&1 || status=1
timeout 300 build-gpu/app/stagefence --backend cuda --ranks 2 --tokens 24 --mode all >"$out/cli-ranks2.log" 2>&1 || status=1
timeout 900 build-gpu/bench/tp_decode/stagefence_tp_bench --shape llama3-8b --ranks 1,2,4,8 \
  --tokens "$tokens" --json "$out/tp-8b.json" >"$out/tp-8b.log" 2>&1 || status=1
timeout 900 build-gpu/bench/tp_decode/stagefence_tp_bench --shape llama3-70b --ranks 2,4,8 \
  --tokens "$tokens" --json "$out/tp-70b.json" >"$out/tp-70b.log" 2>&1 || status=1

echo "--- tests"
grep -hE "PASSED|FAILED|SKIPPED \]" "$out/communicator-tests.log" "$out/tp-tests.log"
echo "--- CLI, 2 ranks"
grep -E "tensor parallel|tokens:|match" "$out/cli-ranks2.log"
for f in tp-8b tp-70b; do
  echo "--- $f"
  sed -n '/^ranks /,$p' "$out/$f.log"
done
exit $status
