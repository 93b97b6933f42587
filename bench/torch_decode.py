#!/usr/bin/env python3
"""PyTorch peer of stagefence_decode_bench: the same model, weights and KV cache, decoded at
batch 1 eagerly and as one hand-captured CUDA graph per step.

It reads the bench's JSON (--bench-json) for the shape, the seed, the start token, the contexts
and the token count, rebuilds the bf16 weights and the f16 KV cache with the hash initialiser
reimplemented in torch int64 ops, checks them bit for bit against the values the bench read back
from its device, then times decode and records the greedy tokens. Numerics differ from ours by
design: activations and the residual stream are bf16 here (f32 in stagefence), attention runs
in f16 on the f16 cache, so only the leading tokens are expected to agree.

    python3 bench/torch_decode.py --bench-json decode.json --json torch_decode.json

Exit status: 0, or 2 when a weight or cache value differs from the bench's.
"""
import argparse
import json
import math
import struct
import sys
import time

import torch
import torch.nn.functional as F

M32 = 0xFFFFFFFF
M64 = (1 << 64) - 1
DRAW_STEPS = 32768.0
NORM_OFFSET = 5 * 32768
NORM_SPREAD = 0.2
OUTPUT_GAIN = 3.0
KV_AMPLITUDE = 1.0
CHUNK = 1 << 26  # elements hashed at once (int64 temporaries of 512 MiB)


# ---- the hash initialiser (src/model/llama/device_init_hash.hpp), bit-exact ----

def fnv1a64(name):
    h = 0xCBF29CE484222325
    for ch in name.encode():
        h = ((h ^ ch) * 0x100000001B3) & M64
    return h


def splitmix64(z):
    z = ((z ^ (z >> 30)) * 0xBF58476D1CE4E5B9) & M64
    z = ((z ^ (z >> 27)) * 0x94D049BB133111EB) & M64
    return z ^ (z >> 31)


def hash_key(seed, name):
    k = splitmix64((seed ^ fnv1a64(name)) & M64)
    return k & M32, k >> 32


def to_f32(x):
    """The nearest float32 of a Python float, as a Python float."""
    return struct.unpack("<f", struct.pack("<f", x))[0]


def mix32(x):
    # x holds values in [0, 2^32) as int64; both multipliers are below 2^31, so the products
    # stay below 2^63 and the shifts are logical.
    x = x ^ (x >> 16)
    x = (x * 0x7FEB352D) & M32
    x = x ^ (x >> 15)
    x = (x * 0x1B873593) & M32
    return x ^ (x >> 16)


def element_hash(index, key):
    return mix32(((mix32(index ^ key[0]) + key[1]) & M32))


def hashed_values(index, key, amplitude, offset, dtype):
    """(draw16 + offset) * f32(amplitude / 32768), one f32 rounding, then `dtype`."""
    draw = (element_hash(index, key) >> 16) - 32768 + offset
    scale = torch.tensor(to_f32(amplitude / DRAW_STEPS), dtype=torch.float32, device=index.device)
    return (draw.to(torch.float32) * scale).to(dtype)


def hashed_tensor(shape, key, amplitude, offset, dtype, device):
    n = math.prod(shape)
    out = torch.empty(n, dtype=dtype, device=device)
    for start in range(0, n, CHUNK):
        end = min(n, start + CHUNK)
        index = torch.arange(start, end, dtype=torch.int64, device=device)
        out[start:end] = hashed_values(index, key, amplitude, offset, dtype)
    return out.view(shape)


# ---- the model ----

