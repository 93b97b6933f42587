#!/usr/bin/env bash
# llama.cpp against stagefence on the CPU, on the very same GGUF files, in one run.
#
#   bench/peers/cpu_peer.sh STAGEFENCE_BIN OUT_DIR [threads]
#
# Files: the shipped SmolLM2-135M-Instruct Q4_1 (scripts/install_model.sh) and a Llama-3.2-1B
# shape with random weights (bench/peers/make_gguf.py, bf16, tokenizer "no_vocab"), quantised to
# Q4_0 and Q8_0 by llama.cpp's own llama-quantize. llama.cpp: `llama-bench -p 0 -n 64 -t THREADS`
# (THREADS: default nproc), built for this CPU from the llama-cpp-python sdist's vendored source
# (bench/peers/fetch_llama_cpp.sh, then bench/peers/build_llama_cpp.sh cpu $PEER_ROOT/cpu,
# which this script runs when the build is missing; slow on 2 cores). stagefence: the CLI a user
# runs, `stagefence generate --model F --prompt-ids 1 --tokens 64 --ignore-eos --json` with
# STAGEFENCE_CPU_WORKERS=THREADS. Decode tokens per second of both, and the ratio.
# Needs the `gguf` Python package (PYTHONPATH is passed through). Files and the build are reused
# from $PEER_ROOT (default /work/peer-build). Writes OUT_DIR/cpu_peers.json, prints the table.
set -uo pipefail
here=$(cd "$(dirname "$0")" && pwd)
repo=$(cd "$here/../.." && pwd)
bin=${1:?stagefence binary}
out=${2:?output directory}
threads=${3:-$(nproc)}
[[ $threads =~ ^[1-9][0-9]*$ ]] || { echo "threads '$threads': must be a positive whole number" >&2; exit 2; }
[[ -x $bin ]] || { echo "stagefence binary '$bin' is not an executable file" >&2; exit 2; }
root=${PEER_ROOT:-/work/peer-build}
mkdir -p "$out" "$root/models"

tools=$root/cpu/bin
if [[ ! -x $tools/llama-bench || ! -x $tools/llama-quantize ]]; then
  bash "$here/fetch_llama_cpp.sh" >"$out/llama_fetch.log" 2>&1 &&
    bash "$here/build_llama_cpp.sh" cpu "$root/cpu" >"$out/llama_build.log" 2>&1 ||
    { echo "llama.cpp build failed: $(tail -3 "$out/llama_build.log" 2>/dev/null)" >&2; exit 1; }
fi

smollm=$(bash "$repo/scripts/install_model.sh" 2>/dev/null | tail -1)
[[ -s $smollm ]] || { echo "the shipped SmolLM2 file is missing: run scripts/install_model.sh" >&2; exit 1; }
bf16=$root/models/llama3.2-1b-bf16.gguf
if [[ ! -s $bf16 ]]; then
  python3 "$here/make_gguf.py" --shape llama3.2-1b --dtype bf16 --out "$bf16.tmp" \
    >"$out/make_gguf.log" 2>&1 && mv -f "$bf16.tmp" "$bf16" ||
    { echo "make_gguf.py failed: $(tail -2 "$out/make_gguf.log")" >&2; exit 1; }
fi
for q in Q4_0 Q8_0; do
  dst=$root/models/llama3.2-1b-${q,,}.gguf
  [[ -s $dst ]] && continue
  "$tools/llama-quantize" "$bf16" "$dst.tmp" "$q" "$threads" >"$out/quantize-$q.log" 2>&1 &&
    mv -f "$dst.tmp" "$dst" || { echo "llama-quantize $q failed: $(tail -2 "$out/quantize-$q.log")" >&2; exit 1; }
done

names=(smollm2-135m-q4_1 llama3.2-1b-q4_0 llama3.2-1b-q8_0)
paths=("$smollm" "$root/models/llama3.2-1b-q4_0.gguf" "$root/models/llama3.2-1b-q8_0.gguf")
for i in "${!names[@]}"; do
  n=${names[$i]} f=${paths[$i]}
  timeout 300 "$tools/llama-bench" -m "$f" -p 0 -n 64 -t "$threads" -o json \
    >"$out/llama-$n.json" 2>"$out/llama-$n.log" || echo "llama-bench $n failed: $(tail -1 "$out/llama-$n.log")" >&2
  STAGEFENCE_CPU_WORKERS=$threads timeout 300 "$bin" generate --model "$f" --prompt-ids 1 \
    --tokens 64 --ignore-eos --json >"$out/sf-$n.json" 2>"$out/sf-$n.log" ||
    echo "stagefence $n failed: $(tail -1 "$out/sf-$n.log")" >&2
done

python3 - "$out" "$threads" "${names[@]}" <<'PY'
import json, os, pathlib, platform, sys
out, threads, names = pathlib.Path(sys.argv[1]), int(sys.argv[2]), sys.argv[3:]
def load(p):
    try:
        return json.loads(p.read_text())
    except (OSError, ValueError):
        return None
cpu = "unknown"
for line in open("/proc/cpuinfo"):
    if line.startswith("model name"):
        cpu = line.split(":", 1)[1].strip()
        break
rows = []
for n in names:
    ll = [r for r in (load(out / f"llama-{n}.json") or []) if r.get("n_gen", 0) > 0]
    sf = (load(out / f"sf-{n}.json") or {}).get("runs") or []
    ll_ts = float(ll[0]["avg_ts"]) if ll else None
    ll_sd = float(ll[0].get("stddev_ts", 0)) if ll else None
    sf_ts = 1000.0 / sf[0]["ms_per_token"] if sf and sf[0].get("ms_per_token") else None
    rows.append({"file": n, "llama_cpp_tok_s": ll_ts, "llama_cpp_stddev": ll_sd,
                 "stagefence_tok_s": sf_ts,
                 "ratio": sf_ts / ll_ts if sf_ts and ll_ts else None})
doc = {"schema": "stagefence.cpu_peers/1", "nproc": os.cpu_count(), "threads": threads,
       "cpu_model": cpu, "machine": platform.machine(), "rows": rows}
(out / "cpu_peers.json").write_text(json.dumps(doc, indent=1) + "\n")
f = lambda v, s: (s % v) if v is not None else "-"
print(f"CPU: {cpu}, nproc {os.cpu_count()}, {threads} threads; decode from a 1-token prompt, 64 tokens")
print(f"{'file':20s} {'llama.cpp tok/s':>16s} {'stagefence tok/s':>17s} {'ratio':>6s}")
for r in rows:
    ll = f(r["llama_cpp_tok_s"], "%.1f") + (f" ± {r['llama_cpp_stddev']:.1f}" if r["llama_cpp_stddev"] is not None else "")
    print(f"{r['file']:20s} {ll:>16s} {f(r['stagefence_tok_s'], '%17.1f')} {f(r['ratio'], '%6.2f')}")
PY
