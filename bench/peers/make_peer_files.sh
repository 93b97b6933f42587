#!/usr/bin/env bash
# Writes the peer's random bf16 GGUF files (bench/peers/make_gguf.py, with llama.cpp's own gguf
# package) under ROOT/models: the Llama-3-8B, SmolLM2-135M and Llama-3.2-1B shapes. Re-entrant:
# a file already there is kept. The gguf package comes from the repo's .whl/ (git-ignored, carried
# to the GPU machine) when python3 cannot import it.
#   make_peer_files.sh ROOT
set -euo pipefail
here=$(cd "$(dirname "$0")" && pwd)
root=${1:?root directory}
mkdir -p "$root/models"
# One writer at a time: a second caller waits for the first and then keeps what it wrote.
exec 9>"$root/models/.lock"
flock 9
if ! python3 -c 'import gguf' 2>/dev/null; then
  python3 -m pip install -q --no-index --no-deps --no-compile --target "$root/site" \
    "$here"/../../.whl/gguf-*.whl
  export PYTHONPATH=$root/site${PYTHONPATH:+:$PYTHONPATH}
fi
for shape in llama3-8b smollm2-135m llama3.2-1b; do
  dst=$root/models/$shape-bf16.gguf
  [[ -s $dst ]] && continue
  python3 "$here/make_gguf.py" --shape "$shape" --dtype bf16 --out "$dst.tmp"
  mv -f "$dst.tmp" "$dst"
done
ls -la "$root/models"
