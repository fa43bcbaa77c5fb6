"""A run: the full fine-tuning baseline, then subspace trials over d and seeds.

d90 is the smallest d whose mean test accuracy (over seeds) reaches 0.9 x the
baseline accuracy (full fine-tuning of the same model on the same data and split).
We report the grid value and an interpolated one (linear in log d between the two
grid points that bracket the threshold); when no d reaches it, both are None
("d90 > max d").

``dims="auto"`` searches adaptively: it brackets d90 with a x10 ladder, then bisects
in log d until the bracket is within a factor 1.4, so the interpolated d90 is
within +-20 %.  Every trial is written to the store as it finishes, so a run can be
resumed: finished trials are never redone.
"""
from __future__ import annotations

import math
import os
import socket
import statistics
import threading
from typing import Callable

from .errors import UserError
from .store import Store

# Defaults chosen by experiment on this project's 2-core CPU (see README "Defaults").
DEFAULTS = {
    "model": "minilm-l6",
    "task": "mr",
    "method": "said",
    "projection": "fastfood",
    "dims": [10, 100, 300, 1000, 3000, 10000],
    "seeds": 1,
    "epochs": 2.0,
    "max_steps": None,
    "batch_size": 32,
    "lr_full": 1e-4,
    "lr_subspace": 0.05,
    "max_train": 1024,
    "max_eval": 256,
    "max_length": 64,
    "split_seed": 0,
    "init_seed": 0,
    "device": None,
    "threads": None,
    "max_d": 100_000,
    "text_column": "text",
    "text_pair_column": None,
    "label_column": "label",
}
DEFAULTS.update(shuffle_labels=False, shuffle_pixels=False)
# The classic experiment (Li et al. 2018): a small net trained from scratch on digits.
# Chosen by experiment on this project's 2-core CPU (see bench/RESULTS.md): a whole sweep
# on mnist5k in well under a minute.
CLASSIC_DEFAULTS = dict(
    DEFAULTS, model="mlp", task="mnist5k", method="did", projection="fastfood",
    dims=[10, 30, 100, 200, 300, 500, 750, 1000, 1500, 3000], epochs=10.0, batch_size=64,
    lr_full=1e-3, lr_subspace=0.1, max_train=None, max_eval=None,
)
AUTO_START, AUTO_FACTOR, AUTO_TOL = 10, 10, 1.4


# ---------------------------------------------------------------------------
# d90
# ---------------------------------------------------------------------------
def summarize(points: list[dict]) -> list[dict]:
    """Mean and spread of accuracy per d over finished (non-diverged) trials."""
    by_d: dict[int, list[float]] = {}
    diverged: dict[int, int] = {}
    for p in points:
        if p.get("status", "done") == "diverged" or p.get("accuracy") is None:
            if p.get("status") == "diverged":
                diverged[p["d"]] = diverged.get(p["d"], 0) + 1
            continue
        by_d.setdefault(p["d"], []).append(float(p["accuracy"]))
    out = []
    for d in sorted(set(by_d) | set(diverged)):
        accs = by_d.get(d, [])
        out.append({
            "d": d,
            "mean": statistics.fmean(accs) if accs else None,
            "std": statistics.pstdev(accs) if len(accs) > 1 else 0.0 if accs else None,
            "n": len(accs),
            "diverged": diverged.get(d, 0),
        })
    return out


def estimate_d90(points: list[dict], baseline: float | None, frac: float = 0.9) -> tuple[int | None, float | None]:
    """(grid d90, interpolated d90); (None, None) when never reached."""
    if baseline is None:
        return None, None
    thr = frac * baseline
    rows = [r for r in summarize(points) if r["mean"] is not None]
    prev = None
    for r in rows:
        if r["mean"] >= thr:
            if prev is None:
                return r["d"], float(r["d"])
            lo, hi = math.log(prev["d"]), math.log(r["d"])
            a0, a1 = prev["mean"], r["mean"]
            t = (thr - a0) / (a1 - a0) if a1 > a0 else 1.0
            return r["d"], float(math.exp(lo + min(1.0, max(0.0, t)) * (hi - lo)))
        prev = r
    return None, None


