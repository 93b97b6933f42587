#!/usr/bin/env bash
# Installs what building and testing stagefence needs on a fresh Debian machine (root or sudo).
# The CUDA toolkit is optional: when nvcc is present the CUDA backend is built as well.
set -euo pipefail
# nlohmann-json3-dev, libcli11-dev and libcpp-httplib-dev: JSON, the CLI parser and the HTTP server
# of `stagefence serve`; libhwy-dev: Google Highway, the CPU kernels' SIMD with run-time dispatch.
pkgs=(cmake ninja-build g++ pkg-config libgtest-dev libgmock-dev python3 nlohmann-json3-dev libcli11-dev
      libcpp-httplib-dev libhwy-dev)
missing=()
for p in "${pkgs[@]}"; do dpkg -s "$p" >/dev/null 2>&1 || missing+=("$p"); done
if ((${#missing[@]})); then
  SUDO=""
  [ "$(id -u)" -eq 0 ] || SUDO="sudo"
  $SUDO apt-get update -qq
  DEBIAN_FRONTEND=noninteractive $SUDO apt-get install -y -qq "${missing[@]}"
fi
# The Python end-to-end tests (tests/app, tests/server) use pytest and the official openai
# client; without PyPI they are skipped, so a failed install is only reported.
if ! python3 -c 'import pytest, openai' >/dev/null 2>&1; then
  pip_args=(install -q --disable-pip-version-check --timeout 20 --retries 1 pytest openai)
  python3 -m pip "${pip_args[@]}" >/dev/null 2>&1 ||
    python3 -m pip "${pip_args[@]}" --break-system-packages >/dev/null 2>&1 ||
    echo "setup: pytest/openai could not be installed from PyPI; the Python end-to-end tests will skip" >&2
fi
