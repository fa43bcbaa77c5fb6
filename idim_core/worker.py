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
import shutil
import sys
import time
from pathlib import Path

from .errors import UserError
from .store import UNREADABLE, Store, TakenOver, default_home, owner_id, unreadable_error

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


class _Log:
    """The worker's log (stderr; the app points it at worker.log): a message repeated within ``every``
    seconds is counted, not written again, and worker.log is cut to ``max_bytes`` (the older half kept as
    worker.log.1), so a worker that meets the same problem again and again cannot fill the disk."""

    def __init__(self, home: Path, every: float = 60.0, max_bytes: int | None = None):
        self.home, self.every = home, every
        self.max_bytes = max_bytes if max_bytes is not None else int(os.environ.get("IDIM_WORKER_LOG_MAX", 1_000_000))
        self._last: dict[str, float] = {}
        self._muted: dict[str, int] = {}
        self._rotate()

    def __call__(self, msg: str, key: str | None = None) -> None:
        key = key or msg
        now = time.monotonic()
        if key in self._last and now - self._last[key] < self.every:
            self._muted[key] = self._muted.get(key, 0) + 1
            return
        muted = self._muted.pop(key, 0)
        self._last[key] = now
        if len(self._last) > 1000:  # many different messages: forget the oldest
            for k in sorted(self._last, key=self._last.get)[:500]:
                self._last.pop(k)
        print(msg + (f" (and {muted} more like it since)" if muted else ""), file=sys.stderr, flush=True)
        self._rotate()

    def _rotate(self) -> None:
        """Keep worker.log (when it is this process's stderr) under max_bytes."""
        try:
            st = os.fstat(sys.stderr.fileno())
            log = self.home / "worker.log"
            if st.st_size <= self.max_bytes or not log.exists() or not os.path.samestat(st, os.stat(log)):
                return
            shutil.copyfile(log, self.home / "worker.log.1")
            os.ftruncate(sys.stderr.fileno(), 0)  # the app opens it for appending: writes go on at the start
        except (OSError, ValueError, AttributeError):
            pass


def main(home: str | None = None, once: bool = False, poll: float = 1.0) -> int:
    """Serve the store's queue.  ``once``: train what is queued now, then return (always returns)."""
    if not poll > 0 or poll != poll:
        raise UserError(f"--poll must be a positive number of seconds, not {poll:g}")
    store = Store(home)
    if store.readonly:
        raise UserError(f"the run store {store.path} is read-only here and the worker must write to it; "
                        "fix its permissions or set IDIM_HOME to a writable directory")
    lock = _lock(store.home)
    if lock is None:
        print(f"idim worker: another worker is already running for {store.home}", file=sys.stderr)
        return 0
    log = _Log(store.home)
    owner = owner_name()
    try:
        _refuse_damaged(store)
        identity = store.identity()
        log(f"idim worker {os.getpid()}: watching {store.path}")
        if not once and os.environ.get("IDIM_WORKER_WARM", "1") != "0" and _next(store) is None:
            _warm_default(store.home)
        return _serve(store, log, owner, identity, once, poll)
    except KeyboardInterrupt:
        return 0
    finally:
        lock.close()


def _refuse_damaged(store: Store) -> None:
    """A UserError when the store fails SQLite's integrity check (a copy kept where one can be made)."""
    problem = store.quick_check()
    if problem:
        try:
            where = f"a copy was kept at {store.backup_copy()}"
        except OSError as e:
            where = f"no copy could be made ({e.strerror or e})"
        raise UserError(f"the run store {store.path} failed SQLite's integrity check ({problem}); the worker "
                        f"will not write to it, {where}: "
                        "move the store aside (or restore a backup) and start again")


