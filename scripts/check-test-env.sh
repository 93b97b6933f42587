#!/usr/bin/env bash
# Fails when a test sets or clears an environment variable other than through
# tests/scoped_env.hpp's ScopedEnv (which restores the old value when its scope ends).
set -euo pipefail
cd "$(dirname "$0")/.."
hits=$(git grep -nE '\b(setenv|unsetenv|putenv)[[:space:]]*\(' -- tests ':!tests/scoped_env.hpp' \
  ':!*.py' || true)
if [ -n "$hits" ]; then
  echo "$hits" >&2
  echo "check-test-env: set environment variables in tests with sftest::ScopedEnv (tests/scoped_env.hpp)" >&2
  exit 1
fi
echo "check-test-env: tests change the environment only through ScopedEnv"
