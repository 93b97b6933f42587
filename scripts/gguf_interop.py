#!/usr/bin/env python3
"""Checks that stagefence's GGUF reader and writer interoperate with llama.cpp's `gguf` package.

For each alignment (32, the default, and 64):
  1. stagefence writes a reference file; gguf.GGUFReader and stagefence's reader must both see
     exactly the expected metadata and tensors.
  2. gguf.GGUFWriter writes the same reference content; stagefence's reader (and GGUFReader)
     must see exactly the expected metadata and tensors.
The reference content is mirrored in scripts/gguf_interop_tool.cpp. Exits non-zero on any
mismatch.

Usage: scripts/gguf_interop.py [--tool PATH] [--workdir DIR]
Without --tool, the C++ helper is compiled from the sources with $CXX (default c++).
Needs `pip install gguf numpy`.
"""
import argparse
import os
import shutil
import struct
import subprocess
import sys
import tempfile
from pathlib import Path

import numpy as np
from gguf import GGMLQuantizationType as QT
from gguf import GGUFReader, GGUFValueType as VT, GGUFWriter

REPO = Path(__file__).resolve().parent.parent

TYPE_NAMES = {VT.UINT8: "u8", VT.INT8: "i8", VT.UINT16: "u16", VT.INT16: "i16",
              VT.UINT32: "u32", VT.INT32: "i32", VT.FLOAT32: "f32", VT.BOOL: "bool",
              VT.STRING: "string", VT.UINT64: "u64", VT.INT64: "i64", VT.FLOAT64: "f64"}

# (key, type, value); arrays are (key, (VT.ARRAY, element type), list).
METADATA = [
    ("general.architecture", VT.STRING, "llama"),
    ("interop.u8", VT.UINT8, 250),
    ("interop.i8", VT.INT8, -120),
    ("interop.u16", VT.UINT16, 65000),
    ("interop.i16", VT.INT16, -32000),
    ("interop.u32", VT.UINT32, 4000000000),
    ("interop.i32", VT.INT32, -2000000000),
    ("interop.f32", VT.FLOAT32, 3.14159265358979),
    ("interop.bool", VT.BOOL, True),
    ("interop.string", VT.STRING, "héllo wörld"),
    ("interop.u64", VT.UINT64, 18000000000000000000),
    ("interop.i64", VT.INT64, -9000000000000000000),
    ("interop.f64", VT.FLOAT64, 2.718281828459045),
    ("interop.arr.u8", (VT.ARRAY, VT.UINT8), [1, 2, 255]),
    ("interop.arr.i8", (VT.ARRAY, VT.INT8), [-128, 0, 127]),
    ("interop.arr.u16", (VT.ARRAY, VT.UINT16), [0, 65535]),
    ("interop.arr.i16", (VT.ARRAY, VT.INT16), [-32768, 32767]),
    ("interop.arr.u32", (VT.ARRAY, VT.UINT32), [0, 4294967295, 7]),
    ("interop.arr.i32", (VT.ARRAY, VT.INT32), [-1, 2, -3]),
    ("interop.arr.f32", (VT.ARRAY, VT.FLOAT32), [0.5, -1.25, 1e-5]),
    ("interop.arr.bool", (VT.ARRAY, VT.BOOL), [True, False, True]),
    ("interop.arr.string", (VT.ARRAY, VT.STRING), ["a", "", "tökens", "merges x"]),
    ("interop.arr.u64", (VT.ARRAY, VT.UINT64), [0, 18446744073709551615]),
    ("interop.arr.i64", (VT.ARRAY, VT.INT64), [-9223372036854775808, 9223372036854775807]),
    ("interop.arr.f64", (VT.ARRAY, VT.FLOAT64), [0.1, -1e300]),
]

