#!/usr/bin/env bash
# Set up .venv for the app: the CPU build of PyTorch first (a bare `torch` would pull a
# multi-GB CUDA build), then idim and what it needs to run.  The test extra (pytest,
# Playwright, Ray) is installed by scripts/test.sh, not here.  Safe to run again: what is
# there already is kept.  Says what it is doing, and every 10 s that it still is.
set -euo pipefail
cd "$(dirname "$0")/.."
PY=${PYTHON:-python3}
START=$SECONDS

step() { printf '[%s/3] %s\n' "$1" "$2"; }

quietly() {  # run "$@" with its output kept aside (shown only if it fails), ticking every 10 s
  local t0=$SECONDS log n=0 pid
  log=$(mktemp)
  "$@" >"$log" 2>&1 &
  pid=$!
  while kill -0 "$pid" 2>/dev/null; do
    sleep 1
    n=$((n + 1))
    if [ $((n % 10)) = 0 ] && kill -0 "$pid" 2>/dev/null; then printf '      ... %d s\n' $((SECONDS - t0)); fi
  done
  if ! wait "$pid"; then
    cat "$log" >&2
    rm -f "$log"
    return 1
  fi
  rm -f "$log"
  printf '      done in %d s\n' $((SECONDS - t0))
}

step 1 "creating .venv (Python: $("$PY" -c 'import sys; print(sys.version.split()[0])'))"
if [ -x .venv/bin/python ]; then
  echo "      .venv is there already"
else
  quietly "$PY" -m venv .venv
fi
. .venv/bin/activate
python -m pip install -q --upgrade pip >/dev/null 2>&1 || true

step 2 "PyTorch, CPU build (750 MB installed; 87 s measured on a busy 2-core machine, less on a quiet one)"
if python -c "import torch" 2>/dev/null; then
  echo "      installed already ($(python -c 'import torch; print(torch.__version__)'))"
else
  # On a machine with a GPU you may prefer the CUDA build: pip install torch (see README).
  quietly python -m pip install -q "torch==2.13.0" || quietly python -m pip install -q "torch>=2.4"
fi

step 3 "idim and its dependencies: Streamlit, transformers, datasets, peft, the bundled model (178 s measured there)"
quietly python -m pip install -q -e .

echo "Set up in $((SECONDS - START)) s. Start the app: .venv/bin/streamlit run app.py"
