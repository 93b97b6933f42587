#!/usr/bin/env python3
"""Encodes the tokenizer test corpus with a reference tokenizer of a GGUF file's vocabulary and
writes {"plain": {text: ids}, "special": {text: ids}} as JSON for tests/tokenizer.

Engines:
  llama-cpp  llama.cpp's own tokenizer (pip: llama-cpp-python), loading only the vocabulary.
             "plain" texts are encoded with special=False, "special" texts with special=True.
  hf         Hugging Face `tokenizers`, built from the GGUF metadata by transformers' GGUF
             tokenizer converter (pip: transformers tokenizers gguf; no torch needed). Where
             transformers has no split for the file's tokenizer.ggml.pre, the pre-tokenizer of the
             original model's tokenizer.json is set (smollm: Digits(individual) + ByteLevel).
Neither adds BOS/EOS: the ids are those of the text alone.

Usage: tokenizer_reference.py MODEL.gguf OUT.json [--engine llama-cpp|hf] [--corpus FILE]
"""
import argparse
import json
import pathlib
import sys

DEFAULT_CORPUS = pathlib.Path(__file__).resolve().parent.parent / "tests/tokenizer/tokenizer_corpus.json"


def llama_cpp_encoder(gguf_path):
    import llama_cpp

    model = llama_cpp.Llama(model_path=str(gguf_path), vocab_only=True, verbose=False)

    def encode(text, parse_special):
        return model.tokenize(text.encode("utf-8"), add_bos=False, special=parse_special)

    return encode, {"llama_cpp_python": llama_cpp.__version__}


def read_gguf_tokenizer_dict(gguf_path):
    """The dicts transformers' get_gguf_tokenizer returns, read with the gguf package."""
    import gguf
    from transformers.integrations.gguf import gguf_tokenizer_mapping as mapping

    reader = gguf.GGUFReader(str(gguf_path))
    metadata = {name: field.contents() for name, field in reader.fields.items()}
    architecture = metadata["general.architecture"]
    grouped = {
        group: {new: metadata[f"tokenizer.{old}"] for old, new in renames.items() if f"tokenizer.{old}" in metadata}
        for group, renames in mapping.GGUF_TOKENIZER_MAPPING.items()
    }
    return architecture, grouped["tokenizer"], metadata


def hf_encoder(gguf_path):
    import tokenizers
    import transformers
    from tokenizers import pre_tokenizers
    from transformers.integrations.gguf import gguf_tokenizer_mapping as mapping

    architecture, tokenizer_dict, metadata = read_gguf_tokenizer_dict(gguf_path)
    backend, _ = mapping.convert_gguf_tokenizer(architecture, tokenizer_dict)
    pre = metadata.get("tokenizer.ggml.pre")
    if pre == "smollm" and pre not in mapping.GGUF_PRE_TOKENIZER_SPLITS:
        backend.pre_tokenizer = pre_tokenizers.Sequence(
            [pre_tokenizers.Digits(individual_digits=True), pre_tokenizers.ByteLevel(add_prefix_space=False)]
        )

    def encode(text, parse_special):
        # Control tokens are added as special tokens, which HF always matches in text.
        del parse_special
        return backend.encode(text, add_special_tokens=False).ids

    return encode, {"transformers": transformers.__version__, "tokenizers": tokenizers.__version__}


def main():
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("gguf", type=pathlib.Path)
    parser.add_argument("out", type=pathlib.Path)
    parser.add_argument("--engine", choices=["llama-cpp", "hf"], default="llama-cpp")
    parser.add_argument("--corpus", type=pathlib.Path, default=DEFAULT_CORPUS)
    args = parser.parse_args()

    corpus = json.loads(args.corpus.read_text(encoding="utf-8"))
    encode, versions = (llama_cpp_encoder if args.engine == "llama-cpp" else hf_encoder)(args.gguf)
    result = {
        "gguf": str(args.gguf.resolve()),
        "engine": args.engine,
        "versions": versions,
        "plain": {text: encode(text, False) for text in corpus["plain"]},
        "special": {text: encode(text, True) for text in corpus["special"]},
    }
    args.out.write_text(json.dumps(result, ensure_ascii=False, indent=1), encoding="utf-8")
    print(f"{args.out}: {len(result['plain'])} plain and {len(result['special'])} special texts "
          f"encoded by {args.engine} {versions}", file=sys.stderr)


if __name__ == "__main__":
    main()
