#!/usr/bin/env bash
# Builds the fuzz targets with clang, writes their seed corpora and fuzzes for a bounded time in
# all: half on the GGUF reader (gguf_fuzz), half on model loading (model_load_fuzz: reader,
# configuration, tensor layout, weights on the CPU backend). Exits non-zero if a fuzzer finds a
# crash (the reproducer lands in the artifacts folder it prints); keep such findings, once fixed,
# in fuzz/corpus/model_load/ (the regression test ModelLoadFuzz.* replays them).
#
#   scripts/fuzz.sh [seconds=60]
#   BUILD_DIR (default build-fuzz in the repository) holds the build, corpus and artifacts.
set -euo pipefail

seconds="${1:-60}"
if ! [[ "$seconds" =~ ^[0-9]+$ ]] || [[ "$seconds" -eq 0 ]]; then
  echo "usage: $0 [seconds>0]" >&2
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

launcher=()
command -v ccache >/dev/null && launcher=(-DCMAKE_CXX_COMPILER_LAUNCHER=ccache)
cmake -S "$repo/fuzz" -B "$build" -G Ninja -DCMAKE_CXX_COMPILER=clang++ -DCMAKE_BUILD_TYPE=RelWithDebInfo \
  "${launcher[@]}" >/dev/null
cmake --build "$build" --target gguf_fuzz gguf_make_corpus model_load_fuzz model_make_corpus

corpus="$build/corpus"
artifacts="$build/artifacts"
mkdir -p "$corpus" "$artifacts"  # the corpus keeps what earlier runs found
"$build/gguf_make_corpus" "$corpus"

model_corpus="$build/model_corpus"
mkdir -p "$model_corpus"
"$build/model_make_corpus" "$model_corpus"
cp "$repo"/fuzz/corpus/model_load/* "$model_corpus"/

reader_seconds=$(( (seconds + 1) / 2 ))
model_seconds=$(( seconds - reader_seconds ))
[[ $model_seconds -eq 0 ]] && model_seconds=1
fuzz() {  # name, binary, corpus, seconds
  echo "fuzz.sh: fuzzing $1 for $4 s (findings go to $artifacts/)"
  local status=0
  "$2" "$3" -max_total_time="$4" -max_len=65536 -timeout=10 \
    -rss_limit_mb=2048 -print_final_stats=1 -artifact_prefix="$artifacts/" || status=$?
  if [[ $status -ne 0 ]]; then
    echo "fuzz.sh: $1 FAILED (exit $status); reproducers:" >&2
    ls -l "$artifacts" >&2
    exit "$status"
  fi
}
fuzz "the GGUF reader" "$build/gguf_fuzz" "$corpus" "$reader_seconds"
fuzz "model loading" "$build/model_load_fuzz" "$model_corpus" "$model_seconds"
echo "fuzz.sh: no crashes in ${seconds}s"
