#!/usr/bin/env python3
"""Writes a Llama-family GGUF file of a known shape with random weights, through llama.cpp's own
`gguf` package, so llama.cpp and stagefence read the very same bytes.

The tokenizer model is "no_vocab" with `llama.vocab_size`: both engines then take token ids.
Weights are N(0, 0.02) in the requested float type (norms f32 ones plus noise); a pool of random
values is tiled with a different offset per tensor, so a multi-GB file takes seconds, not
minutes, and no tensor is zeros or a copy of another.

  make_gguf.py --shape llama3-8b --dtype bf16 --out FILE [--seed 1]
Shapes: llama3-8b, llama3.2-1b, smollm2-135m, tiny. Dtypes: f32, f16, bf16.
"""
import argparse
import sys

import numpy as np
from gguf import GGMLQuantizationType as QT
from gguf import GGUFWriter, LlamaFileType

SHAPES = {
    # dim, layers, heads, kv_heads, head_dim, ffn, vocab, tied, rope theta, context
    "llama3-8b": dict(dim=4096, layers=32, heads=32, kv=8, hd=128, ffn=14336, vocab=128256,
                      tied=False, theta=500000.0, ctx=8192),
    "llama3.2-1b": dict(dim=2048, layers=16, heads=32, kv=8, hd=64, ffn=8192, vocab=128256,
                        tied=True, theta=500000.0, ctx=8192),
    "smollm2-135m": dict(dim=576, layers=30, heads=9, kv=3, hd=64, ffn=1536, vocab=49152,
                         tied=True, theta=100000.0, ctx=8192),
    "tiny": dict(dim=256, layers=4, heads=8, kv=4, hd=32, ffn=512, vocab=512, tied=False,
                 theta=10000.0, ctx=2048),
}

DTYPES = {"f32": (QT.F32, LlamaFileType.ALL_F32), "f16": (QT.F16, LlamaFileType.MOSTLY_F16),
          "bf16": (QT.BF16, LlamaFileType.MOSTLY_BF16)}


class Pool:
    """Random N(0, std) values tiled from one pool, each tensor from its own offset."""

    def __init__(self, seed, size=1 << 24):
        rng = np.random.default_rng(seed)
        self.rng = rng
        self.values = rng.standard_normal(size, dtype=np.float32) * np.float32(0.02)

    def take(self, n):
        start = int(self.rng.integers(0, self.values.size))
        reps = (start + n + self.values.size - 1) // self.values.size
        return np.tile(self.values, reps)[start:start + n] if reps > 1 else \
            self.values[start:start + n].copy()


def encode(values, dtype):
    if dtype == "f32":
        return values.astype(np.float32)
    if dtype == "f16":
        return values.astype(np.float16)
    bits = values.astype(np.float32).view(np.uint32)
    rounded = (bits + 0x7FFF + ((bits >> 16) & 1)) >> 16  # round to nearest even
    return rounded.astype(np.uint16)


def main():
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--shape", required=True, choices=sorted(SHAPES))
    ap.add_argument("--dtype", required=True, choices=sorted(DTYPES))
    ap.add_argument("--out", required=True)
    ap.add_argument("--seed", type=int, default=1)
    a = ap.parse_args()
    s = SHAPES[a.shape]
    qtype, ftype = DTYPES[a.dtype]
    pool = Pool(a.seed)

    w = GGUFWriter(a.out, "llama")
    w.add_name(f"random-{a.shape}-{a.dtype}")
    w.add_context_length(s["ctx"])
    w.add_embedding_length(s["dim"])
    w.add_block_count(s["layers"])
    w.add_feed_forward_length(s["ffn"])
    w.add_head_count(s["heads"])
    w.add_head_count_kv(s["kv"])
    w.add_rope_dimension_count(s["hd"])
    w.add_rope_freq_base(s["theta"])
    w.add_layer_norm_rms_eps(1e-5)
    w.add_vocab_size(s["vocab"])
    w.add_file_type(ftype)
    w.add_tokenizer_model("no_vocab")

    dim, hd = s["dim"], s["hd"]
    tensors = [("token_embd.weight", (s["vocab"], dim), a.dtype)]
    for layer in range(s["layers"]):
        p = f"blk.{layer}."
        tensors += [
            (p + "attn_norm.weight", (dim,), "norm"),
            (p + "attn_q.weight", (s["heads"] * hd, dim), a.dtype),
            (p + "attn_k.weight", (s["kv"] * hd, dim), a.dtype),
            (p + "attn_v.weight", (s["kv"] * hd, dim), a.dtype),
            (p + "attn_output.weight", (dim, s["heads"] * hd), a.dtype),
            (p + "ffn_norm.weight", (dim,), "norm"),
            (p + "ffn_gate.weight", (s["ffn"], dim), a.dtype),
            (p + "ffn_up.weight", (s["ffn"], dim), a.dtype),
            (p + "ffn_down.weight", (dim, s["ffn"]), a.dtype),
        ]
    tensors.append(("output_norm.weight", (dim,), "norm"))
    if not s["tied"]:
        tensors.append(("output.weight", (s["vocab"], dim), a.dtype))

    # Tensor infos first, then the data one tensor at a time: memory stays at one tensor.
    def data(shape, kind):
        n = int(np.prod(shape))
        if kind == "norm":
            return (np.float32(1.0) + pool.take(n)).reshape(shape)
        return encode(pool.take(n), kind).reshape(shape)

    for name, shape, kind in tensors:
        t = QT.F32 if kind == "norm" else qtype
        nbytes = int(np.prod(shape)) * (4 if t == QT.F32 else 2)
        w.add_tensor_info(name, shape, np.float32 if t == QT.F32 else
                          (np.float16 if t == QT.F16 else np.uint16), nbytes,
                          raw_dtype=t if t == QT.BF16 else None)
    w.write_header_to_file()
    w.write_kv_data_to_file()
    w.write_ti_data_to_file()
    for name, shape, kind in tensors:
        w.write_tensor_data(data(shape, kind))
    w.close()
    print(f"{a.out}: {a.shape} {a.dtype}, {len(tensors)} tensors", file=sys.stderr)


if __name__ == "__main__":
    main()