# ---------------------------------------------------------------------------
# configuration
# ---------------------------------------------------------------------------
def parse_dims(text) -> list[int] | str:
    """'10,100,1e3' -> [10, 100, 1000]; 'auto' -> 'auto'. Raises UserError."""
    if isinstance(text, (list, tuple)):
        items = [str(x) for x in text]
    else:
        text = str(text).strip()
        if text.lower() == "auto":
            return "auto"
        items = [t.strip() for t in text.replace(";", ",").split(",")]
    if not items or all(not t for t in items):
        raise UserError("--dims is empty; give a list such as 10,100,1000 or 'auto'")
    out = []
    for t in items:
        if not t:
            raise UserError(f"--dims has an empty entry in {text!r}; separate numbers with single commas")
        try:
            v = float(t)
        except ValueError:
            raise UserError(f"--dims entry {t!r} is not a number; give integers such as 10,100,1000") from None
        if not math.isfinite(v) or v != int(v):
            raise UserError(f"--dims entry {t!r} is not a whole number")
        v = int(v)
        if v <= 0:
            raise UserError(f"--dims entry {t!r} must be at least 1")
        if v not in out:
            out.append(v)
    return sorted(out)


def make_config(**overrides) -> dict:
    """A full, validated run configuration (no weights loaded)."""
    from . import models, tasks
    from .names import METHODS, PROJECTIONS as KINDS

    from .classic import is_classic_model, is_image_task, num_params, side_of

    given = {k: v for k, v in overrides.items() if v is not None}
    classic = is_classic_model(given.get("model")) or is_image_task(given.get("task"))
    cfg = dict(CLASSIC_DEFAULTS if classic else DEFAULTS)
    cfg.update(given)
    if classic:
        if not is_classic_model(cfg["model"]):
            raise UserError(f"task {cfg['task']} holds images: use model mlp or lenet (trained from scratch), "
                            f"not {cfg['model']}")
        if not is_image_task(cfg["task"]):
            raise UserError(f"model {cfg['model']} takes images: use task digits or mnist5k, not {cfg['task']}")
    elif cfg.get("shuffle_labels") or cfg.get("shuffle_pixels"):
        raise UserError("shuffled labels and shuffled pixels are for the classic image tasks (digits, mnist5k)")
    for key in ("shuffle_labels", "shuffle_pixels"):
        cfg[key] = bool(cfg.get(key))
    if cfg["method"] not in METHODS:
        raise UserError(f"unknown method {cfg['method']!r}; choose did or said")
    if cfg["projection"] not in KINDS:
        raise UserError(f"unknown projection {cfg['projection']!r}; choose one of {', '.join(KINDS)}")
    cfg["dims"] = parse_dims(cfg["dims"])
    seeds = cfg["seeds"]
    if isinstance(seeds, bool) or not isinstance(seeds, int) or not 1 <= seeds <= 100:
        raise UserError(f"--seeds must be a whole number from 1 to 100, got {seeds!r}")
    for key in ("lr_full", "lr_subspace"):
        v = cfg[key]
        if not isinstance(v, (int, float)) or not math.isfinite(v) or v <= 0:
            raise UserError(f"--{key.replace('_', '-')} must be a positive number, got {v!r}")
    if not (isinstance(cfg["epochs"], (int, float)) and math.isfinite(cfg["epochs"]) and 0 < cfg["epochs"] <= 1000):
        raise UserError(f"--epochs must be a positive number, got {cfg['epochs']!r}")
    for key, lo in (("batch_size", 1), ("max_train", 8), ("max_eval", 8), ("max_length", 8), ("max_steps", 1)):
        v = cfg[key]
        if v is not None and (isinstance(v, bool) or not isinstance(v, int) or v < lo):
            raise UserError(f"--{key.replace('_', '-')} must be a whole number of at least {lo}, got {v!r}")
    if classic:
        D = num_params(cfg["model"], side_of(cfg["task"]))
    else:
        mspec = models.resolve(cfg["model"])
        tspec = tasks.resolve(cfg["task"])
        cfg["model"], cfg["task"] = mspec.name, tspec.name
        D = mspec.params
    if D and cfg["dims"] != "auto":
        big = [d for d in cfg["dims"] if d > D]
        if big:
            raise UserError(f"d={big[0]:,} is larger than the model's D={D:,} parameters")
    return cfg


def seeds_of(cfg: dict) -> list[int]:
    return list(range(int(cfg["seeds"])))


def pick_device(pref: str | None = None) -> str:
    import torch

    if pref and pref != "auto":
        if pref.startswith("cuda") and not torch.cuda.is_available():
            raise UserError("--device cuda was asked for, but no CUDA GPU is available")
        if pref == "mps" and not (getattr(torch.backends, "mps", None) and torch.backends.mps.is_available()):
            raise UserError("--device mps was asked for, but MPS is not available")
        return pref
    if torch.cuda.is_available():
        return "cuda"
    if getattr(torch.backends, "mps", None) and torch.backends.mps.is_available():
        return "mps"
    return "cpu"


