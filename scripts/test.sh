#!/usr/bin/env bash
# Sets up, builds and runs the whole test suite (the README's test command):
# test.sh [extra cmake args...], e.g. -DSTAGEFENCE_WERROR=ON as CI passes.
set -euo pipefail
cd "$(dirname "$0")/.."
bash scripts/setup.sh
bash scripts/build.sh build "$@"
ctest --test-dir build --output-on-failure -j2
