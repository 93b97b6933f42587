#!/usr/bin/env bash
# Unpacks the parts device_prebuild.sh wrote into bench/peers/bin/cuda (ignored by git).
#   unpack_prebuilt.sh DIR_WITH_PARTS
set -euo pipefail
here=$(cd "$(dirname "$0")" && pwd)
src=${1:?directory holding llama-cuda.tar.xz.part-*}
mkdir -p "$here/bin/cuda"
cat "$src"/llama-cuda.tar.xz.part-* | xz -d | tar xf - -C "$here/bin/cuda"
ls -la "$here/bin/cuda"