class Weights:
    def __init__(self, cfg, seed, device):
        self.by_name = {}
        dim, q_dim, kv_dim = cfg["dim"], cfg["heads"] * cfg["head_dim"], cfg["kv_heads"] * cfg["head_dim"]
        ffn, vocab = cfg["ffn_dim"], cfg["vocab"]

        def matrix(name, rows, cols, amplitude):
            t = hashed_tensor((rows, cols), hash_key(seed, name), amplitude, 0, torch.bfloat16, device)
            self.by_name[name] = t
            return t

        def norm(name, n):
            t = hashed_tensor((n,), hash_key(seed, name), NORM_SPREAD, NORM_OFFSET, torch.float32, device)
            self.by_name[name] = t
            return t

        if cfg["tied_output"]:
            raise SystemExit("torch_decode.py: tied output is not part of the benchmark shapes")
        self.embed = matrix("token_embd.weight", vocab, dim, math.sqrt(3.0))
        self.layers = []
        for l in range(cfg["layers"]):
            b = f"blk.{l}."
            self.layers.append({
                "attn_norm": norm(b + "attn_norm.weight", dim),
                "wq": matrix(b + "attn_q.weight", q_dim, dim, math.sqrt(3.0 / dim)),
                "wk": matrix(b + "attn_k.weight", kv_dim, dim, math.sqrt(3.0 / dim)),
                "wv": matrix(b + "attn_v.weight", kv_dim, dim, math.sqrt(3.0 / dim)),
                "wo": matrix(b + "attn_output.weight", dim, q_dim, math.sqrt(3.0 / q_dim)),
                "ffn_norm": norm(b + "ffn_norm.weight", dim),
                "w_gate": matrix(b + "ffn_gate.weight", ffn, dim, math.sqrt(3.0 / dim)),
                "w_up": matrix(b + "ffn_up.weight", ffn, dim, math.sqrt(3.0 / dim)),
                "w_down": matrix(b + "ffn_down.weight", dim, ffn, math.sqrt(3.0 / ffn)),
            })
        self.output_norm = norm("output_norm.weight", dim)
        self.output = matrix("output.weight", vocab, dim, OUTPUT_GAIN * math.sqrt(3.0 / dim))


def hashed_kv(cfg, seed, layer, values, positions, capacity, device):
    """f16 cache [kv_heads, capacity, head_dim]; positions [0, positions) hashed, element
    (pos, h, d) at index (pos * kv_heads + h) * head_dim + d; the rest zero."""
    kvh, hd = cfg["kv_heads"], cfg["head_dim"]
    cache = torch.zeros((kvh, capacity, hd), dtype=torch.float16, device=device)
    key = hash_key(seed, f"blk.{layer}.cache_{'v' if values else 'k'}")
    if positions > 0:
        index = torch.arange(positions * kvh * hd, dtype=torch.int64, device=device)
        vals = hashed_values(index, key, KV_AMPLITUDE, 0, torch.float16).view(positions, kvh, hd)
        cache[:, :positions] = vals.permute(1, 0, 2)
    return cache


