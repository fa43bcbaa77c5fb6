"""The local executor: trials train on this machine (a laptop, a class).

By default in this process, one after another.  With ``--processes N`` (N > 1) they train N at a time, each
in a worker process of its own with its share of the CPU threads: the classic nets' steps are too small for
two threads to speed one of them up much, and two one-thread trials side by side finish sooner on two cores
(bench/parallel.json; bench/RESULTS.md, "Two trials side by side").  The default (``processes`` unset) is two
processes for the classic nets on a CPU with two or more cores when the run has trials to train side by side (on
the 8 x 8 digits, with two or more seeds), else this process (``processes_for``).

The worker processes are spawned when the run's first trial is submitted and ended with the run.  Each
rebuilds the run's model from its name and the owner's initial weights (pre-training included) and receives
the prepared data once; trials are handed out one at a time as processes come free; a trial's points, its
result or its error come back through a queue, and this process stays the only writer of the store.  The
d values tried are the same as in this process: the adaptive search still probes one d at a time
(``search_slots``), the grid and its refinement are the same lists.
"""
from __future__ import annotations

import os
import pickle
import time
from typing import Callable

from ..errors import UserError

NAME = "local"
LABEL = "this machine"
HELP = "this machine: this process, or --processes N worker processes side by side"
ORDER = 0
SERVED = True  # the app served to a class trains here
OPTIONS = (
    ("processes", int, None, "trials trained at once, each in a worker process of its own with its share of the "
                             "CPU threads (default: 2 for the classic nets (on 8x8 digits: with 2+ seeds) on a CPU "
                             "with 2 or more cores, else 1: this process)", "Processes"),
)
def max_processes() -> int:
    """At most one worker process per CPU core: more only share the cores (and each holds its own copy of the
    model and the data), which a visitor of the served app must not be able to ask of the server."""
    return max(1, os.cpu_count() or 1)

POLL = 0.25  # seconds between the owner's looks at results and cancel requests
PUSH_EVERY = 0.5  # a worker process sends a trial's curve at most this often (and at every evaluation)
START_TIMEOUT = 300.0  # a worker process that has not loaded the model after this long is reported
KILL_D_ENV = "IDIM_PROCESSES_TEST_KILL_D"  # tests: a worker process dies (os._exit) as a trial at this d starts


def executor_class():
    return LocalExecutor


def processes_for(cfg, device: str = "cpu", cores: int | None = None) -> int:
    """How many trials of ``cfg`` train at once: ``processes`` when given, else the default rule."""
    n = cfg.option("processes")
    if n:
        return int(n)
    from ..classic import is_classic_model, side_of

    cores = cores if cores is not None else (os.cpu_count() or 1)
    if str(device).split(":")[0] != "cpu" or cores < 2 or not is_classic_model(cfg.model):
        return 1
    one_seed = int(cfg.seeds or 1) < 2
    if side_of(cfg.task) < 28 and one_seed:
        return 1  # 8x8 digits, one seed: a sweep of seconds on a fast machine, about what two processes take to start
    if cfg.auto and one_seed:
        return 1  # the search probes one d at a time: with one seed there is one trial to train at a time
    return 2


slots_for = processes_for  # the registry's name for it: what the estimate asks every executor


def check(cfg, given: dict) -> None:
    """Torch-free: --processes is a whole number of processes, and more than one trains on the CPU."""
    n = cfg.option("processes")
    if n is None:
        return
    top = max_processes()
    if isinstance(n, bool) or not isinstance(n, int) or n < 1:
        raise UserError(f"--processes must be a whole number from 1 to {top} (this machine's CPU cores), got {n!r}")
    if n > top:
        raise UserError(f"--processes {n} is more than this machine's {top} CPU core{'s' if top != 1 else ''}; "
                        f"use at most {top}")
    if n > 1 and str(cfg.device or "auto").split(":")[0] in ("cuda", "mps"):
        raise UserError("--processes above 1 trains on the CPU only; leave it out (or 1) with --device "
                        f"{cfg.device}")


def live_facts(stored_cfg: dict, summary: dict) -> dict | None:
    n = summary.get("slots") if summary.get("executor") == NAME else None
    if not n or n < 2:
        return None
    # the device stays Live's metric: only a caption says how the trials train
    return {"caption": f"Trials train {n} at a time, side by side in worker processes on this machine; the worker "
                       "collects their results and writes the store."}


