import os
import subprocess
import sys
from pathlib import Path

import pytest

os.environ.setdefault("HF_HUB_OFFLINE", "1")
os.environ.setdefault("HF_DATASETS_OFFLINE", "1")
os.environ.setdefault("TRANSFORMERS_OFFLINE", "1")
os.environ.setdefault("TOKENIZERS_PARALLELISM", "false")
# Workers started by tests do not preload the 22M-parameter default model (tests use tiny ones);
# test_lifecycle checks the preload itself.
os.environ.setdefault("IDIM_WORKER_WARM", "0")
# Runs on automatic threads give a core back while another program needs one (idim_core/yielding.py), which can
# change the last digits; tests that compare runs to the last digit need the fixed numerics that --threads N gives
# a user.  tests/test_yielding.py turns it on where it tests it.
os.environ.setdefault("IDIM_YIELD", "0")

ROOT = Path(__file__).resolve().parent.parent


@pytest.fixture
def home(tmp_path, monkeypatch):
    h = tmp_path / "idim-home"
    monkeypatch.setenv("IDIM_HOME", str(h))
    return h


def run_cli(*args, home=None, timeout=600, env_extra=None):
    """Run the real `idim` entry point in a subprocess."""
    env = dict(os.environ)
    if home is not None:
        env["IDIM_HOME"] = str(home)
    env.update(env_extra or {})
    return subprocess.run([sys.executable, "-m", "idim_core.cli", *map(str, args)], capture_output=True,
                          text=True, timeout=timeout, env=env, cwd=ROOT)


TIMING = ("seconds", "peak_mb")  # measured per trial: not determined by the seed


def untimed(points: list[dict]) -> list[dict]:
    """A run's points without what the machine measured (time, memory): what the seeds decide."""
    return [{k: v for k, v in p.items() if k not in TIMING} for p in points]


@pytest.fixture(autouse=True)
def _streamlit_error_details():
    """The served app turns Streamlit's error details off for its process (app.py); a test that ran it in served
    mode gives the next test the option as it found it."""
    import sys as _sys

    st = _sys.modules.get("streamlit")
    before = st.get_option("client.showErrorDetails") if st is not None else None
    yield
    st = _sys.modules.get("streamlit")
    if st is not None and before is not None and st.get_option("client.showErrorDetails") != before:
        st.set_option("client.showErrorDetails", before)
