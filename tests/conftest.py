import inspect
import os
import re
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


def cli_in_process(*args, home=None):
    """The `idim` entry point called in this process (no interpreter to start): for the many refusal and parsing
    cases of the fast tier.  Returns what ``run_cli`` does: returncode, stdout and stderr."""
    import contextlib
    import io

    from idim_core.cli import main

    out, err = io.StringIO(), io.StringIO()
    old = os.environ.get("IDIM_HOME")
    if home is not None:
        os.environ["IDIM_HOME"] = str(home)
    try:
        with contextlib.redirect_stdout(out), contextlib.redirect_stderr(err):
            try:
                code = main([str(a) for a in args])
            except SystemExit as e:  # argparse's own refusals
                code = e.code if isinstance(e.code, int) else 2
    finally:
        if home is not None:
            if old is None:
                os.environ.pop("IDIM_HOME", None)
            else:
                os.environ["IDIM_HOME"] = old
    return subprocess.CompletedProcess(["idim", *map(str, args)], code, out.getvalue(), err.getvalue())


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


# Test tiers (`bash scripts/test.sh -m unit` runs the fast one).  A test may say its tier with a marker; one that
# does not is placed by what it starts: a browser, an app render, another process or real training, else unit.
TIERS = ("unit", "integration", "app", "browser")
_STARTS_APP = re.compile(r"\bAppTest\b|\bapp\(|render_page\(")
_STARTS_PROCESS = re.compile(r"\brun_cli\(|\bsubprocess\b|\bPopen\(|\bRunner\(|\bworker\b|\brun_trial\(|\bsweep\(|"
                             r"\bserve\(|\bchromium\b")


# Whole files whose every test renders pages, starts processes or bootstraps the shipped records (seconds each).
MODULE_TIER = {
    "test_browser": "browser",
    **dict.fromkeys(("test_app", "test_explore_form", "test_served", "test_classroom", "test_pages_sweep",
                     "test_lesson"), "app"),
    **dict.fromkeys(("test_lifecycle", "test_processes", "test_ray", "test_wedge", "test_bench", "test_refine",
                     "test_rate_search", "test_probe", "test_contract", "test_hub_paths", "test_heap", "test_claims",
                     "test_claims_readme", "test_verdicts", "test_intervals", "test_records", "test_pretrain_records",
                     "test_facts", "test_docs"), "integration"),
}


def _tier_of(item) -> str:
    module = item.fspath.purebasename
    if module in MODULE_TIER:
        return MODULE_TIER[module]
    if item.get_closest_marker("slow"):
        return "integration"
    try:
        src = inspect.getsource(item.function)
    except (OSError, TypeError):
        return "integration"
    if "app" in getattr(item, "fixturenames", ()) or _STARTS_APP.search(src):
        return "app"
    if _STARTS_PROCESS.search(src):
        return "integration"
    return "unit"


def pytest_collection_modifyitems(config, items):
    for item in items:
        if not any(item.get_closest_marker(t) for t in TIERS):
            item.add_marker(getattr(pytest.mark, _tier_of(item)))
