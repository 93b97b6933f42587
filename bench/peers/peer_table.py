#!/usr/bin/env python3
"""The side-by-side table of bench/peers/gpu_peer.sh (and the CPU peer script): llama.cpp's
llama-bench JSON (llama-<file>.json) against stagefence's run JSON (sf-<file>-d<depth>.json), per
file and depth: tokens per second of each, the ratio, stagefence's best mode, and % of the
bandwidth floor (the file's tensor bytes plus the KV cache bytes a token reads at that depth, over
the copy bandwidth --copy-bw, bytes read + written per second, measured in the same run).

    peer_table.py --dir OUT --files NAME... [--copy-bw B] [--json OUT/peers.json]
"""
import argparse
import json
import pathlib
import sys


def load(path):
    try:
        return json.loads(pathlib.Path(path).read_text())
    except (OSError, ValueError):
        return None


def llama_rows(doc):
    """{depth: (tok/s, stddev)} of llama-bench's generation tests."""
    rows = {}
    for r in doc or []:
        if r.get("n_gen", 0) > 0 and r.get("n_prompt", 0) == 0:
            rows[int(r.get("n_depth", 0))] = (float(r["avg_ts"]), float(r.get("stddev_ts", 0)))
    return rows


def stagefence_best(doc):
    """(tok/s, mode) of the fastest mode of a stagefence run."""
    best = None
    for r in (doc or {}).get("runs", []):
        ms = r.get("ms_per_token")  # `stagefence generate --json` (docs/json-schema.md)
        if ms:
            cand = (1000.0 / ms, r.get("mode", "?"))
            best = cand if best is None or cand[0] > best[0] else best
    return best


def kv_bytes_per_token(gguf_path, depth):
    """K and V cache bytes a decode step reads at `depth` (f16 cache), from the file's metadata."""
    try:
        from gguf import GGUFReader
    except ImportError:
        return 0
    r = GGUFReader(str(gguf_path))
    def field(key):
        f = r.fields.get(key)
        return int(f.parts[f.data[0]][0]) if f else None
    layers = field("llama.block_count") or 0
    heads = field("llama.attention.head_count") or 1
    kv = field("llama.attention.head_count_kv") or heads
    dim = field("llama.embedding_length") or 0
    hd = field("llama.rope.dimension_count") or dim // heads
    return layers * 2 * depth * kv * hd * 2


def main():
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--dir", required=True, type=pathlib.Path)
    ap.add_argument("--files", nargs="+", required=True)
    ap.add_argument("--models", type=pathlib.Path, default=pathlib.Path("/root/peer/models"))
    ap.add_argument("--copy-bw", type=float, default=0.0,
                    help="copy bandwidth in bytes/s (read + write); default: from decode.json")
    ap.add_argument("--json", type=pathlib.Path)
    a = ap.parse_args()
    bw = a.copy_bw
    if not bw:
        # The decode bench's measurement ({"decode": {"copy": {"bandwidth_gb_s"}}}) or the
        # kernel bench's ({"copy_bytes_per_s"}), from the same run.
        for cand in (a.dir / "decode.json", a.dir.parent / "decode.json", a.dir / "kernels.json",
                     a.dir.parent / "kernels.json"):
            doc = load(cand) or {}
            gb = ((doc.get("decode") or {}).get("copy") or {}).get("bandwidth_gb_s")
            bw = float(gb) * 1e9 if gb else float(doc.get("copy_bytes_per_s", 0) or 0)
            if bw:
                break
    bw = bw or None  # no bandwidth measured in this run: no floor column, rather than a guess
    rows = []
    for name in a.files:
        gguf_path = a.models / f"{name}.gguf"
        ll = llama_rows(load(a.dir / f"llama-{name}.json"))
        for depth in (0, 1024):
            sf = stagefence_best(load(a.dir / f"sf-{name}-d{depth}.json"))
            peer = ll.get(depth)
            size = gguf_path.stat().st_size if gguf_path.exists() else 0
            floor_ms = ((size + kv_bytes_per_token(gguf_path, depth)) / bw * 1e3
                        if size and bw else None)
            row = {"file": name, "depth": depth,
                   "llama_cpp_tok_s": peer[0] if peer else None,
                   "llama_cpp_stddev": peer[1] if peer else None,
                   "stagefence_tok_s": sf[0] if sf else None,
                   "stagefence_mode": sf[1] if sf else None,
                   "ratio": (sf[0] / peer[0]) if sf and peer else None,
                   "floor_ms": floor_ms,
                   "stagefence_pct_floor": (100.0 * floor_ms * sf[0] / 1e3) if sf and floor_ms
                   else None,
                   "llama_cpp_pct_floor": (100.0 * floor_ms * peer[0] / 1e3) if peer and floor_ms
                   else None}
            rows.append(row)
    if a.json:
        a.json.write_text(json.dumps({"copy_bytes_per_s": bw, "rows": rows}, indent=1))
    fmt = lambda v, f: (f % v) if v is not None else "-"
    if bw:
        print(f"copy bandwidth {bw / 1e9:.0f} GB/s; floor = (file bytes + KV bytes per token) / "
              "copy bandwidth")
    else:
        print("copy bandwidth not measured in this run (no decode.json or kernels.json): no floor")
    print(f"{'file':20s} {'depth':>5s} {'llama.cpp':>10s} {'stagefence':>10s} {'ratio':>6s} "
          f"{'mode':>9s} {'sf %floor':>9s} {'ll %floor':>9s}")
    for r in rows:
        print(f"{r['file']:20s} {r['depth']:5d} {fmt(r['llama_cpp_tok_s'], '%10.1f')} "
              f"{fmt(r['stagefence_tok_s'], '%10.1f')} {fmt(r['ratio'], '%6.2f')} "
              f"{(r['stagefence_mode'] or '-'):>9s} {fmt(r['stagefence_pct_floor'], '%8.1f%%')} "
              f"{fmt(r['llama_cpp_pct_floor'], '%8.1f%%')}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
