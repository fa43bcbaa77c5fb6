"""The Ray executor: each trial is a Ray task on a cluster (or a local Ray instance).

The owning process (the worker, or a foreground `idim run`) stays the only writer of
the SQLite store: Ray tasks return their ``TrialResult`` and send their step curve to a
small progress actor at most ``PUSH_EVERY`` seconds apart; the owner drains that actor
and collects results with ``ray.wait`` in completion order.

- The tokenised splits go into Ray's object store once per run (``ray.put``); the model
  is resolved by name on the node (nodes need the same Python environment: idim, its
  bundled model package, the same torch; ``IDIM_RAY_RUNTIME_ENV`` passes a Ray
  ``runtime_env`` as JSON).
- A Ray worker process that dies mid-trial is retried up to ``MAX_RETRIES`` times by Ray
  itself; a retried attempt starts its trial's curve afresh (its points are never stored
  twice).  After the retries the trial is reported lost: the trials already submitted
  finish, then the run ends failed naming it, and `idim resume` reruns it.
- A local Ray instance (no ``--ray-address``) listens on 127.0.0.1 only.
- Cancel: the owner sees the request within ``POLL`` seconds, ``ray.cancel``s every
  outstanding task and the tasks stop at their next step.
"""
from __future__ import annotations

import json
import os
import socket
import threading
import time
from typing import Callable

from ..errors import UserError
from .base import TrialLost

NAME = "ray"
LABEL = "Ray cluster"
HELP = "each trial a task on a Ray cluster; pip install -e \".[ray]\""
ORDER = 10
SERVED = False  # a visitor of the served app does not name a cluster for the server to join
# (name, type, default, help, the form's label): RunConfig fields and `idim run` flags
OPTIONS = (
    ("ray_address", str, None, "the cluster (HOST:PORT, ray://HOST:PORT or auto; default: start a local "
                                        "Ray instance)", "Ray address"),
    ("cpus_per_trial", float, None, "CPUs each trial asks for (default 1)", "CPUs per trial"),
    ("gpus_per_trial", float, None, "GPUs each trial asks for (default 0; fractions share a GPU)",
     "GPUs per trial"),
)
FLOAT_OPTIONS = ("cpus_per_trial", "gpus_per_trial")

POLL = 0.5  # seconds between the owner's looks at results, progress and cancel requests
PUSH_EVERY = 0.5  # a trial sends its curve at most this often (a few messages a second)
MAX_RETRIES = 2  # Ray re-runs a trial whose worker process died this many times
LOCAL_IP = "127.0.0.1"  # where a local Ray instance listens
KILL_ONCE_ENV = "IDIM_RAY_TEST_KILL_ONCE"  # tests: the first attempt's worker dies (a real os._exit)
KILL_D_ENV = "IDIM_RAY_TEST_KILL_D"  # tests: every attempt of the trials at this d dies (the trial is lost)
KILL_POINTS_ENV = "IDIM_RAY_TEST_KILL_POINTS"  # tests: a dying attempt first sends this many curve points


def _test_hooks() -> dict | None:
    """The fault-injection settings of the tests (environment variables of the owning process)."""
    once, d, pts = (os.environ.get(k) for k in (KILL_ONCE_ENV, KILL_D_ENV, KILL_POINTS_ENV))
    if not (once or d):
        return None
    return {"once": once, "d": int(d) if d and d.isdigit() else None,
            "points": int(pts) if pts and pts.isdigit() else 0}


def require_ray():
    # Ray holds repeated messages back to print them once, counted, and prints what it still holds when the
    # process exits, past the switch that silences its messages once a run is over (_errors_to_stderr): a lost
    # trial's "Task ... failed, 1 retries remaining" came after idim's own last line.  Each is printed as it comes.
    os.environ.setdefault("RAY_DEDUP_LOGS", "0")
    try:
        import ray  # noqa: F401
    except ImportError:
        raise UserError("--executor ray needs Ray: pip install -e \".[ray]\" (or pip install 'ray>=2.52')") from None
    return ray


def check_address(address: str | None) -> None:
    """An unreachable cluster address is one line now, not a hang later."""
    if not address or address == "auto" or address.startswith("local"):
        return
    hostport = address.split("://", 1)[-1].split("/", 1)[0]
    host, _, port = hostport.rpartition(":")
    if not host or not port.isdigit():
        raise UserError(f"--ray-address {address!r} is not HOST:PORT (or ray://HOST:PORT, or auto)")
    try:
        with socket.create_connection((host, int(port)), timeout=3):
            pass
    except OSError as e:
        raise UserError(f"the Ray cluster at {address} cannot be reached ({e.strerror or e}); start it with "
                        "`ray start --head` or check the address") from None


