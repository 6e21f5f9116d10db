#!/usr/bin/env bash
# Prints the interpreter to build the virtualenvs with: Python 3.12 (the Lambda runtime) where it
# can be found, else any Python >= 3.11. Fails with a clear message otherwise.
set -euo pipefail
candidates=(python3.12 "${HOME}/.pyenv/versions/3.12"*/bin/python python3.13 python3.11 python3)
for c in "${candidates[@]}"; do
  p=$(command -v "$c" 2>/dev/null || true)
  [ -n "$p" ] || continue
  if "$p" -c 'import sys; sys.exit(0 if sys.version_info >= (3, 11) else 1)' 2>/dev/null; then
    echo "$p"; exit 0
  fi
done
echo "find-python: no Python >= 3.11 found (3.12 preferred)" >&2
exit 1
