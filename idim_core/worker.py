"""The background worker: trains queued runs, one at a time, one worker per machine.

Start it with `idim worker` or `python -m idim_core.worker` (the app starts one when
none is running).  A file lock in the store directory guarantees a single worker:
a second one exits at once.  The worker claims queued runs in order, heart-beats
while training, honours cancel requests between steps, and picks up runs it owned
that were interrupted (a crash or a kill), continuing from their last finished trial.
It exits after ``IDIM_WORKER_IDLE_S`` seconds (default 1800) without a run to train, and
at once when its store directory disappears; the app starts a new one on demand.
"""
from __future__ import annotations

import os
import sys
import time
from pathlib import Path

from .errors import UserError
from .store import Store, default_home, owner_id

LOCK_NAME = "worker.lock"


def _lock(home: Path):
    """Take the machine-wide worker lock; None if another worker holds it."""
    path = home / LOCK_NAME
    f = open(path, "a+")
    try:
        import fcntl

        fcntl.flock(f.fileno(), fcntl.LOCK_EX | fcntl.LOCK_NB)
    except ImportError:  # pragma: no cover - Windows
        import msvcrt

        try:
            msvcrt.locking(f.fileno(), msvcrt.LK_NBLCK, 1)
        except OSError:
            f.close()
            return None
    except OSError:
        f.close()
        return None
    f.seek(0)
    f.truncate()
    f.write(str(os.getpid()))
    f.flush()
    return f


def worker_running(home: str | Path | None = None) -> bool:
    """True when some process holds the worker lock for this store."""
    store_home = Path(home) if home else default_home()
    store_home.mkdir(parents=True, exist_ok=True)
    f = _lock(store_home)
    if f is None:
        return True
    f.close()  # releases the lock
    return False


def owner_name() -> str:
    return owner_id("worker:")


def main(home: str | None = None, once: bool = False, poll: float = 1.0) -> int:
    from .sweep import Runner

    store = Store(home)
    lock = _lock(store.home)
    if lock is None:
        print(f"idim worker: another worker is already running for {store.home}", file=sys.stderr)
        return 0
    owner = owner_name()
    print(f"idim worker {os.getpid()}: watching {store.path}", file=sys.stderr, flush=True)
    try:
        if not once and os.environ.get("IDIM_WORKER_WARM", "1") != "0" and _next(store) is None:
            _warm_default()
        from .common import env_seconds

        idle_limit = env_seconds("IDIM_WORKER_IDLE_S", 1800.0)
        last_busy = time.monotonic()
        while True:
            if not store.home.is_dir():  # the store was deleted: nothing left to serve
                print(f"idim worker: {store.home} is gone; exiting", file=sys.stderr, flush=True)
                return 0
            run_id = _next(store)
            if run_id is None:
                if once:
                    return 0
                if time.monotonic() - last_busy > idle_limit:  # the app starts a new one on demand
                    print(f"idim worker: idle for {idle_limit:.0f} s; exiting", file=sys.stderr, flush=True)
                    return 0
                time.sleep(poll)
                continue
            last_busy = time.monotonic()
            try:
                Runner(store, run_id, owner=owner, warm=True).run()
            except UserError as e:
                print(f"idim worker: run {run_id} failed: {e}", file=sys.stderr, flush=True)
            except Exception as e:  # the run is marked failed; the worker keeps serving
                print(f"idim worker: run {run_id} failed: {type(e).__name__}: {e}", file=sys.stderr, flush=True)
            last_busy = time.monotonic()
    except KeyboardInterrupt:
        return 0
    finally:
        lock.close()


def _warm_default() -> None:
    """Load the default model and task while idle, so the first run starts training at once."""
    from .sweep import make_config, pick_device, prepare_warm

    try:
        t = time.perf_counter()
        prepare_warm(make_config(), pick_device())
        print(f"idim worker: default model and task ready ({time.perf_counter() - t:.1f} s)", file=sys.stderr, flush=True)
    except Exception as e:  # never fatal: the run loads what it needs itself
        print(f"idim worker: could not preload the default model ({e})", file=sys.stderr, flush=True)


def _next(store: Store) -> str | None:
    """A queued run, else a worker-owned run left interrupted by a dead worker."""
    run_id = store.next_queued()
    if run_id:
        return run_id
    for r in store.list_runs():
        if r["status"] == "interrupted" and str(r.get("owner") or "").startswith("worker:") and r.get("heartbeat"):
            return r["id"]
    return None


if __name__ == "__main__":
    sys.exit(main(*(sys.argv[1:2] or [None])))
