"""App side: the store for this session's thread, the background worker, the device (no torch)."""
from __future__ import annotations

import os
import platform
import shutil
import subprocess
import sys
import threading
import time
from pathlib import Path

from ..store import Store, default_home

NO_AUTOSTART_ENV = "IDIM_NO_AUTOSTART_WORKER"


ROOT = Path(__file__).resolve().parents[2]  # the project root


EXAMPLE_RUN = ROOT / "assets" / "example_run.json"


_local = threading.local()


def get_store() -> Store:
    """A Store for the current home ($IDIM_HOME or the per-user default).

    One connection per thread: a sqlite3 connection must not run transactions
    from two threads at once, and Streamlit runs each session in its own thread.
    """
    home = str(default_home())
    cache = getattr(_local, "stores", None)
    if cache is None:
        cache = _local.stores = {}
    store = cache.get(home)
    if store is None:
        store = cache[home] = Store(home)
    return store


_last_start: dict[str, float] = {}


_start_lock = threading.Lock()


def ensure_worker(home: str | Path | None = None) -> str:
    """Start a background worker for this store unless one runs.

    Returns "running", "started", "disabled" (IDIM_NO_AUTOSTART_WORKER=1) or "read-only" (the
    store's directory cannot be written: no worker can run there).
    Two tabs racing here are harmless: the worker takes a file lock and a
    second one exits at once.
    """
    from ..worker import worker_running

    if os.environ.get(NO_AUTOSTART_ENV, "").lower() in ("1", "true", "yes", "on"):
        return "disabled"
    home = Path(home) if home else default_home()
    key = str(home)
    with _start_lock:
        try:
            if worker_running(home):
                return "running"
        except OSError:
            return "read-only"
        if time.time() - _last_start.get(key, 0.0) < 10.0:
            return "started"  # just started; it is still importing before it takes the lock
        try:
            home.mkdir(parents=True, exist_ok=True)
            log = open(home / "worker.log", "ab")
        except OSError:
            return "read-only"  # a store this process cannot write: runs can be read, nothing trains here
        env = dict(os.environ, IDIM_HOME=str(home))
        env.setdefault("TOKENIZERS_PARALLELISM", "false")
        subprocess.Popen([sys.executable, "-m", "idim_core.worker", str(home)], cwd=str(ROOT), env=env,
                         stdin=subprocess.DEVNULL, stdout=log, stderr=log, start_new_session=True,
                         close_fds=True)
        log.close()
        _last_start[key] = time.time()
        return "started"


_device_cache: dict[str, str] = {}


def detect_device() -> str:
    """What the worker will train on: 'cuda (GPU name)', 'mps' or 'cpu'.

    Decided without importing torch: the installed torch build (a "+cpu" build
    never uses a GPU), nvidia-smi for CUDA, Apple silicon for MPS.  Cached.
    """
    if "device" in _device_cache:
        return _device_cache["device"]
    device = "cpu"
    try:
        from importlib import metadata, util

        has_torch = util.find_spec("torch") is not None
        version = metadata.version("torch") if has_torch else ""
    except Exception:
        has_torch, version = False, ""
    if has_torch and "+cpu" not in version and shutil.which("nvidia-smi"):
        try:
            out = subprocess.run(["nvidia-smi", "--query-gpu=name", "--format=csv,noheader"],
                                 capture_output=True, text=True, timeout=5)
            names = [n.strip() for n in out.stdout.splitlines() if n.strip()]
            if out.returncode == 0 and names:
                device = f"cuda ({names[0]})"
        except (OSError, subprocess.SubprocessError):
            pass
    if device == "cpu" and has_torch and sys.platform == "darwin" and platform.machine() == "arm64":
        device = "mps"
    _device_cache["device"] = device
    return device