# ---------------------------------------------------------------------------
# preparing a run (once) and running it
# ---------------------------------------------------------------------------
def prepare(cfg: dict, device: str):
    """Load the model, theta0 and the tokenised data once for all trials of a run."""
    import torch

    from .models import load_model
    from .tasks import load_task
    from .train import Prepared, encode

    if cfg.get("threads"):
        torch.set_num_threads(int(cfg["threads"]))
    from .classic import is_classic_model

    if is_classic_model(cfg["model"]):
        return _prepare_classic(cfg, device)
    task = load_task(cfg["task"], cfg["split_seed"], cfg["max_train"], cfg["max_eval"],
                     cfg["text_column"], cfg["text_pair_column"], cfg["label_column"])
    lm = load_model(cfg["model"], task.num_labels, cfg["init_seed"])
    module = lm.module.to(device)
    tok = lm.tokenizer
    ml = int(cfg["max_length"])
    prep = Prepared(module, None, encode(tok, task.train, ml), encode(tok, task.val, ml),
                    encode(tok, task.test, ml), tok.pad_token_id or 0, torch.device(device), task.num_labels)
    return prep, lm, task


def _prepare_classic(cfg: dict, device: str):
    import torch

    from . import classic
    from .models import LoadedModel, resolve
    from .train import Prepared

    task = classic.load_images(cfg["task"], cfg["split_seed"], cfg["max_train"], cfg["max_eval"],
                               cfg.get("shuffle_labels", False), cfg.get("shuffle_pixels", False))
    module = classic.build(cfg["model"], task.side, task.num_labels, cfg["init_seed"]).to(device)
    dev = torch.device(device)
    if dev.type != "cpu":  # small data: keep it on the device once
        for part in {id(p): p for p in (task.train, task.val, task.test)}.values():
            part.x = part.x.to(dev)
    prep = Prepared(module, None, task.train, task.val, task.test, 0, dev, task.num_labels)
    return prep, LoadedModel(module, None, resolve(cfg["model"]), None, task.num_labels), task


# The worker keeps the last prepared (model, task) in memory, so a new run on the same
# bundled model and task starts training at once instead of loading for seconds.
_WARM: dict[tuple, tuple] = {}


def _warm_key(cfg: dict, device: str) -> tuple | None:
    from . import models, tasks

    try:
        if models.resolve(cfg["model"]).source != "bundled" or tasks.resolve(cfg["task"]).source != "bundled":
            return None  # files that may change between runs are always read afresh
    except UserError:
        return None
    return tuple(str(cfg.get(k)) for k in ("model", "task", "split_seed", "init_seed", "max_train", "max_eval",
                                           "max_length")) + (device,)


def prepare_warm(cfg: dict, device: str):
    """prepare(), reusing the worker's last prepared model and data when they match."""
    key = _warm_key(cfg, device)
    if key is not None and key in _WARM:
        return _WARM[key]
    out = prepare(cfg, device)
    _WARM.clear()
    if key is not None:
        _WARM[key] = out
    return out