class Decoder:
    """One decode step over static buffers (token, position, caches): capturable as a graph.
    With f32=True the activations, the residual and attention are f32 (weights widened per
    matmul): stagefence's numerics, to show how far the bf16 peer's tokens drift by rounding."""

    def __init__(self, cfg, weights, seed, context, capacity, device, f32=False):
        self.cfg, self.w = cfg, weights
        self.act = torch.float32 if f32 else torch.bfloat16
        self.attn = torch.float32 if f32 else torch.float16
        self.heads, self.kvh, self.hd = cfg["heads"], cfg["kv_heads"], cfg["head_dim"]
        self.eps = cfg["rms_eps"]
        self.capacity = capacity
        self.k = [hashed_kv(cfg, seed, l, False, context - 1, capacity, device) for l in range(cfg["layers"])]
        self.v = [hashed_kv(cfg, seed, l, True, context - 1, capacity, device) for l in range(cfg["layers"])]
        self.token = torch.zeros(1, dtype=torch.int64, device=device)
        self.pos = torch.zeros(1, dtype=torch.int64, device=device)
        self.key_positions = torch.arange(capacity, device=device)
        # RoPE tables in double as stagefence computes them, stored f32: [capacity, rot_dim / 2].
        rot = cfg["rope_dim"]
        inv = torch.tensor([cfg["rope_theta"] ** (-2.0 * i / rot) for i in range(rot // 2)], dtype=torch.float64)
        angles = torch.arange(capacity, dtype=torch.float64)[:, None] * inv[None, :]
        self.cos = angles.cos().to(torch.float32).to(device)
        self.sin = angles.sin().to(torch.float32).to(device)
        if cfg["rope_mode"] != "adjacent":
            raise SystemExit("torch_decode.py: only adjacent-pair RoPE (GGUF llama) is implemented")

    def reset(self, token, position):
        self.token.fill_(token)
        self.pos.fill_(position)

    def rmsnorm(self, x, w):
        xf = x.float()
        return (xf * torch.rsqrt(xf.pow(2).mean(-1, keepdim=True) + self.eps) * w).to(self.act)

    def linear(self, x, w):
        return F.linear(x, w if w.dtype == x.dtype else w.to(x.dtype))

    def rope(self, x, n_heads):
        rot = self.cfg["rope_dim"]
        xf = x.float().view(n_heads, self.hd)
        pairs = xf[:, :rot].view(n_heads, rot // 2, 2)
        cos = self.cos.index_select(0, self.pos)  # [1, rot / 2]
        sin = self.sin.index_select(0, self.pos)
        x0, x1 = pairs[..., 0], pairs[..., 1]
        rotated = torch.stack((x0 * cos - x1 * sin, x0 * sin + x1 * cos), dim=-1).view(n_heads, rot)
        return torch.cat((rotated, xf[:, rot:]), dim=-1).to(self.act)

    def step(self):
        w = self.w
        x = w.embed.index_select(0, self.token).to(self.act)  # [1, dim]
        mask = (self.key_positions <= self.pos).view(1, 1, 1, self.capacity)
        groups = self.heads // self.kvh
        for l, lw in enumerate(w.layers):
            h = self.rmsnorm(x, lw["attn_norm"])
            q = self.rope(self.linear(h, lw["wq"]), self.heads)
            k = self.rope(self.linear(h, lw["wk"]), self.kvh)
            v = self.linear(h, lw["wv"]).view(self.kvh, self.hd)
            self.k[l].index_copy_(1, self.pos, k.to(torch.float16).unsqueeze(1))
            self.v[l].index_copy_(1, self.pos, v.to(torch.float16).unsqueeze(1))
            # Query heads h*groups .. h*groups+groups-1 share kv head h: one query row each.
            qg = q.to(self.attn).view(1, self.kvh, groups, self.hd)
            keys, values = self.k[l].to(self.attn).unsqueeze(0), self.v[l].to(self.attn).unsqueeze(0)
            o = F.scaled_dot_product_attention(qg, keys, values, attn_mask=mask)
            x = x + self.linear(o.reshape(1, self.heads * self.hd).to(self.act), lw["wo"])
            h = self.rmsnorm(x, lw["ffn_norm"])
            up = F.silu(self.linear(h, lw["w_gate"])) * self.linear(h, lw["w_up"])
            x = x + self.linear(up, lw["w_down"])
        logits = self.linear(self.rmsnorm(x, w.output_norm), w.output).float()
        self.token.copy_(torch.argmax(logits, dim=-1))
        self.pos.add_(1)


# ---- checks and timing ----

def bits_of(value):
    """The raw bits of one bf16/f16 (16) or f32 (32) tensor element."""
    if value.dtype == torch.float32:
        return int(value.view(torch.int32).item()) & M32
    return int(value.view(torch.int16).item()) & 0xFFFF


def check_weights(bench, weights):
    """Compares the weight values the bench read back with ours; returns (checked, mismatches)."""
    checked, bad = 0, []
    for s in bench["decode"]["weight_samples"]:
        t = weights.by_name.get(s["tensor"])
        if t is None:
            bad.append(f"{s['tensor']}: not made here")
            continue
        bits = bits_of(t.reshape(-1)[s["index"]])
        checked += 1
        if bits != s["bits"]:
            bad.append(f"{s['tensor']}[{s['index']}]: {bits:#x} here, {s['bits']:#x} in the bench")
    return checked, bad


def check_cache(bench, context, dec):
    """The same for the KV-cache values of one context."""
    checked, bad = 0, []
    for s in bench["decode"]["kv_samples"]:
        if s["context"] != context:
            continue
        cache = (dec.v if s["cache"] == "v" else dec.k)[s["layer"]]
        bits = bits_of(cache[s["head"], s["position"], s["dim"]])
        checked += 1
        if bits != s["bits"]:
            bad.append(f"cache {s['cache']} layer {s['layer']} position {s['position']}: "
                       f"{bits:#x} here, {s['bits']:#x} in the bench")
    return checked, bad


def timed_decode(dec, step, start_token, context, steps, sync):
    dec.reset(start_token, context - 1)
    sync()
    tokens = []
    t0 = time.perf_counter()
    for _ in range(steps):
        step()
        tokens.append(int(dec.token.item()))  # one host read per token, as stagefence does
    sync()
    ms = (time.perf_counter() - t0) * 1e3 / steps
    return {"steps": steps, "ms_per_token": ms, "tok_s": 1e3 / ms}, tokens


def main():
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--bench-json", required=True, help="JSON written by stagefence_decode_bench --json")
    ap.add_argument("--json", help="write the results here")
    ap.add_argument("--device", default="auto", help="auto | cuda | cpu")
    ap.add_argument("--warmup", type=int, default=4, help="untimed steps before each variant")
    args = ap.parse_args()

    with open(args.bench_json) as f:
        bench = json.load(f)
    d = bench["decode"]
    cfg, seed, start_token, tokens = d["config"], d["seed"], d["start_token"], d["tokens"]
    contexts = sorted({r["context"] for r in d["rows"]})
    device = torch.device("cuda" if args.device == "auto" and torch.cuda.is_available() else
                          (args.device if args.device != "auto" else "cpu"))
    cuda = device.type == "cuda"
    sync = torch.cuda.synchronize if cuda else (lambda: None)
    name = torch.cuda.get_device_name(device) if cuda else "cpu"
    print(f"torch {torch.__version__} on {name}; shape {d['shape']}, seed {seed}, contexts {contexts}")

    torch.manual_seed(0)
    t0 = time.perf_counter()
    with torch.no_grad():
        weights = Weights(cfg, seed, device)
    sync()
    init_ms = (time.perf_counter() - t0) * 1e3
    print(f"weights made in {init_ms:.0f} ms")

    checked, mismatches = check_weights(bench, weights)
    steps = tokens - 1
    results = []
    with torch.no_grad():
        for context in contexts:
            capacity = -(-(context + tokens) // 64) * 64  # a multiple of 64 for the attention kernels
            dec = Decoder(cfg, weights, seed, context, capacity, device)
            kv_checked, kv_bad = check_cache(bench, context, dec)
            checked += kv_checked
            mismatches += kv_bad
            for _ in range(args.warmup):
                dec.reset(start_token, context - 1)
                dec.step()
            eager, eager_tokens = timed_decode(dec, dec.step, start_token, context, steps, sync)
            row = {"context": context, "eager": eager, "tokens": eager_tokens, "cuda_graph": None}
            print(f"ctx {context}: eager {eager['ms_per_token']:.3f} ms/token ({eager['tok_s']:.1f} tok/s)")
            if cuda:
                side = torch.cuda.Stream()
                side.wait_stream(torch.cuda.current_stream())
                with torch.cuda.stream(side):
                    for _ in range(3):
                        dec.reset(start_token, context - 1)  # stay inside the cache
                        dec.step()
                torch.cuda.current_stream().wait_stream(side)
                graph = torch.cuda.CUDAGraph()
                dec.reset(start_token, context - 1)
                with torch.cuda.graph(graph):
                    dec.step()
                for _ in range(args.warmup):
                    dec.reset(start_token, context - 1)
                    graph.replay()
                timed, graph_tokens = timed_decode(dec, graph.replay, start_token, context, steps, sync)
                timed["tokens"] = graph_tokens
                timed["tokens_equal_eager"] = graph_tokens == eager_tokens
                row["cuda_graph"] = timed
                print(f"ctx {context}: CUDA graph {timed['ms_per_token']:.3f} ms/token ({timed['tok_s']:.1f} tok/s)")
                del graph
            # The f32-activation variant: untimed against the others, only its tokens matter.
            dec32 = Decoder(cfg, weights, seed, context, capacity, device, f32=True)
            f32_run, row["tokens_f32"] = timed_decode(dec32, dec32.step, start_token, context, steps, sync)
            row["f32_ms_per_token"] = f32_run["ms_per_token"]
            del dec32
            results.append(row)
            del dec
            if cuda:
                torch.cuda.empty_cache()

    out = {
        "schema": "stagefence.torch_decode/1",
        "torch": torch.__version__,
        "device": name,
        "shape": d["shape"],
        "dtype": "bf16",
        "numerics": "bf16 weights, bf16 activations and residual, f16 KV cache and attention (SDPA), "
                    "f32 norms and RoPE; tokens_f32: f32 activations, residual and attention",
        "seed": seed,
        "start_token": start_token,
        "tokens": tokens,
        "init_ms": init_ms,
        "peak_memory_gb": torch.cuda.max_memory_allocated(device) / 1e9 if cuda else None,
        "bit_exact": not mismatches and checked > 0,
        "samples_checked": checked,
        "sample_mismatches": mismatches[:20],
        "contexts": results,
    }
    for m in mismatches[:20]:
        print("MISMATCH", m)
    print(f"bit-exact weights and cache: {'yes' if out['bit_exact'] else 'NO'} "
          f"({checked} values checked against the bench)")
    if args.json:
        with open(args.json, "w") as f:
            json.dump(out, f, indent=1)
        print(f"wrote {args.json}")
    return 0 if out["bit_exact"] else 2


if __name__ == "__main__":
    sys.exit(main())