# (name, type, dims innermost first, elements per block, bytes per block)
TENSORS = [
    ("t.f32", QT.F32, [8, 3], 1, 4),
    ("t.f16", QT.F16, [16, 2], 1, 2),
    ("t.bf16", QT.BF16, [8, 2], 1, 2),
    ("t.q8_0", QT.Q8_0, [64, 2], 32, 34),
    ("t.q4_0", QT.Q4_0, [32, 3], 32, 18),
    ("t.q4_1", QT.Q4_1, [64, 1], 32, 20),
    ("t.q4_k", QT.Q4_K, [256, 2], 256, 144),
    ("t.q6_k", QT.Q6_K, [256, 1], 256, 210),
]


def tensor_bytes(index, n):
    return bytes(((j * 31 + index * 17 + 5) & 0xFF) for j in range(n))


def tensor_nbytes(dims, block_elems, block_bytes):
    return int(np.prod(dims)) // block_elems * block_bytes


def fnv1a64(data):
    h = 0xCBF29CE484222325
    for b in data:
        h = ((h ^ b) * 0x100000001B3) & 0xFFFFFFFFFFFFFFFF
    return h


def element_text(vtype, v):
    if vtype == VT.STRING:
        return "s:" + (v.encode("utf-8") if isinstance(v, str) else bytes(v)).hex()
    if vtype == VT.BOOL:
        return "true" if v else "false"
    if vtype == VT.FLOAT32:
        return "0x%08x" % struct.unpack("<I", struct.pack("<f", float(v)))[0]
    if vtype == VT.FLOAT64:
        return "0x%016x" % struct.unpack("<Q", struct.pack("<d", float(v)))[0]
    return str(int(v))


def kv_line(key, vtype, values):
    if isinstance(vtype, tuple):
        sub = vtype[1]
        return "kv %s array[%s] %s" % (key, TYPE_NAMES[sub],
                                       ",".join(element_text(sub, x) for x in values))
    return "kv %s %s %s" % (key, TYPE_NAMES[vtype], element_text(vtype, values))


def expected_dump(alignment):
    lines = ["version 3", "alignment %d" % alignment]
    metadata = list(METADATA)
    if alignment != 32:
        metadata.append(("general.alignment", VT.UINT32, alignment))
    lines += [kv_line(k, t, v) for k, t, v in metadata]
    offset = 0
    for i, (name, qt, dims, be, bb) in enumerate(TENSORS):
        n = tensor_nbytes(dims, be, bb)
        lines.append("tensor %s type=%d dims=%s offset=%d bytes=%d fnv=%016x" % (
            name, int(qt), ",".join(map(str, dims)), offset, n, fnv1a64(tensor_bytes(i, n))))
        offset += (n + alignment - 1) // alignment * alignment
    return lines


def gguf_reader_dump(path):
    r = GGUFReader(path)
    version = int(r.fields["GGUF.version"].parts[0][0])
    lines = ["version %d" % version, "alignment %d" % int(r.alignment)]
    for field in r.fields.values():
        if field.name.startswith("GGUF."):
            continue
        main = field.types[0]
        if main == VT.ARRAY:
            sub = field.types[-1]
            values = [field.parts[i] if sub == VT.STRING else field.parts[i][0] for i in field.data]
            lines.append(kv_line(field.name, (VT.ARRAY, sub), values))
        else:
            value = field.parts[-1] if main == VT.STRING else field.parts[-1][0]
            lines.append(kv_line(field.name, main, value))
    for t in r.tensors:
        data = t.data.tobytes()
        lines.append("tensor %s type=%d dims=%s offset=%d bytes=%d fnv=%016x" % (
            t.name, int(t.tensor_type), ",".join(str(int(d)) for d in t.shape),
            t.data_offset - r.data_offset, t.n_bytes, fnv1a64(data)))
    return lines