class Runner:
    """Executes one stored run in this process (foreground CLI or the worker)."""

    def __init__(self, store: Store, run_id: str, progress: Callable[[dict], None] | None = None,
                 owner: str | None = None, warm: bool = False):
        self.store, self.run_id, self.warm = store, run_id, warm
        self.progress = progress or (lambda e: None)
        self.owner = owner or f"{socket.gethostname()}:{os.getpid()}"
        self._stop_hb = threading.Event()

    def _heartbeat(self) -> None:
        try:
            hb = Store(self.store.home)  # its own connection
        except UserError:
            return  # the main thread reports store problems
        try:
            while not self._stop_hb.wait(3.0):
                try:
                    hb.heartbeat(self.run_id)
                except UserError:
                    pass  # a full or busy disk: the training thread meets it too and says so
        finally:
            hb.close()

    def run(self) -> dict:
        """Run (or resume) to the end. Returns the run's summary object."""
        from .train import Cancelled

        store, run_id = self.store, self.run_id
        run = store.require_run(run_id)
        cfg = run["config"]
        device = pick_device(cfg.get("device"))
        if run["status"] != "running" or run["owner"] != self.owner:
            if not store.claim(run_id, self.owner, device):
                raise UserError(f"run {run_id} is {run['status']} and cannot be started here")
        else:
            store.update_run(run_id, device=device)
        hb = threading.Thread(target=self._heartbeat, daemon=True)
        hb.start()
        try:
            return self._run(cfg, device)
        except Cancelled:
            store.update_run(run_id, status="cancelled", finished=_now())
            store.event(run_id, "info", "cancelled; finished trials kept")
            self.progress({"type": "cancelled"})
            return result(store, run_id)
        except UserError as e:
            store.update_run(run_id, status="failed", error=str(e), finished=_now())
            store.event(run_id, "error", str(e))
            raise
        except Exception as e:
            msg = f"{type(e).__name__}: {e}"
            store.update_run(run_id, status="failed", error=msg, finished=_now())
            store.event(run_id, "error", msg)
            raise
        finally:
            self._stop_hb.set()

    def _run(self, cfg, device) -> dict:
        from .train import Cancelled, TrainConfig, run_trial

        store, run_id = self.store, self.run_id
        tcfg = TrainConfig.from_dict(cfg)
        self.progress({"type": "loading"})
        store.event(run_id, "info", f"loading {cfg['model']} and {cfg['task']} on {device}")
        prep, lm, task = (prepare_warm if self.warm else prepare)(cfg, device)

        D = sum(p.numel() for p in prep.module.parameters())
        info = {"D": D, "layers": lm.spec.layers, "num_labels": task.num_labels,
                "chance": task.chance(), "majority": task.majority(), "splits": task.info}
        store.update_run(run_id, summary={**(store.get_run(run_id)["summary"] or {}), **info})
        stop = lambda: store.cancel_requested(run_id)  # noqa: E731
        done = {(t["kind"], t["d"], t["seed"]): t for t in store.trials(run_id) if t["status"] in ("done", "diverged")}

        def trial(kind: str, d, seed: int):
            key = (kind, d, seed)
            if key in done:
                return done[key]
            if stop():
                raise Cancelled()
            tid = store.start_trial(run_id, kind, d, seed)
            self.progress({"type": "trial_start", "kind": kind, "d": d, "seed": seed})
            buf: list[dict] = []

            def on_point(p):
                buf.append(p)
                if p.get("accuracy") is not None or len(buf) >= 5:
                    store.add_points(tid, list(buf))
                    buf.clear()
                self.progress({"type": "step", "kind": kind, "d": d, "seed": seed, **p})

            try:
                res = run_trial(prep, tcfg, d=d, seed=seed, method=cfg["method"], projection=cfg["projection"],
                                on_point=on_point, should_stop=stop)
            except Cancelled:
                if buf:
                    store.add_points(tid, buf)
                store.finish_trial(tid, "cancelled")
                raise
            if buf:
                store.add_points(tid, buf)
            store.finish_trial(tid, res.status, res.accuracy, res.val_accuracy, res.steps,
                               res.curve[-1]["total"] if res.curve else None, res.seconds, res.trainable, res.error)
            row = {"kind": kind, "d": d, "seed": seed, "status": res.status, "accuracy": res.accuracy, "seconds": res.seconds}
            done[key] = row
            msg = (f"{'baseline' if kind == 'baseline' else f'd={d:,}'} seed {seed}: "
                   + (f"accuracy {res.accuracy:.3f}" if res.accuracy is not None else res.status)
                   + f" ({res.seconds:.0f} s)")
            store.event(run_id, "info" if res.status == "done" else "warning", msg)
            self.progress({"type": "trial_end", **row})
            return row

        max_d = min(int(cfg.get("max_d") or D), D)
        if cfg["dims"] != "auto":
            big = [d for d in cfg["dims"] if d > D]
            if big:
                raise UserError(f"d={big[0]:,} is larger than the model's D={D:,} parameters")
        # The first point: the smallest grid d (or the search's first rung) runs before the
        # baseline, so the chart shows a point one trial after Run, not two.
        first = cfg["dims"][0] if cfg["dims"] != "auto" else min(max(AUTO_START, _min_d(cfg, prep)), max_d)
        trial("subspace", first, 0)
        base = trial("baseline", None, 0)
        if base["status"] != "done":
            raise UserError(f"full fine-tuning diverged ({base.get('error') or 'non-finite loss'}); lower --lr-full")
        baseline = base["accuracy"]
        thr = 0.9 * baseline
        seeds = seeds_of(cfg)

        def mean_at(d: int) -> float:
            accs = [trial("subspace", d, s) for s in seeds]
            vals = [a["accuracy"] for a in accs if a["accuracy"] is not None]
            return statistics.fmean(vals) if vals else float("-inf")

        if cfg["dims"] == "auto":
            adaptive_search(mean_at, thr, max_d, min_d=_min_d(cfg, prep))
        else:
            for d in cfg["dims"]:
                mean_at(d)
        store.update_run(run_id, status="done", finished=_now())
        summary = result(store, run_id)
        store.event(run_id, "info", "done: " + (f"d90 = {summary['d90']:,} (interpolated {summary['d90_interpolated']:,.0f})"
                                                 if summary["d90"] else "d90 > max d"))
        self.progress({"type": "done", "summary": summary})
        return summary