def _loopback_only() -> None:
    """Make a local Ray instance listen on 127.0.0.1 alone.  Ray turns a loopback ``_node_ip_address``
    into the machine's outward address unless it treats the machine as a single-node platform (its
    macOS/Windows rule, ``RAY_ENABLE_WINDOWS_OR_OSX_CLUSTER=0``); the variable reaches the processes
    Ray starts, the constant the Ray already imported here."""
    os.environ["RAY_ENABLE_WINDOWS_OR_OSX_CLUSTER"] = "0"
    try:
        from ray._private import ray_constants

        ray_constants.ENABLE_RAY_CLUSTER = False
    except (ImportError, AttributeError):  # another Ray layout: the address asked for still applies
        pass


def connect(address: str | None, cpus: int | None = None) -> str:
    """Join the cluster (or start a local Ray instance); its address, for the run's record."""
    ray = require_ray()
    check_address(address)
    if not ray.is_initialized():
        kw: dict = {"include_dashboard": False, "log_to_driver": False, "ignore_reinit_error": True,
                    "configure_logging": False}
        env = os.environ.get("IDIM_RAY_RUNTIME_ENV")
        if env:
            try:
                kw["runtime_env"] = json.loads(env)
            except ValueError:
                raise UserError("IDIM_RAY_RUNTIME_ENV is not valid JSON (a Ray runtime_env such as "
                                "{\"pip\": [\"idim\"]})") from None
        if address:
            kw["address"] = address
        else:
            # a local instance serves this process only: every port on the loopback interface (Ray
            # otherwise listens on all of them; token authentication, Ray >= 2.52, guards a cluster)
            _loopback_only()
            kw["_node_ip_address"] = LOCAL_IP
            if cpus:
                kw["num_cpus"] = cpus
        try:
            ray.init(**kw)
        except Exception as e:  # ConnectionError, RuntimeError from Ray
            raise UserError(f"cannot start or join Ray ({str(e).splitlines()[0] if str(e) else 'no detail given'})") \
                from None
        _errors_to_stderr()
    try:
        return ray.get_runtime_context().gcs_address
    except Exception:  # noqa: BLE001 - only for the record
        return address or "local"


_RAY_MESSAGES = {"quiet": False}  # set when the run is over: idim has said what became of every trial
_RAY_LOCK = threading.Lock()  # a message being printed is done before close() returns; none starts after it


def _quiet_aware(fn):
    """``fn`` (one of Ray's printers) sending to stderr while a run trains, and nothing once it is over."""
    def to_stderr(data, *args, **kwargs):
        with _RAY_LOCK:
            if _RAY_MESSAGES["quiet"]:
                return None
            return fn({**data, "is_err": True}, *args, **kwargs)

    to_stderr._idim_stderr = True
    return to_stderr


def _errors_to_stderr() -> None:
    """Ray's driver prints the cluster's error messages ("Task ... failed. There are 2 retries remaining")
    and its workers' output from threads of its own, on stdout, whenever they arrive, even after `idim run
    --json` has printed its object there.  stdout carries the JSON alone: they go to stderr while the run
    trains, and once it is over (``RayExecutor.close``) they are dropped, so that the last line is idim's own
    (a lost trial is named there).  Both of Ray's paths are covered: its error listener calls the module's
    printer, its log dispatcher holds the printer it was given at ``ray.init``."""
    try:
        from ray._private import worker as ray_worker

        if not getattr(ray_worker.print_to_stdstream, "_idim_stderr", False):
            ray_worker.print_to_stdstream = _quiet_aware(ray_worker.print_to_stdstream)
        from ray._private.ray_logging import global_worker_stdstream_dispatcher as disp

        with disp._lock:
            disp.handlers = [(n, h if getattr(h, "_idim_stderr", False) else _quiet_aware(h)) for n, h in disp.handlers]
    except (ImportError, AttributeError):  # another Ray layout: its messages print where it puts them
        pass


# ---------------------------------------------------------------------------
# what runs on a Ray node
# ---------------------------------------------------------------------------
_NODE_MODELS: dict[tuple, object] = {}


def _node_module(cfg, num_labels: int, device: str):
    """The run's model, built on this node by name (kept for the next task in the same worker process)."""
    key = (cfg.model, cfg.task, cfg.init_seed, num_labels, device)
    if key not in _NODE_MODELS:
        from ..classic import build, is_classic_model, side_of

        if is_classic_model(cfg.model):
            module = build(cfg.model, side_of(cfg.task), num_labels, cfg.init_seed or 0, cfg.width)
        else:
            from ..models import load_model

            module = load_model(cfg.model, num_labels, cfg.init_seed or 0).module
        _NODE_MODELS.clear()
        _NODE_MODELS[key] = module.to(device)
    return _NODE_MODELS[key]


