#!/usr/bin/env bash
# Fails when a C++/CUDA source of this repository differs from what clang-format (the root
# .clang-format) would write, listing each file; `scripts/check-format.sh --fix` rewrites them.
# Only tracked files are checked, so build trees and fetched peers are never read.
set -euo pipefail
cd "$(dirname "$0")/.."
fmt=${CLANG_FORMAT:-clang-format}
command -v "$fmt" >/dev/null || { echo "check-format: $fmt not found (apt-get install clang-format)" >&2; exit 2; }
mode=check
case "${1:-}" in
  "") ;;
  --fix) mode=fix ;;
  *) echo "usage: $0 [--fix]" >&2; exit 2 ;;
esac
mapfile -d '' files < <(git ls-files -z -- '*.cpp' '*.hpp' '*.h' '*.cc' '*.cu' '*.cuh')
if [ "$mode" = fix ]; then
  printf '%s\0' "${files[@]}" | xargs -0 -n 64 "$fmt" -i
  exit 0
fi
# One clang-format run per batch; each violation is reported as "FILE:LINE:COL: error: ...".
report=$(printf '%s\0' "${files[@]}" | xargs -0 -n 64 "$fmt" --dry-run --Werror 2>&1 >/dev/null) || true
mapfile -t bad < <(grep -oE '^[^:]+:[0-9]+:[0-9]+: error' <<<"$report" | cut -d: -f1 | sort -u)
if [ ${#bad[@]} -gt 0 ] || grep -q 'error' <<<"$report"; then
  printf 'not clang-formatted: %s\n' "${bad[@]}" >&2
  echo "check-format: ${#bad[@]} of ${#files[@]} files differ; run scripts/check-format.sh --fix" >&2
  exit 1
fi
echo "check-format: ${#files[@]} files clean"
