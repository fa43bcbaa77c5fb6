#!/usr/bin/env bash
# Set up .venv on a fresh machine: CPU torch first (a bare `torch` would pull a
# multi-GB CUDA build), then idim with its test extra.  Safe to run again.
set -euo pipefail
cd "$(dirname "$0")/.."
PY=${PYTHON:-python3}
if [ ! -x .venv/bin/python ]; then
  "$PY" -m venv .venv
fi
. .venv/bin/activate
python -m pip install -q --upgrade pip >/dev/null 2>&1 || true
if ! python -c "import torch" 2>/dev/null; then
  # On a machine with a GPU you may prefer the CUDA build: pip install torch (see README).
  python -m pip install -q "torch==2.13.0" || python -m pip install -q "torch>=2.4"
fi
python -m pip install -q -e ".[test]"
