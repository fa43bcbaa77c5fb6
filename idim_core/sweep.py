"""A run: the full fine-tuning baseline, then subspace trials over d and seeds.

d90 is the smallest d whose mean test accuracy (over seeds) reaches 0.9 x the
baseline accuracy (full fine-tuning of the same model on the same data and split).
We report the grid value and an interpolated one (linear in log d between the two
grid points that bracket the threshold); when no d reaches it, both are None
("d90 > max d").

``dims="auto"`` searches adaptively: it brackets d90 with a x10 ladder, then bisects
in log d until the bracket is within a factor 1.4, so the true crossing lies within
-29 % / +40 % of the reported grid value (the interpolated one is usually closer).  Every trial is written to the store as it finishes, so a run can be
resumed: finished trials are never redone.
"""
from __future__ import annotations

import math
import threading
from typing import Callable

import statistics

from .d90 import describe
from .errors import UserError
from .store import UNREADABLE, Store, owner_id, unreadable_error

from .runconfig import AUTO_FACTOR, AUTO_START, AUTO_TOL, CLASSIC_DEFAULTS, DEFAULTS, make_config, parse_dims  # noqa: F401
from .results import result  # noqa: F401  (the run's JSON object; pages import it from results)
from .runconfig import check_dims_fit, preflight, shared_baseline, wants_probe  # noqa: F401
from .runconfig import bundled as _bundled, shareable as _shareable  # one rule, also for the app's estimate


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
_TORCH_THREADS: list[int] = []


def threads_for(cfg: dict) -> int:
    """CPU threads for a run: --threads if given, else torch's own default.  Set for every run:
    the worker runs one after another, and one run's --threads must not stick to the next."""
    import torch

    if not _TORCH_THREADS:
        _TORCH_THREADS.append(torch.get_num_threads())
    return int(cfg["threads"]) if cfg.get("threads") else _TORCH_THREADS[0]


def prepare(cfg: dict, device: str, home=None, log=None):
    """Load the model, theta0 and the tokenised data once for all trials of a run.  ``home``: the store's
    directory (where pre-trained states are cached); ``log(message, facts)``: what pre-training says."""
    import torch

    from .models import load_model
    from .tasks import load_task
    from .train import Prepared, encode

    torch.set_num_threads(threads_for(cfg))
    from .classic import is_classic_model

    if is_classic_model(cfg["model"]):
        return _prepare_classic(cfg, device, home, log)
    task = load_task(cfg["task"], cfg["split_seed"], cfg["max_train"], cfg["max_eval"],
                     cfg["text_column"], cfg["text_pair_column"], cfg["label_column"])
    lm = load_model(cfg["model"], task.num_labels, cfg["init_seed"])
    module = lm.module.to(device)
    tok = lm.tokenizer
    ml = int(cfg["max_length"])
    prep = Prepared(module, None, encode(tok, task.train, ml), encode(tok, task.val, ml),
                    encode(tok, task.test, ml), tok.pad_token_id or 0, torch.device(device), task.num_labels)
    return prep, lm, task


def _prepare_classic(cfg: dict, device: str, home=None, log=None):
    import torch

    from . import classic
    from .models import LoadedModel, resolve
    from .train import Prepared

    task = classic.load_images(cfg["task"], cfg["split_seed"], cfg["max_train"], cfg["max_eval"],
                               cfg.get("shuffle_labels", False), cfg.get("shuffle_pixels", False))
    module = classic.build(cfg["model"], task.side, task.num_labels, cfg["init_seed"], cfg.get("width"))
    from . import pretrain

    if pretrain.active(cfg):  # theta0: the pre-trained body (made once, cached) and this new, seeded head
        from .store import default_home

        state, facts = pretrain.pretrained_state(cfg, device, home or default_home(), log)
        pretrain.apply(module, state)
        task.info["pretrain"] = facts
    module = module.to(device)
    dev = torch.device(device)
    if dev.type != "cpu":  # small data: keep it on the device once
        for part in {id(p): p for p in (task.train, task.val, task.test)}.values():
            part.x = part.x.to(dev)
    prep = Prepared(module, None, task.train, task.val, task.test, 0, dev, task.num_labels)
    return prep, LoadedModel(module, None, resolve(cfg["model"]), task.num_labels), task


# The worker keeps the last prepared (model, task) in memory, so a new run on the same
# bundled model and task starts training at once instead of loading for seconds.
_WARM: dict[tuple, tuple] = {}


def _warm_key(cfg: dict, device: str) -> tuple | None:
    if not _bundled(cfg):
        return None  # files that may change between runs are always read afresh
    return tuple(str(cfg.get(k)) for k in ("model", "task", "split_seed", "init_seed", "max_train", "max_eval",
                                           "max_length")) + (device,)


