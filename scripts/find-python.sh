#!/usr/bin/env bash
# Prints the interpreter to build the virtualenvs with: Python 3.12 (the Lambda runtime) where it
# can be found, else any Python >= 3.12 (the pins need it: contourpy 1.4.0 requires 3.12).
# Fails with a clear message otherwise.
set -euo pipefail
candidates=(python3.12 "${HOME}/.pyenv/versions/3.12"*/bin/python python3.13 "${HOME}/.pyenv/versions/3.13"*/bin/python python3)
for c in "${candidates[@]}"; do
  p=$(command -v "$c" 2>/dev/null || true)
  [ -n "$p" ] || continue
  if "$p" -c 'import sys; sys.exit(0 if sys.version_info >= (3, 12) else 1)' 2>/dev/null; then
    echo "$p"; exit 0
  fi
done
echo "find-python: no Python >= 3.12 found (3.12 preferred, as in Lambda; the pinned dependencies need 3.12+)" >&2
exit 1