def _min_d(cfg, prep) -> int:
    if cfg["method"] != "said":
        return 1
    from .subspace import layer_group

    return len({layer_group(n) for n, _ in prep.module.named_parameters()}) + 1


def adaptive_search(mean_at: Callable[[int], float], thr: float, max_d: int, min_d: int = 1,
                    start: int = AUTO_START, factor: int = AUTO_FACTOR, tol: float = AUTO_TOL) -> int | None:
    """Bracket then bisect (in log d) the smallest d with mean_at(d) >= thr."""
    d = max(start, min_d)
    lo, hi = None, None
    while True:
        if mean_at(d) >= thr:
            hi = d
            break
        lo = d
        if d >= max_d:
            return None
        d = min(d * factor, max_d)
    while lo is None:  # reached at the first rung: step down
        if hi <= min_d:
            return hi
        d = max(min_d, hi // factor)
        if mean_at(d) >= thr:
            hi = d
        else:
            lo = d
    while hi / lo > tol and hi - lo > 1:
        mid = int(round(math.sqrt(lo * hi)))
        mid = min(max(mid, lo + 1), hi - 1)
        if mean_at(mid) >= thr:
            hi = mid
        else:
            lo = mid
    return hi


def _now() -> float:
    import time

    return time.time()


def result(store: Store, run_id: str) -> dict:
    """The run's public JSON object (the CLI contract)."""
    run = store.get_run(run_id)
    cfg = run["config"]
    summ = run.get("summary") or {}
    trials = store.trials(run_id)
    base = next((t for t in trials if t["kind"] == "baseline" and t["status"] == "done"), None)
    baseline = base["accuracy"] if base else None
    pts = [{"d": t["d"], "seed": t["seed"], "accuracy": t["accuracy"], "status": t["status"]}
           for t in trials if t["kind"] == "subspace" and t["status"] in ("done", "diverged")]
    pts.sort(key=lambda p: (p["d"], p["seed"]))
    d90, d90i = estimate_d90(pts, baseline)
    return {
        "run_id": run_id,
        "status": run["status"],
        "model": cfg["model"],
        "task": cfg["task"],
        "method": cfg["method"],
        "projection": cfg["projection"],
        "D": summ.get("D"),
        "device": run.get("device"),
        "baseline_accuracy": baseline,
        "threshold": 0.9 * baseline if baseline is not None else None,
        "points": pts,
        "by_d": summarize(pts),
        "d90": d90,
        "d90_interpolated": d90i,
        "chance": summ.get("chance"),
        "majority": summ.get("majority"),
        "config": cfg,
        "created": run["created"],
        "started": run.get("started"),
        "finished": run.get("finished"),
        "seconds": (run["finished"] - run["started"]) if run.get("finished") and run.get("started") else None,
        "error": run.get("error"),
    }


def preflight(cfg: dict) -> None:
    """Catch what can be caught before a run is stored: unreachable models, bad CSVs."""
    from . import models, tasks

    spec = models.check_model(cfg["model"])
    if spec.source == "classic":
        from .classic import require_fashion

        if cfg["task"] == "fashion-mnist":
            require_fashion()
        return  # make_config checked the pairing and D; the other images ship with idim
    if spec.source != "bundled":
        n = models.count_params(cfg["model"])
        big = [d for d in (cfg["dims"] if cfg["dims"] != "auto" else []) if d > n]
        if big:
            raise UserError(f"d={big[0]:,} is larger than the model's D={n:,} parameters")
    if tasks.resolve(cfg["task"]).source != "bundled":
        tasks.load_task(cfg["task"], cfg["split_seed"], cfg["max_train"], cfg["max_eval"],
                        cfg["text_column"], cfg["text_pair_column"], cfg["label_column"])