def form(box, key) -> dict:
    """Explore's field for this executor's option (``box``: a Streamlit container; ``key(name)``: a widget key)."""
    n = box.number_input("Processes", 0, max_processes(), 0, 1, key=key("processes"),
                         help="Trials trained at once, each in a worker process of its own; 0: automatic (2 for "
                              "the classic nets (on 8x8 digits: with 2 or more seeds) on a CPU with 2 or more cores, "
                              "else 1).")
    return {"processes": int(n) or None}


class LocalExecutor:
    name = NAME
    search_slots = 1  # the adaptive search probes one d at a time here: the same d values whatever ``slots`` is
    hands_out_ahead = True  # with slots: the first trial, baselines, probes and grid go out together (runner)

    def __init__(self, prep, cfg, should_stop: Callable[[], bool]):
        self.prep, self.cfg = prep, cfg
        self._stop = should_stop
        self._cancelled = False
        self._pending: list[tuple] = []
        self.slots = processes_for(cfg, str(prep.device))
        if self.slots > 1 and prep.device.type != "cpu":
            raise UserError("--processes above 1 trains on the CPU only")
        if self.slots > 1:  # the run's threads (--threads, else torch's default: one per physical core), shared out
            import torch

            self.threads = max(1, torch.get_num_threads() // self.slots)
        else:
            self.threads = None
        self._pool: _Pool | None = None
        self.lost_reason = None if self.slots == 1 else "its worker process died"

    def should_stop(self) -> bool:
        return self._cancelled or self._stop()

    def submit(self, spec, on_start: Callable[[], None], on_point: Callable[[dict], None]) -> None:
        self._pending.append((spec, on_start, on_point))

    def wait(self):
        """Train every submitted trial, yielding each result as it finishes.  An exception (Cancelled included)
        is yielded and ends the wait."""
        if self.slots > 1:
            if self._pool is None:
                self._pool = _Pool(self.prep, self.cfg, self.slots, self.threads)
            pending, self._pending = self._pending, []
            yield from self._pool.run(pending, self.should_stop)
            return
        from ..train import run_trial

        while self._pending:
            spec, on_start, on_point = self._pending.pop(0)
            on_start()
            try:
                res = run_trial(self.prep, self.cfg, d=spec.d, seed=spec.seed, on_point=on_point,
                                should_stop=self.should_stop, probe=spec.kind == "probe", **spec.part())
            except Exception as e:  # noqa: BLE001 - handed to the owner, which records and decides
                self._pending.clear()
                yield spec, e
                return
            yield spec, res

    def describe(self) -> str | None:
        if self.slots == 1:
            return None  # the default: nothing to say where trials train
        return (f"trials train {self.slots} at a time in worker processes on this machine "
                f"({self.threads} CPU thread{'s' if self.threads != 1 else ''} each)")

    def cancel(self) -> None:
        self._cancelled = True
        self._pending.clear()
        if self._pool is not None:
            self._pool.stop.set()

    def close(self) -> None:
        """End the worker processes (the run is over)."""
        if self._pool is not None:
            self._pool.close()
            self._pool = None


# ---------------------------------------------------------------------------
# the worker processes
# ---------------------------------------------------------------------------
def _portable(e: BaseException) -> Exception:
    """An exception that survives the trip between processes (its type kept when it pickles)."""
    try:
        back = pickle.loads(pickle.dumps(e))
        if isinstance(back, Exception) and str(back) == str(e):
            return back
    except Exception:  # noqa: BLE001 - some exceptions do not pickle: their words do
        pass
    return RuntimeError(f"{type(e).__name__}: {e}")


def _rebuild(cfg, state: dict, data: tuple):
    """The run's Prepared in a worker process: the model built by name, the owner's initial weights loaded."""
    import torch

    from ..classic import build, is_classic_model, side_of
    from ..train import Prepared

    train, val, test, pad_id, num_labels, seed_states = data
    if is_classic_model(cfg.model):
        module = build(cfg.model, side_of(cfg.task), num_labels, cfg.init_seed or 0, cfg.width)
    else:
        from ..models import load_model

        module = load_model(cfg.model, num_labels, cfg.init_seed or 0).module
    module.load_state_dict(state)
    seed_modules = None
    if seed_states:  # pre-trained: each seed's own theta0
        seed_modules = {}
        for s, st in seed_states.items():
            m = build(cfg.model, side_of(cfg.task), num_labels, cfg.init_seed or 0, cfg.width)
            m.load_state_dict(st)
            seed_modules[s] = m
    return Prepared(module, None, train, val, test, pad_id, torch.device("cpu"), num_labels, seed_modules)


def _die_with(parent: int) -> Callable[[], bool]:
    """This worker process ends with its owner: at once on Linux (the kernel's parent-death signal), else
    within a second (a check of the parent's pid).  Returns a cheap check: has the owner gone?"""
    import signal

    try:
        import ctypes

        ctypes.CDLL("libc.so.6", use_errno=True).prctl(1, signal.SIGKILL)  # PR_SET_PDEATHSIG
    except (OSError, AttributeError):  # not Linux: the check below does it
        pass
    last = [time.monotonic(), False]

    def gone() -> bool:
        now = time.monotonic()
        if now - last[0] >= 1.0:
            last[0], last[1] = now, os.getppid() != parent
        return last[1]

    return gone


def _serve(cfg, state, data, threads: int, tasks, results, stop, parent: int) -> None:
    """A worker process: load once, then train the trials handed to it until told to end (None)."""
    import queue

    import torch

    gone = _die_with(parent)
    if gone() or os.getppid() != parent:
        return
    torch.set_num_threads(threads)
    from .. import yielding

    yielding.allowed = False  # trials side by side share the cores out between them already
    pid = os.getpid()
    try:
        from ..train import Cancelled, run_trial

        prep = _rebuild(cfg, state, data)
    except BaseException as e:  # noqa: BLE001 - the owner says it once, in words
        results.put(("broken", None, pid, _portable(e)))
        return
    del state, data
    results.put(("ready", None, pid, None))
    kill_d = os.environ.get(KILL_D_ENV)
    while True:
        try:
            spec = tasks.get(timeout=1.0)
        except queue.Empty:
            if os.getppid() != parent:
                return  # the owner is gone
            continue
        if spec is None:
            return
        key = (spec.kind, spec.d, spec.seed)
        results.put(("start", key, pid, None))
        if kill_d and str(spec.d) == kill_d:
            time.sleep(0.2)  # the start reaches the owner first
            os._exit(1)
        buf: list[dict] = []
        last = [0.0]

        def flush(buf=buf, key=key, last=last):  # bound now: this trial's buffer, even after the loop moves on
            if buf:
                results.put(("points", key, pid, list(buf)))
                buf.clear()
            last[0] = time.monotonic()

        def on_point(p, buf=buf, last=last, flush=flush):
            buf.append(p)
            if p.get("accuracy") is not None or time.monotonic() - last[0] >= PUSH_EVERY:
                flush()

        try:
            res = run_trial(prep, cfg, d=spec.d, seed=spec.seed, on_point=on_point,
                            should_stop=lambda: stop.is_set() or gone(), probe=spec.kind == "probe", **spec.part())
        except Cancelled:
            flush()
            results.put(("cancelled", key, pid, None))
            continue
        except Exception as e:  # noqa: BLE001 - the owner records it and ends the run
            flush()
            results.put(("error", key, pid, _portable(e)))
            continue
        flush()
        res.curve = res.curve[-1:]  # the owner has the curve already (through the points)
        res.test = None  # a closure over this process's model: the kept attempt's test pass already ran
        try:
            blob = pickle.dumps(res)
        except Exception as e:  # noqa: BLE001
            results.put(("error", key, pid, RuntimeError(f"the trial's result could not be sent back ({e})")))
            continue
        results.put(("done", key, pid, blob))


class _Pool:
    """N spawned worker processes sharing one queue of trials; the owner hands out one per free process."""

    def __init__(self, prep, cfg, n: int, threads: int):
        import multiprocessing as mp

        ctx = mp.get_context("spawn")  # a fresh interpreter: no torch thread pool or lock inherited by fork
        # the resource tracker (started with the first queue, from this environment) would print a Python warning
        # about a semaphore a terminated process left behind into the worker's log; it is cleanup noise, not news
        quiet = "ignore::UserWarning:multiprocessing.resource_tracker"
        if quiet not in os.environ.get("PYTHONWARNINGS", ""):
            os.environ["PYTHONWARNINGS"] = ",".join(w for w in (os.environ.get("PYTHONWARNINGS"), quiet) if w)
        self.n, self.ctx = n, ctx
        self.tasks, self.results, self.stop = ctx.Queue(), ctx.Queue(), ctx.Event()
        state = {k: v.detach().to("cpu").clone() for k, v in prep.module.state_dict().items()}
        seed_states = {s: {k: v.detach().to("cpu").clone() for k, v in m.state_dict().items()}
                       for s, m in (prep.seed_modules or {}).items()}
        data = (prep.train, prep.val, prep.test, prep.pad_id, prep.num_labels, seed_states)
        self._args = (cfg, state, data, threads, self.tasks, self.results, self.stop, os.getpid())
        self.procs = {}
        for _ in range(n):
            self._spawn()
        self.ready: set[int] = set()
        self.busy: dict[int, tuple] = {}  # pid -> the trial's key
        self.handed = 0  # trials handed out and not yet taken or finished

    def _spawn(self) -> None:
        p = self.ctx.Process(target=_serve, args=self._args, daemon=True, name="idim-trial")
        p.start()
        self.procs[p.pid] = p

    def run(self, pending: list[tuple], should_stop: Callable[[], bool]):
        """Train ``pending`` ((spec, on_start, on_point) each), yielding (spec, result | exception) as each ends."""
        from ..train import Cancelled
        from .base import TrialLost

        queue = list(pending)
        by_key = {(sp.kind, sp.d, sp.seed): (sp, on_start, on_point) for sp, on_start, on_point in pending}
        open_keys = set(by_key)
        started = looked = time.monotonic()
        while open_keys:
            # cancel requests on a clock, not only when the queue is quiet: two busy processes can keep it from
            # ever being quiet for a whole POLL (a message in hand was handled first: a finished trial is kept)
            if time.monotonic() - looked >= POLL:
                looked = time.monotonic()
                if should_stop():
                    self.stop.set()
                    yield by_key[next(iter(open_keys))][0], Cancelled()
                    return
            while queue and self.handed + len(self.busy) < len(self.procs):
                self.tasks.put(queue.pop(0)[0])
                self.handed += 1
            try:
                kind, key, pid, payload = self.results.get(timeout=POLL)
            except Exception:  # queue.Empty: look at the processes
                kind = None
            if kind is None:
                for pid, p in list(self.procs.items()):
                    if p.is_alive():
                        continue
                    del self.procs[pid]
                    self.ready.discard(pid)
                    key = self.busy.pop(pid, None)
                    if key is not None and key in open_keys:
                        open_keys.discard(key)
                        yield by_key[key][0], TrialLost(f"its worker process ended (exit code {p.exitcode}); "
                                                        "`idim resume` reruns this trial")
                    self._spawn()  # the next trial gets a fresh process
                if not self.ready and time.monotonic() - started > START_TIMEOUT:
                    self.stop.set()
                    yield by_key[next(iter(open_keys))][0], UserError(
                        f"the worker processes did not start in {START_TIMEOUT:.0f} s; try --processes 1")
                    return
                continue
            if kind == "ready":
                self.ready.add(pid)
            elif kind == "broken":
                self.stop.set()
                yield by_key[next(iter(open_keys))][0], UserError(
                    f"a worker process could not load the run's model and data ({payload}); try --processes 1")
                return
            elif kind == "start":
                self.handed -= 1
                self.busy[pid] = key
                if key in by_key:
                    by_key[key][1]()
            elif kind == "points":
                if key in by_key:
                    for p in payload:
                        by_key[key][2](p)
            else:  # done, error, cancelled: the trial is over
                self.busy.pop(pid, None)
                if key not in open_keys:
                    continue
                open_keys.discard(key)
                spec = by_key[key][0]
                if kind == "done":
                    yield spec, pickle.loads(payload)
                else:  # an error or a cancel ends the wait; the owner cancels the rest
                    self.stop.set()
                    yield spec, (payload if kind == "error" else Cancelled())
                    return

    def close(self) -> None:
        self.stop.set()
        for _ in self.procs:
            try:
                self.tasks.put(None)
            except Exception:  # noqa: BLE001 - the queue is gone with its processes
                pass
        deadline = time.monotonic() + 5.0
        for p in self.procs.values():
            p.join(max(0.0, deadline - time.monotonic()))
            if p.is_alive():
                p.terminate()
                p.join(1.0)
        for q in (self.tasks, self.results):
            q.cancel_join_thread()
            q.close()
        self.procs.clear()