_NODE_DATA: dict[str, tuple] = {}


def _node_trial(cfg, spec, data, data_key: str, sink, threads: int, device: str, kill_flag: dict | None):
    import copy
    import uuid

    import torch

    from ..train import Cancelled, Prepared, run_trial

    attempt = uuid.uuid4().hex  # Ray may run this task again (its worker died): the owner tells attempts apart
    key = (spec.kind, spec.d, spec.seed)
    buf: list[dict] = []
    hooks = kill_flag or {}
    once = hooks.get("once")
    if (once and not os.path.exists(once)) or (hooks.get("d") is not None and spec.d == hooks["d"]):
        # tests: a real worker death (os._exit), on the first attempt of the run's first trial ("once") or
        # on every attempt of the trials at one d ("d"); after sending a few curve points ("points")
        if once and not os.path.exists(once):
            open(once, "w").close()
        if hooks.get("points"):
            import ray

            ray.get(sink.push.remote(key, attempt, [{"step": i, "loss": 9.0, "accuracy": None}
                                                    for i in range(1, int(hooks["points"]) + 1)]))
        os._exit(1)
    torch.set_num_threads(max(1, threads))
    from .. import yielding

    yielding.allowed = False  # a node's threads are the cluster's to share out, not this machine's load to follow
    if data_key not in _NODE_DATA:
        # tensors read zero-copy from Ray's object store are read-only views, and batching from them
        # was many times slower than from a private copy (digits, 2 cores): one copy per run and worker
        _NODE_DATA.clear()
        _NODE_DATA[data_key] = copy.deepcopy(data)
    train, val, test, pad_id, num_labels = _NODE_DATA[data_key]
    prep = Prepared(_node_module(cfg, num_labels, device), None, train, val, test, pad_id, torch.device(device),
                    num_labels)
    state = {"last": 0.0, "stop": False, "checked": 0.0}

    def on_point(p):
        buf.append(p)
        now = time.monotonic()
        if now - state["last"] >= PUSH_EVERY or p.get("accuracy") is not None:
            sink.push.remote(key, attempt, list(buf))
            buf.clear()
            state["last"] = now

    def should_stop():
        now = time.monotonic()
        if now - state["checked"] >= 1.0:
            state["checked"] = now
            import ray

            state["stop"] = ray.get(sink.stopped.remote())
        return state["stop"]

    try:
        res = run_trial(prep, cfg, d=spec.d, seed=spec.seed, on_point=on_point, should_stop=should_stop,
                        probe=spec.kind == "probe", **spec.part())
    except Cancelled:
        return "cancelled"
    finally:
        if buf:
            sink.push.remote(key, attempt, list(buf))
    res.curve = res.curve[-1:]  # the owner has the curve already (through the sink)
    res.test = None
    return res


class _Sink:
    """A tiny actor: trials push their curve here (with their attempt's id), the owner drains it in
    order; it also carries the stop flag."""

    def __init__(self):
        self.points: dict = {}
        self._stop = False

    def push(self, key, attempt, pts):
        self.points.setdefault(key, []).append((attempt, pts))

    def drain(self):
        out, self.points = self.points, {}
        return out

    def stop(self):
        self._stop = True

    def stopped(self):
        return self._stop