def prepare_warm(cfg: dict, device: str, home=None, log=None):
    """prepare(), reusing the worker's last prepared model and data when they match."""
    key = _warm_key(cfg, device)
    if key is not None and key in _WARM:
        return _WARM[key]
    out = prepare(cfg, device, home, log)
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
        self.owner = owner or owner_id()
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
        if cfg.get(UNREADABLE):
            raise UserError(unreadable_error(run_id))
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
            store.end_run(run_id, "cancelled")
            store.event(run_id, "info", "cancelled; finished trials kept")
            self.progress({"type": "cancelled"})
            return result(store, run_id)
        except UserError as e:
            store.end_run(run_id, "failed", str(e))
            store.event(run_id, "error", str(e))
            raise
        except Exception as e:
            from .errors import unexpected

            msg = unexpected(e)
            store.end_run(run_id, "failed", msg)
            store.event(run_id, "error", msg)
            raise
        finally:
            self._stop_hb.set()

    def _share_baseline(self, cfg: dict, device: str, seeds: list[int], done: dict) -> None:
        """Copy the baseline trials of an earlier finished run with the same model, task, budget and device.

        Full fine-tuning does not depend on the method or the d grid, so runs that differ only in
        those share one baseline (and one threshold): the comparison is fair and the baseline is
        trained once.  ``--fresh-baseline`` turns this off.
        """
        need = [s for s in seeds if ("baseline", None, s) not in done]
        if not need or not _shareable(cfg):
            return
        found = shared_baseline(self.store, cfg, device, need, exclude=self.run_id)
        if found:
            run, rows = found
            probes = {t["seed"]: t for t in self.store.trials(run["id"]) if t["kind"] == "probe"
                      and t["status"] == "done"}
            for s in need:
                self.store.copy_trial(self.run_id, rows[s])
                done[("baseline", None, s)] = {"kind": "baseline", "d": None, "seed": s, "status": "done",
                                               "accuracy": rows[s]["accuracy"], "seconds": rows[s]["seconds"],
                                               "val_accuracy": rows[s].get("val_accuracy")}
                if s in probes and ("probe", None, s) not in done:  # the probe depends on the same things
                    self.store.copy_trial(self.run_id, probes[s])
                    done[("probe", None, s)] = {"kind": "probe", "d": None, "seed": s, "status": "done",
                                                "accuracy": probes[s]["accuracy"], "seconds": probes[s]["seconds"],
                                                "val_accuracy": probes[s].get("val_accuracy")}
            self.store.update_run(self.run_id, summary={**(self.store.get_run(self.run_id)["summary"] or {}),
                                                        "baseline_from": run["id"]})
            self.store.event(self.run_id, "info", f"full fine-tuning baseline shared with run {run['id']} (same model, "
                                                  f"task, budget and device; --fresh-baseline trains it anew)")
            self.progress({"type": "baseline_shared", "from": run["id"]})

    def _run(self, cfg, device) -> dict:
        from .train import Cancelled, TrainConfig

        store, run_id = self.store, self.run_id
        tcfg = TrainConfig.from_dict(cfg)
        self.progress({"type": "loading"})
        store.event(run_id, "info", f"loading {cfg['model']} and {cfg['task']} on {device}")
        def pre_log(message: str, facts: dict) -> None:  # pre-training's progress, like a trial's
            if "reused" in facts or facts.get("epoch") in (1, facts.get("epochs")) or facts.get("epoch", 0) % 5 == 0:
                store.event(run_id, "info", message)
            self.progress({"type": "pretrain", "message": message, **facts})

        prep, lm, task = (prepare_warm if self.warm else prepare)(cfg, device, store.home, pre_log)
        pre = task.info.pop("pretrain", None)
        if pre:
            store.update_run(run_id, summary={**(store.get_run(run_id)["summary"] or {}), "pretrain": pre})

        D = sum(p.numel() for p in prep.module.parameters())
        info = {"D": D, "layers": lm.spec.layers, "num_labels": task.num_labels,
                "chance": task.chance(), "majority": task.majority(), "splits": task.info}
        store.update_run(run_id, summary={**(store.get_run(run_id)["summary"] or {}), **info})
        stop = lambda: store.cancel_requested(run_id)  # noqa: E731
        done = {(t["kind"], t["d"], t["seed"]): t for t in store.trials(run_id) if t["status"] in ("done", "diverged")}

        from . import executors
        from .executors import TrialSpec
        from .executors.ray_exec import TrialLost

        lost: dict = {}

        executor = executors.get(cfg.get("executor") or "local")(prep, tcfg, cfg["method"], cfg["projection"], stop,
                                                                 cfg=cfg)
        if getattr(executor, "address", None):
            store.update_run(run_id, summary={**(store.get_run(run_id)["summary"] or {}),
                                              "executor": executor.name, "cluster": executor.address,
                                              "slots": executor.slots})
            store.event(run_id, "info", f"trials run on Ray at {executor.address} ({executor.slots} at a time)")

        def trials(specs: list[TrialSpec]) -> list[dict]:
            """Train the specs not yet done (through the executor); rows for all of them, in order."""
            todo = [sp for sp in specs if (sp.kind, sp.d, sp.seed) not in done]
            if todo and stop():
                raise Cancelled()
            ids: dict[TrialSpec, int] = {}
            bufs: dict[TrialSpec, list] = {}
            for sp in todo:
                def on_start(sp=sp):
                    ids[sp] = store.start_trial(run_id, sp.kind, sp.d, sp.seed)
                    bufs[sp] = []
                    self.progress({"type": "trial_start", "kind": sp.kind, "d": sp.d, "seed": sp.seed})

                def on_point(p, sp=sp):
                    buf = bufs[sp]
                    buf.append(p)
                    if p.get("accuracy") is not None or len(buf) >= 5:
                        store.add_points(ids[sp], list(buf))
                        buf.clear()
                    self.progress({"type": "step", "kind": sp.kind, "d": sp.d, "seed": sp.seed, **p})

                executor.submit(sp, on_start, on_point)
            for sp, res in executor.wait():  # completion order; this process alone writes the store
                tid = ids.get(sp)
                if tid is not None and bufs.get(sp):
                    store.add_points(tid, bufs[sp])
                if isinstance(res, TrialLost):  # the infrastructure lost it: recorded, the sweep goes on
                    if tid is not None:
                        store.finish_trial(tid, "failed", error=str(res))
                    store.event(run_id, "warning", f"{level_name(cfg['method'], sp)}"
                                                   f" seed {sp.seed}: lost ({res})")
                    lost[(sp.kind, sp.d, sp.seed)] = {"kind": sp.kind, "d": sp.d, "seed": sp.seed, "status": "failed",
                                                      "accuracy": None, "seconds": None}
                    continue
                if isinstance(res, Exception):
                    if tid is not None:
                        store.finish_trial(tid, "cancelled" if isinstance(res, Cancelled) else "failed",
                                           error=None if isinstance(res, Cancelled) else str(res))
                    executor.cancel()
                    raise res
                store.finish_trial(tid, res.status, res.accuracy, res.val_accuracy, res.steps,
                                   res.curve[-1]["total"] if res.curve else None, res.seconds, res.trainable,
                                   res.error, res.correct, res.peak_mb, res.train_accuracy, res.extra)
                row = {"kind": sp.kind, "d": sp.d, "seed": sp.seed, "status": res.status, "accuracy": res.accuracy,
                       "seconds": res.seconds, "val_accuracy": res.val_accuracy}
                done[(sp.kind, sp.d, sp.seed)] = row
                msg = (f"{level_name(cfg['method'], sp)} seed {sp.seed}: "
                       + (f"accuracy {res.accuracy:.3f}" if res.accuracy is not None else res.status)
                       + (f", z's rate {res.lr:.3g} chosen on validation" if tcfg.lr_search and sp.d else "")
                       + (f", rate {res.lr:.3g} chosen on validation" if tcfg.baseline_lr_search
                          and sp.kind == "baseline" else "")
                       + f" ({res.seconds:.0f} s)")
                store.event(run_id, "info" if res.status == "done" else "warning", msg)
                self.progress({"type": "trial_end", **row})
            gone = [sp for sp in todo if (sp.kind, sp.d, sp.seed) in lost and (sp.kind, sp.d, sp.seed) not in done]
            if gone:  # missing data, not a result: the run stops failed, naming them, and resume reruns them
                raise UserError(lost_message(gone, cfg["method"], run_id))
            return [done.get((sp.kind, sp.d, sp.seed)) or lost[(sp.kind, sp.d, sp.seed)] for sp in specs]

        max_d = min(int(cfg.get("max_d") or D), D)
        check_dims_fit(cfg["dims"], D)
        # The first point: the smallest grid d (or the search's first rung) runs before the
        # baseline, so the chart shows a point one trial after Run, not two.
        first = cfg["dims"][0] if cfg["dims"] != "auto" else min(max(AUTO_START, _min_d(cfg, prep)), max_d)
        trials([TrialSpec("subspace", first, 0)])
        seeds = seeds_of(cfg)
        if not cfg.get("fresh_baseline"):
            self._share_baseline(cfg, device, seeds, done)
        bases = trials([TrialSpec("baseline", None, s) for s in seeds])  # the baseline has seeds too
        ok = [b["accuracy"] for b in bases if b["status"] == "done" and b["accuracy"] is not None]
        if not ok:
            raise UserError(f"full fine-tuning diverged ({bases[0].get('error') or 'non-finite loss'}); lower --lr-full")
        if wants_probe(cfg):
            # the reference a pretrained model's frozen features already reach: a linear probe (head only)
            trials([TrialSpec("probe", None, s) for s in seeds])
        from .d90 import threshold_of

        fail = task.chance()
        # Every choice of where to look next (the automatic search, the refinement) is made on the
        # validation split: validation means against the threshold the baseline's validation accuracy
        # sets.  The test split is read only for the reported d90.
        base_val = statistics.fmean([_val(b) if _val(b) is not None else task.chance() for b in bases
                                     if b["status"] in ("done", "diverged")])
        thr = threshold_of(base_val, task.chance(), task.majority(), len(prep.val))[0]

        def mean_of(accs: list[dict]) -> float:
            # a diverged trial is a failed one: chance accuracy, never dropped from the mean; a trial the
            # infrastructure lost is missing data (resume reruns it)
            vals = [_val(a) if _val(a) is not None else fail for a in accs if a["status"] != "failed"]
            return statistics.fmean(vals) if vals else fail

        def mean_at(d: int) -> float:
            return mean_of(trials([TrialSpec("subspace", d, s) for s in seeds]))

        def means_at(ds: list[int]) -> dict[int, float]:
            """Several d at once (all their trials submitted together: in parallel on Ray)."""
            rows = trials([TrialSpec("subspace", d, s) for d in ds for s in seeds])
            return {d: mean_of([r for r in rows if r["d"] == d]) for d in ds}

        from .d90 import at_floor

        if cfg["dims"] == "auto" and at_floor(statistics.fmean(ok), task.chance(), task.majority(), len(prep.test)):
            store.event(run_id, "warning", "full fine-tuning did not learn the task (not clearly above always "
                                           "guessing): no d90 to search for")
        elif cfg["dims"] == "auto" and executor.slots > 1:
            k = max(2, executor.slots // len(seeds))
            found, rounds, n = parallel_search(means_at, thr, max_d, min_d=_min_d(cfg, prep), k=k)
            store.update_run(run_id, summary={**(store.get_run(run_id)["summary"] or {}),
                                              "search": {"rounds": rounds, "probes": n, "per_round": k}})
            store.event(run_id, "info", f"parallel d90 search: {rounds} rounds, {n} values of d "
                                        f"({n * len(seeds)} trials), up to {k} d per round")
        elif cfg["dims"] == "auto":
            adaptive_search(mean_at, thr, max_d, min_d=_min_d(cfg, prep))
        else:
            if executor.slots > 1:
                grid = means_at([d for d in cfg["dims"]])  # every (d, seed) at once: the cluster schedules them
            else:
                grid = {d: mean_at(d) for d in cfg["dims"]}
            for d, why in refine_grid(grid, thr, means_at, int(cfg.get("refine") or 0), max_d=max_d,
                                      min_d=_min_d(cfg, prep)):
                store.event(run_id, "info", f"refinement: d = {d:,} added ({why})")
        store.end_run(run_id, "done")
        summary = result(store, run_id)
        store.event(run_id, "info", "done: " + describe(summary))
        self.progress({"type": "done", "summary": summary})
        return summary


def _val(row: dict) -> float | None:
    """A trial's validation accuracy (its test accuracy for rows stored before it was kept)."""
    if row.get("status") not in ("done", None):
        return None
    v = row.get("val_accuracy")
    return v if v is not None else row.get("accuracy")


def refine_grid(means: dict[int, float], thr: float, means_at: Callable[[list[int]], dict[int, float]],
                budget: int, max_d: int | None = None, min_d: int = 1, tol: float = AUTO_TOL) -> list[tuple[int, str]]:
    """After a grid: bisect in log d the bracket where the (validation) mean first crosses ``thr``.

    ``means`` (d -> mean) grows with every d tried; at most ``budget`` new d, stopping once the
    bracket is within ``tol``.  Returns the d added, each with why, for the run's log.  A grid
    whose smallest d already passes, or that never passes, has no bracket to refine.
    """
    added: list[tuple[int, str]] = []
    while len(added) < budget:
        ds = sorted(means)
        hi = next((d for d in ds if means[d] >= thr), None)
        below = [d for d in ds if hi is not None and d < hi]
        if hi is None or not below:
            break
        lo = below[-1]
        if hi / lo <= tol or hi - lo <= 1:
            break
        mid = min(max(int(round(math.sqrt(lo * hi))), lo + 1), hi - 1)
        if max_d is not None and mid > max_d or mid < min_d:
            break
        means.update(means_at([mid]))
        added.append((mid, f"validation mean {means[lo]:.3f} at d = {lo:,} and {means[hi]:.3f} at d = {hi:,} "
                           f"bracket the threshold {thr:.3f}; {means[mid]:.3f} at d = {mid:,}"))
    return added


def lost_message(gone: list, method: str, run_id: str) -> str:
    """One sentence for trials the infrastructure lost after its retries."""
    from .executors.ray_exec import MAX_RETRIES

    names = ", ".join(f"{level_name(method, sp)} seed {sp.seed}"
                      for sp in gone)
    what = f"trial {names} was" if len(gone) == 1 else f"{len(gone)} trials ({names}) were"
    return (f"{what} lost (its Ray worker died {MAX_RETRIES + 1} times), so no d90 is given; "
            f"`idim resume {run_id}` reruns {'it' if len(gone) == 1 else 'them'} (finished trials are kept)")


def level_name(method: str, sp) -> str:
    """How a trial's level reads: d=1,000, r=4 or the method's name ("baseline", "linear probe" for those)."""
    from . import methods

    if sp.kind in ("baseline", "probe"):
        return {"baseline": "baseline", "probe": "linear probe"}[sp.kind]
    ax = methods.axis(method)
    return f"d={sp.d:,}" if ax == "d" else f"{methods.level_name(method)}={sp.d}" if ax == "rank" else method


def _min_d(cfg, prep) -> int:
    from . import methods

    return methods.get(cfg["method"]).min_d(prep.module, cfg)


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


def parallel_search(means_at: Callable[[list[int]], dict[int, float]], thr: float, max_d: int, min_d: int = 1,
                    k: int = 4, start: int = AUTO_START, factor: int = AUTO_FACTOR,
                    tol: float = AUTO_TOL) -> tuple[int | None, int, int]:
    """The adaptive search with k probes per round: (smallest passing d, rounds, values of d tried).

    Round one probes k rungs of the x10 ladder at once; later rounds probe k points spread
    evenly in log d inside the current bracket, until it is within a factor ``tol``.
    """
    seen: dict[int, float] = {}
    rounds = 0

    def probe(ds: list[int]) -> None:
        nonlocal rounds
        new = sorted({d for d in ds if d not in seen})
        if new:
            rounds += 1
            seen.update(means_at(new))

    d0 = max(start, min_d)
    lo, hi = None, None
    while hi is None:
        ladder, d = [], d0
        while len(ladder) < k and (not ladder or ladder[-1] < max_d):
            ladder.append(min(d, max_d))
            d *= factor
        probe(ladder)
        passing = [d for d in sorted(seen) if seen[d] >= thr]
        failing = [d for d in sorted(seen) if seen[d] < thr]
        if passing:
            hi = passing[0]
            below = [d for d in failing if d < hi]
            lo = below[-1] if below else None
        elif ladder[-1] >= max_d:
            return None, rounds, len(seen)
        else:
            d0 = ladder[-1] * factor
    if lo is None:  # the first rung passed: probe below it down to min_d
        if hi <= min_d:
            return hi, rounds, len(seen)
        lo_bound = max(min_d, hi // factor ** k)
        probe(_log_spread(lo_bound, hi, k, include_lo=True))
        passing = [d for d in sorted(seen) if seen[d] >= thr]
        hi = passing[0]
        below = [d for d in sorted(seen) if d < hi]
        if not below:
            return hi, rounds, len(seen)
        lo = below[-1]
    while hi / lo > tol and hi - lo > 1:
        probe(_log_spread(lo, hi, k))
        inside = [d for d in sorted(seen) if lo < d < hi]
        if not inside:
            break
        for d in inside:
            if seen[d] >= thr:
                hi = d
                break
            lo = d
    return hi, rounds, len(seen)


def _log_spread(lo: int, hi: int, k: int, include_lo: bool = False) -> list[int]:
    """k whole numbers spread evenly in log between lo and hi (exclusive of hi; of lo unless asked)."""
    pts = [int(round(math.exp(math.log(lo) + (math.log(hi) - math.log(lo)) * (i + (0 if include_lo else 1))
                              / (k + (0 if include_lo else 1))))) for i in range(k)]
    return sorted({min(max(p, lo), hi - 1) for p in pts if (include_lo or p > lo) and p < hi})
