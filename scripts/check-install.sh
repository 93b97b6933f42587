#!/usr/bin/env bash
# Builds stagefence (CPU-only, Release), installs it into a temporary prefix, then configures,
# builds and runs examples/two_stage against the installed CMake package. Exits non-zero on any
# failure. Usage: scripts/check-install.sh [work-dir]   (default: a fresh temporary directory)
# With STAGEFENCE_BUILD_DIR set, installs that existing build instead of building a new one.
set -euo pipefail

repo="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
work="${1:-$(mktemp -d "${TMPDIR:-/tmp}/stagefence-install-check.XXXXXX")}"
mkdir -p "$work"
jobs="$(nproc 2>/dev/null || echo 2)"
generator=()
if command -v ninja >/dev/null 2>&1; then generator=(-G Ninja); fi

echo "== check-install: work dir $work"
build="${STAGEFENCE_BUILD_DIR:-$work/build}"
if [ -z "${STAGEFENCE_BUILD_DIR:-}" ]; then
  cmake -S "$repo" -B "$build" "${generator[@]}" -DCMAKE_BUILD_TYPE=Release \
    -DSTAGEFENCE_CUDA=OFF -DSTAGEFENCE_BUILD_TESTS=OFF -DSTAGEFENCE_BUILD_BENCH=OFF
  cmake --build "$build" --parallel "$jobs"
fi
cmake --install "$build" --prefix "$work/prefix"

for f in include/stagefence/stagefence.hpp include/stagefence/trace.hpp \
         lib/cmake/stagefence/stagefenceConfig.cmake lib/cmake/stagefence/stagefenceTargets.cmake; do
  if [ ! -f "$work/prefix/$f" ] && [ ! -f "$work/prefix/${f/lib\//lib64/}" ]; then
    echo "check-install: $f was not installed" >&2
    exit 1
  fi
done

# The example sees only the installed prefix, never the source tree.
cmake -S "$repo/examples/two_stage" -B "$work/example" "${generator[@]}" \
  -DCMAKE_BUILD_TYPE=Release -DCMAKE_PREFIX_PATH="$work/prefix"
cmake --build "$work/example" --parallel "$jobs"
"$work/example/two_stage"
echo "== check-install: OK"
