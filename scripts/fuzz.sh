#!/usr/bin/env bash
# Builds the GGUF fuzz target with clang, writes the seed corpus and fuzzes the reader for a
# bounded time. Exits non-zero if the fuzzer finds a crash (the reproducer lands in the
# artifacts folder it prints).
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

cmake -S "$repo/fuzz" -B "$build" -G Ninja -DCMAKE_CXX_COMPILER=clang++ -DCMAKE_BUILD_TYPE=RelWithDebInfo >/dev/null
cmake --build "$build" --target gguf_fuzz gguf_make_corpus

corpus="$build/corpus"
artifacts="$build/artifacts"
mkdir -p "$corpus" "$artifacts"  # the corpus keeps what earlier runs found
"$build/gguf_make_corpus" "$corpus"

echo "fuzz.sh: fuzzing the GGUF reader for ${seconds}s (findings go to $artifacts/)"
status=0
"$build/gguf_fuzz" "$corpus" -max_total_time="$seconds" -max_len=65536 -timeout=10 \
  -rss_limit_mb=2048 -print_final_stats=1 -artifact_prefix="$artifacts/" || status=$?
if [[ $status -ne 0 ]]; then
  echo "fuzz.sh: FAILED (exit $status); reproducers:" >&2
  ls -l "$artifacts" >&2
  exit "$status"
fi
echo "fuzz.sh: no crashes in ${seconds}s"
