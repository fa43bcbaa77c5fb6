#!/usr/bin/env bash
# The README's test command: set up the app (idempotent), add the test extra, then run the
# whole suite offline.
set -euo pipefail
cd "$(dirname "$0")/.."
bash scripts/setup.sh
. .venv/bin/activate
# The test extra (pytest, Playwright, Ray, MkDocs for tests/test_docs.py, ruff for .ci/run): the app does not need it, so
# setup.sh leaves it out.
if ! python -c "import pytest, playwright, ray, mkdocs, material, ruff" 2>/dev/null; then
  echo "[test] the test extra: pytest, Playwright, Ray, MkDocs, ruff (about a minute on a fresh machine)"
  python -m pip install -q -e ".[test]"
fi
# Chromium for the browser tests (tests/test_browser.py): Debian's package, installed
# once, only where we are root with apt-get (CI); elsewhere install it yourself.
if [ "$(id -u)" = 0 ] && command -v apt-get >/dev/null; then
  command -v chromium >/dev/null || { apt-get update -qq && apt-get install -y -qq chromium; }
fi
. .venv/bin/activate
export HF_HUB_OFFLINE=1 HF_DATASETS_OFFLINE=1 TRANSFORMERS_OFFLINE=1 TOKENIZERS_PARALLELISM=false
python -m pytest -q "$@"