# ---------------------------------------------------------------------------
# the owner's side
# ---------------------------------------------------------------------------
class RayExecutor:
    name = NAME
    lost_reason = f"its Ray worker died {MAX_RETRIES + 1} times"

    def __init__(self, prep, cfg, should_stop: Callable[[], bool]):
        ray = require_ray()
        self.cfg = cfg
        self._stop = should_stop
        self.cpus = float(cfg.option("cpus_per_trial") or 1)
        self.gpus = float(cfg.option("gpus_per_trial") or 0)
        self.address = connect(cfg.option("ray_address"))
        self.device = "cuda" if self.gpus > 0 else "cpu"
        have = ray.cluster_resources()
        for what, want in (("CPU", self.cpus), ("GPU", self.gpus)):
            if want > have.get(what, 0):
                raise UserError(f"each trial asks for {want:g} {what}s but the Ray cluster has {have.get(what, 0):g}; "
                                f"lower --{what.lower()}s-per-trial")
        with _RAY_LOCK:
            _RAY_MESSAGES["quiet"] = False  # this run's messages are shown (on stderr) while it trains
        self._remote = ray.remote(num_cpus=self.cpus, num_gpus=self.gpus, max_retries=MAX_RETRIES)(_node_trial)
        self._sink = ray.remote(num_cpus=0)(_Sink).remote()
        ray.get(self._sink.stopped.remote())  # the actor is up before any trial asks it
        self._data = ray.put((prep.train, prep.val, prep.test, prep.pad_id, prep.num_labels))
        self._pending: dict = {}  # ObjectRef -> (spec, on_point)
        self._by_key: dict = {}  # (kind, d, seed) -> (on_start, on_point)
        self._attempt: dict = {}  # (kind, d, seed) -> the attempt whose points the store holds
        self._cancelled = False

    @property
    def slots(self) -> int:
        """How many trials the cluster can train at once with the resources each asks for."""
        import ray

        res = ray.cluster_resources()
        n = res.get("CPU", 1) // max(self.cpus, 1e-9)
        if self.gpus > 0:
            n = min(n, res.get("GPU", 0) // self.gpus)
        return max(1, int(n))

    def describe(self) -> str:
        return f"trials run on Ray at {self.address} ({self.slots} at a time)"

    def submit(self, spec, on_start: Callable[[], None], on_point: Callable[[dict], None]) -> None:
        on_start()
        threads = int(self.cfg.threads or self.cpus or 1)
        ref = self._remote.remote(self.cfg, spec, self._data, self._data.hex(), self._sink, threads, self.device,
                                  _test_hooks())
        self._pending[ref] = (spec, on_point)
        self._by_key[(spec.kind, spec.d, spec.seed)] = (on_start, on_point)

    def _drain(self) -> None:
        """Hand the trials' new points to the owner.  A retried attempt starts the trial afresh
        (``on_start`` again: the owner drops the earlier attempt's points), so none is stored twice."""
        import ray

        for key, batches in ray.get(self._sink.drain.remote()).items():
            cbs = self._by_key.get(key)
            if not cbs:
                continue
            on_start, on_point = cbs
            for attempt, pts in batches:
                seen = self._attempt.get(key)
                if seen is not None and seen != attempt:
                    on_start()
                self._attempt[key] = attempt
                for p in pts:
                    on_point(p)

    def wait(self):
        """Yield (spec, TrialResult | Exception) in completion order; a cancel request yields Cancelled."""
        import ray

        from ..train import Cancelled

        while self._pending:
            ready, _ = ray.wait(list(self._pending), num_returns=1, timeout=POLL)
            self._drain()
            if not self._cancelled and self._stop():
                spec = next(iter(self._pending.values()))[0]
                self.cancel()
                yield spec, Cancelled()
                return
            for ref in ready:
                spec, _ = self._pending.pop(ref)
                try:
                    res = ray.get(ref)
                except (ray.exceptions.WorkerCrashedError, ray.exceptions.NodeDiedError,
                        ray.exceptions.TaskCancelledError) as e:
                    why = {"WorkerCrashedError": "its process crashed", "NodeDiedError": "its machine left the cluster",
                           "TaskCancelledError": "it was cancelled"}.get(type(e).__name__, "it was lost")
                    yield spec, TrialLost(f"the Ray worker died {MAX_RETRIES + 1} times ({why}); "
                                          f"`idim resume` reruns this trial")
                    continue
                except ray.exceptions.RayTaskError as e:
                    cause = e.as_instanceof_cause() if hasattr(e, "as_instanceof_cause") else e
                    yield spec, cause if isinstance(cause, Exception) else RuntimeError(str(e))
                    return
                if res == "cancelled":
                    self.cancel()
                    yield spec, Cancelled()
                    return
                self._drain()
                yield spec, res

    def close(self) -> None:
        """The run is over: Ray's late messages about its trials are not printed (idim has said what became of
        each); the cluster connection stays for the next run of this process."""
        with _RAY_LOCK:  # a message half printed is finished first; none is printed after
            _RAY_MESSAGES["quiet"] = True

    def cancel(self) -> None:
        import ray

        self._cancelled = True
        try:
            self._sink.stop.remote()
        except Exception:  # noqa: BLE001
            pass
        for ref in list(self._pending):
            try:
                ray.cancel(ref, force=True)
            except Exception:  # noqa: BLE001 - already finished
                pass
        self._pending.clear()


# ---------------------------------------------------------------------------
# the executor's own options: checks when a run is made, the preflight before it is stored, the form
# ---------------------------------------------------------------------------
def executor_class():
    return RayExecutor


def check(cfg, given: dict) -> None:
    """Torch- and Ray-free: the numbers make sense (the cluster is asked in ``preflight``)."""
    import math

    for key in FLOAT_OPTIONS:
        v = cfg.option(key)
        if v is not None and (isinstance(v, bool) or not isinstance(v, (int, float)) or not math.isfinite(v)
                              or v < 0 or (key == "cpus_per_trial" and v == 0)):
            raise UserError(f"--{key.replace('_', '-')} must be a positive number, got {v!r}")
    if cfg.pretrain:
        raise UserError("--pretrain runs on the local executor only; leave --executor out")


def live_facts(stored_cfg: dict, summary: dict) -> dict:
    where = summary.get("cluster") or stored_cfg.get("ray_address") or "a local Ray instance"
    return {"metric": "Ray", "help": "Each trial is a task on a Ray cluster; this machine's worker collects the "
                                     "results and writes the store.",
            "caption": f"Trials run on the Ray cluster at {where}"
                       + (f", {summary['slots']} at a time" if summary.get("slots") else "") + "."}


def form(box, key) -> dict:
    """Explore's fields for this executor's options (``box``: a Streamlit container; ``key(name)``: a widget key)."""
    r1, r2, r3 = box.columns([2, 1, 1])
    address = r1.text_input("Ray address", key=key("ray_address"), placeholder="blank: a local Ray instance",
                            help="HOST:PORT of the head node (or ray://HOST:PORT, or auto).").strip() or None
    cpus = r2.number_input("CPUs per trial", 0.25, 256.0, 1.0, 0.25, key=key("cpus_per_trial"))
    gpus = r3.number_input("GPUs per trial", 0.0, 16.0, 0.0, 0.25, key=key("gpus_per_trial"),
                           help="Fractions let several trials share one GPU.")
    return {"ray_address": address, "cpus_per_trial": float(cpus), "gpus_per_trial": float(gpus) or None}


_RAY_PROBE = ("import json, ray\n"
              "ray.init(address={!r}, include_dashboard=False, log_to_driver=False, configure_logging=False)\n"
              "print(json.dumps(ray.cluster_resources()))\n")


def preflight(cfg) -> None:
    """Ray is installed, the cluster exists and has what each trial asks for: checked before the run is stored.

    No cluster address: the local instance has this machine's CPUs and GPUs.  ``auto``: a running cluster must be
    found.  An address and --cpus/--gpus-per-trial: the cluster's resources are read in a child process (joining
    Ray here would tie this process, the app's among them, to the cluster)."""
    import os

    ray = require_ray()
    address = cfg.option("ray_address")
    cpus, gpus = cfg.option("cpus_per_trial"), cfg.option("gpus_per_trial")
    if address == "auto":
        try:
            from ray._private.services import get_ray_address_from_environment

            found = get_ray_address_from_environment("auto", None)
        except Exception:  # noqa: BLE001 - Ray says it in a ConnectionError; one sentence here
            found = None
        if not found or found == "auto":
            raise UserError("--ray-address auto found no running Ray cluster on this machine; start one with "
                            "`ray start --head`, give its HOST:PORT, or leave --ray-address out for a local instance")
        address = found
    check_address(address)
    if not address or address.startswith("local"):
        have_cpu = float(os.cpu_count() or 1)
        have_gpu = 0.0
        if gpus:
            import torch

            have_gpu = float(torch.cuda.device_count()) if torch.cuda.is_available() else 0.0
    elif cpus or gpus:
        import json
        import subprocess
        import sys

        try:
            out = subprocess.run([sys.executable, "-c", _RAY_PROBE.format(address)], capture_output=True, text=True,
                                 timeout=90)
            have = json.loads(out.stdout.strip().splitlines()[-1]) if out.returncode == 0 else None
        except (subprocess.SubprocessError, OSError, ValueError, IndexError):
            have = None
        if not isinstance(have, dict):
            raise UserError(f"the Ray cluster at {address} cannot be joined to read its CPUs and GPUs; check the "
                            "address and that its Ray version matches this one's")
        have_cpu, have_gpu = float(have.get("CPU", 0)), float(have.get("GPU", 0))
    else:
        return
    del ray
    for what, want, have in (("cpu", cpus, have_cpu), ("gpu", gpus, have_gpu)):
        if want and want > have:
            where = "this machine" if not address or address.startswith("local") else f"the Ray cluster at {address}"
            raise UserError(f"each trial asks for {want:g} {what.upper()}{'s' if want != 1 else ''} but {where} has "
                            f"{have:g}; lower --{what}s-per-trial")