def write_with_gguf_package(path, alignment):
    w = GGUFWriter(str(path), "llama")  # adds general.architecture itself
    if alignment != 32:
        w.add_custom_alignment(alignment)
    for key, vtype, value in METADATA:
        if key == "general.architecture":
            continue
        if isinstance(vtype, tuple):
            w.add_key_value(key, value, VT.ARRAY, sub_type=vtype[1])
        else:
            w.add_key_value(key, value, vtype)
    for i, (name, qt, dims, be, bb) in enumerate(TENSORS):
        n = tensor_nbytes(dims, be, bb)
        # Byte shape, outermost first: the package derives the element dims from it.
        shape = list(reversed(dims[1:])) + [dims[0] // be * bb]
        raw = np.frombuffer(tensor_bytes(i, n), dtype=np.uint8).reshape(shape)
        w.add_tensor(name, raw, raw_dtype=qt)
    w.write_header_to_file()
    w.write_kv_data_to_file()
    w.write_tensors_to_file()
    w.close()


def stagefence_dump(tool, path):
    out = subprocess.run([tool, "dump", str(path)], capture_output=True, text=True)
    if out.returncode != 0:
        return ["stagefence reader failed: " + out.stderr.strip()]
    return out.stdout.splitlines()


def canonical(lines):
    # Metadata order is not part of the contract (the writers place general.alignment
    # differently); header and tensor order are.
    head = [l for l in lines if not l.startswith(("kv ", "tensor "))]
    kvs = sorted(l for l in lines if l.startswith("kv "))
    tensors = [l for l in lines if l.startswith("tensor ")]
    return head + kvs + tensors


def compare(what, got, want):
    got, want = canonical(got), canonical(want)
    if got == want:
        print("  ok   %s (%d lines)" % (what, len(want)))
        return True
    print("  FAIL %s" % what)
    for line in sorted(set(want) - set(got)):
        print("       missing:    " + line)
    for line in sorted(set(got) - set(want)):
        print("       unexpected: " + line)
    if set(got) == set(want):
        print("       same lines in another order")
    return False


def build_tool(workdir):
    cxx = os.environ.get("CXX", "c++")
    tool = workdir / "gguf_interop_tool"
    sources = [REPO / "scripts/gguf_interop_tool.cpp", REPO / "src/core/dtype.cpp",
               REPO / "src/core/error.cpp"] + sorted((REPO / "src/model/gguf").glob("*.cpp"))
    cmd = [cxx, "-std=c++20", "-O1", "-I", str(REPO / "src"), "-I", str(REPO / "include"),
           "-o", str(tool)] + [str(s) for s in sources]
    subprocess.run(cmd, check=True)
    return str(tool)


def main():
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--tool", help="prebuilt gguf_interop_tool (default: compile it)")
    parser.add_argument("--workdir", help="folder for the files (default: a temporary one)")
    args = parser.parse_args()
    workdir = Path(args.workdir or tempfile.mkdtemp(prefix="gguf_interop_"))
    workdir.mkdir(parents=True, exist_ok=True)
    tool = args.tool or build_tool(workdir)

    ok = True
    for alignment in (32, 64):
        want = expected_dump(alignment)
        print("alignment %d: %d metadata keys, %d tensors (%s)" % (
            alignment, sum(l.startswith("kv ") for l in want), len(TENSORS),
            ", ".join(t[1].name for t in TENSORS)))
        ours = workdir / ("stagefence_%d.gguf" % alignment)
        subprocess.run([tool, "write", str(ours), str(alignment)], check=True)
        ok &= compare("stagefence writer -> gguf.GGUFReader", gguf_reader_dump(ours), want)
        ok &= compare("stagefence writer -> stagefence reader", stagefence_dump(tool, ours), want)
        theirs = workdir / ("gguf_package_%d.gguf" % alignment)
        write_with_gguf_package(theirs, alignment)
        ok &= compare("gguf.GGUFWriter -> stagefence reader", stagefence_dump(tool, theirs), want)
        ok &= compare("gguf.GGUFWriter -> gguf.GGUFReader", gguf_reader_dump(theirs), want)
    if not args.workdir:
        shutil.rmtree(workdir)
    print("gguf interop: %s" % ("PASS" if ok else "FAIL"))
    return 0 if ok else 1


if __name__ == "__main__":
    sys.exit(main())
