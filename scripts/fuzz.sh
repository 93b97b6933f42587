#!/usr/bin/env bash
# Builds a fuzz target with clang, writes its seed corpus and fuzzes it for a bounded time. Exits
# non-zero if the fuzzer finds a crash (the reproducer lands in the artifacts folder it prints).
#
#   scripts/fuzz.sh [seconds=60] [target=reader]
#   target reader: the GGUF reader (gguf_fuzz, seeded with gguf_make_corpus's files and
#   fuzz/corpus/gguf_reader); model: loading a model from GGUF bytes on a CPU
#   device (model_load_fuzz, seeded with model_make_corpus's files and fuzz/corpus/model_load).
#   BUILD_DIR (default build-fuzz in the repository) holds the build, corpora and artifacts.
set -euo pipefail

seconds="${1:-60}"
target="${2:-reader}"
if ! [[ "$seconds" =~ ^[0-9]+$ ]] || [[ "$seconds" -eq 0 ]] || ! [[ "$target" =~ ^(reader|model)$ ]]; then
  echo "usage: $0 [seconds>0] [reader|model]" >&2
  exit 2
fi
repo="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
build="${BUILD_DIR:-$repo/build-fuzz}"

has_libfuzzer() {
  command -v clang++ >/dev/null &&
    echo 'extern "C" int LLVMFuzzerTestOneInput(const char*, unsigned long) { return 0; }' |
      clang++ -x c++ -fsanitize=fuzzer - -o /dev/null 2>/dev/null
}
if ! has_libfuzzer; then
  echo "fuzz.sh: installing clang and its libFuzzer runtime" >&2
  apt-get update -qq
  apt-get install -y -qq clang libclang-rt-14-dev >/dev/null
fi

cmake -S "$repo/fuzz" -B "$build" -G Ninja -DCMAKE_CXX_COMPILER=clang++ -DCMAKE_BUILD_TYPE=RelWithDebInfo >/dev/null
if [[ $target == reader ]]; then
  fuzzer=gguf_fuzz
  corpus="$build/corpus"
  artifacts="$build/artifacts"
  cmake --build "$build" --target gguf_fuzz gguf_make_corpus
  mkdir -p "$corpus" "$artifacts"  # the corpus keeps what earlier runs found
  "$build/gguf_make_corpus" "$corpus"
  cp "$repo"/fuzz/corpus/gguf_reader/* "$corpus"/  # earlier findings, kept as regressions
  what="the GGUF reader"
  limits=(-max_len=65536)
else
  fuzzer=model_load_fuzz
  corpus="$build/corpus-model"
  artifacts="$build/artifacts-model"
  cmake --build "$build" --target model_load_fuzz model_make_corpus
  mkdir -p "$corpus" "$artifacts"
  "$build/model_make_corpus" "$corpus"
  cp "$repo"/fuzz/corpus/model_load/* "$corpus"/  # earlier findings, kept as regressions
  what="model loading"
  limits=(-max_len=262144)
fi

echo "fuzz.sh: fuzzing $what for ${seconds}s (findings go to $artifacts/)"
status=0
"$build/$fuzzer" "$corpus" -max_total_time="$seconds" "${limits[@]}" -timeout=10 \
  -rss_limit_mb=2048 -print_final_stats=1 -artifact_prefix="$artifacts/" || status=$?
if [[ $status -ne 0 ]]; then
  echo "fuzz.sh: FAILED (exit $status); reproducers:" >&2
  ls -l "$artifacts" >&2
  exit "$status"
fi
echo "fuzz.sh: no crashes in ${seconds}s"
