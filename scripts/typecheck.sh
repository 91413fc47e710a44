#!/usr/bin/env bash
# Type-check the package with mypy, configured in pyproject.toml's [tool.mypy].
#
#   scripts/typecheck.sh [MYPY ARGS]      (PYTHON=/path/to/python picks the interpreter that has mypy)
#
# The repository root is the package `rlft`, and mypy names modules after folders, so this links
# build/typecheck/rlft to the root and checks `-p rlft` from build/typecheck. Reported paths are relative
# to the repository root. Exit status: mypy's (0 = clean).
set -euo pipefail

ROOT="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
if [ -z "${PYTHON:-}" ]; then
  PYTHON=python3
  [ -x "$ROOT/.venv/bin/python" ] && PYTHON="$ROOT/.venv/bin/python"
fi
WORK="$ROOT/build/typecheck"
mkdir -p "$WORK"
ln -sfn ../.. "$WORK/rlft"
cd "$WORK"
"$PYTHON" -m mypy --config-file "$ROOT/pyproject.toml" --cache-dir "$WORK/.mypy_cache" "$@" 2>&1 \
  | sed -E 's#^rlft/##'