def _serve(store: Store, log: _Log, owner: str, identity, once: bool, poll: float) -> int:
    """The queue loop: the next run, trained, until the store goes, idles out or (``once``) empties."""
    from .common import env_seconds

    idle_limit = env_seconds("IDIM_WORKER_IDLE_S", 1800.0)
    last_busy = time.monotonic()
    skip: set[str] = set()  # runs this worker could neither start nor mark failed (a full disk)
    tried: set[str] = set()  # --once: each run at most once
    pause = poll
    while True:
        if not store.home.is_dir():  # the store was deleted: nothing left to serve
            log(f"idim worker: {store.home} is gone; exiting")
            return 0
        if store.identity() != identity:  # deleted (and maybe made anew): a new worker serves the new one
            log(f"idim worker: {store.path} was deleted or replaced; exiting (a new worker serves the new store)")
            return 0
        try:
            run_id = _next(store, skip | tried)
        except UserError as e:  # a locked, full or failing store: say so (once a minute), wait, try again
            log(f"idim worker: cannot read the queue: {e}")
            if once:
                return 2
            time.sleep(pause)
            pause = min(pause * 2, 30.0)
            continue
        pause = poll
        if run_id is None:
            if once:
                return 0
            if time.monotonic() - last_busy > idle_limit:  # the app starts a new one on demand
                log(f"idim worker: idle for {idle_limit:.0f} s; exiting")
                return 0
            time.sleep(poll)
            continue
        if once:
            tried.add(run_id)
        last_busy = time.monotonic()
        if _train(store, run_id, log, owner, skip, poll):
            last_busy = time.monotonic()


def _train(store: Store, run_id: str, log: _Log, owner: str, skip: set[str], poll: float) -> bool:
    """Train one queued run, or mark it failed; False when another process took it over (added to ``skip``)."""
    from .runner import Runner

    msg = _start_problem(store, run_id)
    if msg is None:
        try:
            Runner(store, run_id, owner=owner, warm=True).run()
        except TakenOver as e:  # resumed elsewhere while this worker was stopped: not this worker's now
            log(f"idim worker: {e}", key=f"lost:{run_id}")
            skip.add(run_id)
            return False
        except UserError as e:
            msg = str(e)
        except Exception as e:  # the run is marked failed; the worker keeps serving
            from .errors import unexpected

            msg = unexpected(e)
    if msg is not None:
        log(f"idim worker: run {run_id} failed: {msg}", key=f"failed:{run_id}")
        if not _give_up(store, run_id, msg, owner):
            skip.add(run_id)
            log(f"idim worker: run {run_id} could not be marked failed; skipped until the worker restarts",
                key=f"skip:{run_id}")
            time.sleep(poll)
    return True


def _start_problem(store: Store, run_id: str) -> str | None:
    """Why a run cannot start at all (its settings unreadable), before a Runner tries."""
    try:
        run = store.get_run(run_id)
    except UserError as e:
        return str(e)
    if run is None:
        return None
    if run["config"].get(UNREADABLE):
        return unreadable_error(run_id)
    return None


def _give_up(store: Store, run_id: str, msg: str, owner: str) -> bool:
    """Mark a run that could not run failed (with ``msg``); True when it no longer waits in the queue."""
    try:
        store.fail_unstarted(run_id, msg, owner)
        return store.status_of(run_id) not in ("queued", "interrupted", "running")
    except UserError:
        return False


def _warm_default(home) -> None:
    """Load the default model and task while idle, so the first run starts training at once, and time a
    few of its steps: the estimates then speak of this machine (calibrate.py)."""
    from .prep import pick_device, prepare_warm
    from .runconfig import make_config

    try:
        t = time.perf_counter()
        cfg, device = make_config(), pick_device()
        prep, _, _ = prepare_warm(cfg, device)
        print(f"idim worker: default model and task ready ({time.perf_counter() - t:.1f} s)",
              file=sys.stderr, flush=True)
        if os.environ.get("IDIM_WORKER_CALIBRATE", "1") != "0":
            from .calibrate import calibrate_run

            entry = calibrate_run(home, cfg, device, prep)
            print(f"idim worker: this machine takes {entry['seconds_per_step']:.2f} s per full fine-tuning step of "
                  f"{cfg.model} (the estimates use it)", file=sys.stderr, flush=True)
    except Exception as e:  # never fatal: the run loads what it needs itself
        print(f"idim worker: could not preload the default model ({e})", file=sys.stderr, flush=True)


def _next(store: Store, skip: set[str] = frozenset()) -> str | None:
    """A queued run, else a worker-owned run left interrupted by a dead worker (none in ``skip``)."""
    for rid in store.queued_ids():
        if rid not in skip:
            return rid
    for r in store.list_runs():
        if r["id"] in skip or r["config"].get(UNREADABLE):
            continue
        if r["status"] == "interrupted" and str(r.get("owner") or "").startswith("worker:") and r.get("heartbeat"):
            return r["id"]
    return None


def _cli() -> int:
    try:
        return main(*(sys.argv[1:2] or [None]))
    except UserError as e:
        print(f"idim worker: {e}", file=sys.stderr)
        return 2


if __name__ == "__main__":
    sys.exit(_cli())
