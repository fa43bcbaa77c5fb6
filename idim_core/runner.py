"""The runner: executes one stored run, writing every trial to the store as it finishes.

A run trains its ruler first: the full fine-tuning baseline (one trial per seed; shared with an earlier run of
the same model, task and budget, its rate search included), so the full-training line and the threshold are on
the chart before the first point; then the smallest d, the linear probe of language-model DID/SAID runs, then
the levels: a grid followed by its
refinement, or the automatic d90 search.  A baseline that searches its rate, trained one trial at a time, is a
ruler in two parts: its first rate (the run's own) draws the line and the threshold, marked provisional (the
trial's status "provisional"), then the first point trains, then the other rates; the search keeps the best on
validation as one search would, and every choice of where to look next waits for that final ruler.
Where to look next is decided by ``search.py`` (pure, on validation means); how trials train is the
executor's business (``executors``: this process, a Ray cluster); preparing the model and data is
``prep.py``'s.  Finished trials are never redone, so a run can be resumed.
"""
from __future__ import annotations

import math
import statistics
import threading
from typing import Callable

from .d90 import describe
from .errors import UserError
from .executors import TrialLost, TrialSpec
from .results import result
from .runconfig import (
    RunConfig,
    check_data_unchanged,
    check_dims_fit,
    probe_key,
    searches_rate,
    shareable,
    shared_baseline,
    wants_probe,
)
from .search import adaptive_search, mean_of, parallel_search, refine_grid, val_of
from .store import UNREADABLE, LostRun, Store, TakenOver, owner_id, unreadable_error


def level_name(method: str, sp) -> str:
    """How a trial's level reads: d=1,000, r=4 or the method's name ("baseline", "linear probe" for those)."""
    from . import methods

    if sp.kind in ("baseline", "probe"):
        return {"baseline": "baseline", "probe": "linear probe"}[sp.kind]
    ax = methods.axis(method)
    return f"d={sp.d:,}" if ax == "d" else f"{methods.level_name(method)}={sp.d}" if ax == "rank" else method


def _key(sp) -> tuple:
    return (sp.kind, sp.d, sp.seed)


def _row(kind: str, d, seed: int, t) -> dict:
    """The runner's memory of a finished trial (a stored row or a TrialResult)."""
    get = t.get if isinstance(t, dict) else (lambda k: getattr(t, k, None))
    return {"kind": kind, "d": d, "seed": seed, "status": get("status"), "accuracy": get("accuracy"),
            "seconds": get("seconds"), "val_accuracy": get("val_accuracy")}


def _rate_words(res, cfg, sp) -> str:
    """The log's words for a searched rate: the one kept, the ones tried, and whether it is still an end."""
    if not searches_rate(cfg, sp.kind) or res.lr is None:
        return ""
    what = "z's rate" if sp.kind == "subspace" else "rate"
    out = f", {what} {res.lr:.3g} chosen on validation"
    tried = getattr(res, "lr_tried", None)
    if tried:
        out += " (tried " + ", ".join(f"{lr:.3g}" + ("" if v is not None else " diverged") for lr, v in tried.items())
        out += (": still the " + ("largest" if res.lr >= max(tried) else "smallest")
                + " tried, --lr-search-beyond's limit)" if getattr(res, "lr_at_end", False) else ")")
    return out


class Runner:
    """Executes one stored run in this process (foreground CLI or the worker)."""

    # a searched baseline trained one trial at a time draws the ruler from its first rate before the first point
    # (False: the whole search first; tests compare the two orders)
    ruler_first_rate = True

    def __init__(self, store: Store, run_id: str, progress: Callable[[dict], None] | None = None,
                 owner: str | None = None, warm: bool = False):
        self.store, self.run_id, self.warm = store, run_id, warm
        self.progress = progress or (lambda e: None)
        self.owner = owner or owner_id()
        self._stop_hb = threading.Event()
        self.done: dict[tuple, dict] = {}  # (kind, d, seed) -> row, for trials finished (or diverged)
        self.lost: dict[tuple, dict] = {}  # trials the executor's infrastructure lost
        self.provisional: dict[tuple, tuple] = {}  # baselines whose first rate is the ruler for now: (id, result, row)
        self.executor = None  # made once the model and data are prepared (a failure before that has none to close)

    # -- lifecycle ------------------------------------------------------------------------------------------
    def _heartbeat(self) -> None:
        try:
            hb = Store(self.store.home)  # its own connection
            hb.fence(self.run_id, self.owner)  # beats only while this process owns the run
        except UserError:
            return  # the main thread reports store problems
        try:
            while not self._stop_hb.wait(3.0):
                try:
                    hb.heartbeat(self.run_id)
                except (UserError, LostRun):
                    pass  # a full or busy disk: the training thread meets it too and says so
        finally:
            hb.close()

    def run(self) -> dict:
        """Run (or resume) to the end. Returns the run's summary object."""
        from .prep import pick_device

        store, run_id = self.store, self.run_id
        run = store.require_run(run_id)
        if run["config"].get(UNREADABLE):
            raise UserError(unreadable_error(run_id))
        cfg = RunConfig.from_stored(run["config"])
        device = pick_device(cfg.device)
        try:
            fingerprint = check_data_unchanged(run)  # a CSV changed since the first trials: refused, run untouched
        except UserError as e:
            if run["status"] == "queued":  # the worker's: the queued run cannot train, say so on it
                store.end_run(run_id, "failed", str(e))
            raise
        if run["status"] != "running" or run["owner"] != self.owner:
            if not store.claim(run_id, self.owner, device):
                raise UserError(f"run {run_id} is {run['status']} and cannot be started here")
        else:
            store.update_run(run_id, device=device)
        store.fence(run_id, self.owner)  # from here on this process writes the run only while it owns it
        if fingerprint:
            self._summary(data_fingerprint=fingerprint)
        hb = threading.Thread(target=self._heartbeat, daemon=True)
        hb.start()
        try:
            return self._guarded(cfg, device)
        except LostRun as e:  # another process resumed the run while this one was stopped: nothing more written
            raise TakenOver(f"{e}; this process stopped without writing to it") from None

    def _guarded(self, cfg: RunConfig, device: str) -> dict:
        """``_run``, ending the run as it ends: done, cancelled or failed (with its reason)."""
        from .train import Cancelled

        store, run_id = self.store, self.run_id
        try:
            return self._run(cfg, device)
        except LostRun:
            raise
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
            if self.executor is not None:  # worker processes, a cluster: where the executor has them
                self.executor.close()
            self.executor = None  # the prepared model and data go with the run, not with this object

    def _summary(self, **facts) -> None:
        self.store.update_run(self.run_id, summary={**(self.store.get_run(self.run_id)["summary"] or {}), **facts})

    # -- preparation ----------------------------------------------------------------------------------------
    def _prepare(self, cfg: RunConfig, device: str):
        from .prep import prepare, prepare_warm

        store, run_id = self.store, self.run_id
        self.progress({"type": "loading"})
        store.event(run_id, "info", f"loading {cfg.model} and {cfg.task} on {device}")

        def pre_log(message: str, facts: dict) -> None:  # pre-training's progress, like a trial's
            if "reused" in facts or facts.get("epoch") in (1, facts.get("epochs")) or facts.get("epoch", 0) % 5 == 0:
                store.event(run_id, "info", message)
            if "epoch" in facts:  # Live's progress bar reads it from the run's summary
                self._summary(pretraining={"epoch": facts["epoch"], "epochs": facts["epochs"],
                                           "source": cfg.pretrain, "loss": facts.get("loss")})
            self.progress({"type": "pretrain", "message": message, **facts})

        prep, lm, task = (prepare_warm if self.warm else prepare)(cfg, device, store.home, pre_log)
        if cfg.projection == "fastfood" and device.startswith("cpu"):
            from .methods import axis

            if axis(cfg.method) == "d":  # built here, once, before any worker process needs it
                from . import native

                store.event(run_id, "info", "Fastfood's passes: " + native.status()["why"])
        pre = task.info.pop("pretrain", None)
        if pre:
            self._summary(pretrain=pre)
        dead = task.info.pop("dead_fraction", None)
        if dead is not None:  # classic nets: first-layer units of theta0 never active on the training images
            self._summary(dead_fraction=dead)
        D = sum(p.numel() for p in prep.module.parameters())
        self._summary(D=D, layers=lm.spec.layers, num_labels=task.num_labels, chance=task.chance(),
                      majority=task.majority(), splits=task.info)
        return prep, task, D

    def _share_baseline(self, cfg: RunConfig, device: str, seeds: list[int]) -> None:
        """Copy the baseline trials of an earlier finished run with the same model, task, budget and device.

        Full fine-tuning does not depend on the method or the d grid, so runs that differ only in
        those share one baseline (and one threshold): the comparison is fair and the baseline is
        trained once.  ``--fresh-baseline`` turns this off.
        """
        done = self.done
        need = [s for s in seeds if ("baseline", None, s) not in done]
        if not need or not shareable(cfg):
            return
        found = shared_baseline(self.store, cfg, device, need, exclude=self.run_id)
        if not found:
            return
        run, rows = found
        # the probe depends on the same things, and on how its rate was chosen
        probes = {t["seed"]: t for t in self.store.trials(run["id"]) if t["kind"] == "probe" and t["status"] == "done"
                  and probe_key(run["config"]) == probe_key(cfg)}
        for s in need:
            self.store.copy_trial(self.run_id, rows[s])
            done[("baseline", None, s)] = _row("baseline", None, s, rows[s])
            if s in probes and ("probe", None, s) not in done:
                self.store.copy_trial(self.run_id, probes[s])
                done[("probe", None, s)] = _row("probe", None, s, probes[s])
        self._summary(baseline_from=run["id"])
        searched = " and its learning-rate search on validation" if cfg.baseline_lr_search else ""
        self.store.event(self.run_id, "info", f"full fine-tuning baseline{searched} reused from run {run['id']} "
                                              f"(same model, task, budget and device; --fresh-baseline trains it "
                                              f"anew)")
        self.progress({"type": "baseline_shared", "from": run["id"]})

    # -- trials ---------------------------------------------------------------------------------------------
    def _trials(self, specs: list[TrialSpec]) -> list[dict]:
        """Train the specs not yet done (through the executor); rows for all of them, in order."""
        from .train import Cancelled

        store, run_id, cfg, executor = self.store, self.run_id, self.cfg, self.executor
        todo = [sp for sp in specs if _key(sp) not in self.done]
        if todo and self._stop():
            raise Cancelled()
        ids: dict[TrialSpec, int] = {}
        bufs: dict[TrialSpec, list] = {}
        for sp in todo:
            def on_start(sp=sp):
                first = self.provisional.get(_key(sp)) if sp.after is not None else None
                if first is not None:  # a provisional ruler's other rates: the same trial, training again
                    store.reopen_trial(first[0])
                    ids[sp] = first[0]
                else:
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
        ended: set[TrialSpec] = set()
        try:
            for sp, res in executor.wait():  # completion order; this process alone writes the store
                ended.add(sp)
                self._finished(sp, ids.get(sp), bufs.get(sp), res)
        except BaseException:  # a cancel or an error ends the run: trials training beside it stop with it
            for sp, tid in ids.items():
                if sp not in ended:
                    if bufs.get(sp):
                        store.add_points(tid, bufs[sp])
                    store.finish_trial(tid, "cancelled")
            raise
        gone = [sp for sp in todo if _key(sp) in self.lost and _key(sp) not in self.done]
        if gone:  # missing data, not a result: the run stops failed, naming them, and resume reruns them
            raise UserError(lost_message(gone, cfg.method, run_id, executor))
        return [self.done.get(_key(sp)) or self.lost.get(_key(sp)) or self.provisional[_key(sp)][2] for sp in specs]

    def _finished(self, sp: TrialSpec, tid: int | None, buf: list | None, res) -> None:
        """Record one trial's outcome: its result, a loss by the infrastructure, or an error that ends the run."""
        from .train import Cancelled

        store, run_id, cfg = self.store, self.run_id, self.cfg
        if tid is not None and buf:
            store.add_points(tid, buf)
        if isinstance(res, TrialLost):  # the infrastructure lost it: recorded, the sweep goes on
            if tid is not None:
                store.finish_trial(tid, "failed", error=str(res))
            store.event(run_id, "warning", f"{level_name(cfg.method, sp)} seed {sp.seed}: lost ({res})")
            self.lost[_key(sp)] = {"kind": sp.kind, "d": sp.d, "seed": sp.seed, "status": "failed",
                                   "accuracy": None, "seconds": None}
            return
        if isinstance(res, Exception):
            if tid is not None:
                store.finish_trial(tid, "cancelled" if isinstance(res, Cancelled) else "failed",
                                   error=None if isinstance(res, Cancelled) else str(res))
            self.executor.cancel()
            raise res
        if sp.first_rate:
            self._provisional(sp, tid, res)
            return
        store.finish_trial(tid, res.status, res.accuracy, res.val_accuracy, res.steps,
                           res.curve[-1]["total"] if res.curve else None, res.seconds, res.trainable,
                           res.error, res.correct, res.peak_mb, res.train_accuracy, res.extra)
        self.provisional.pop(_key(sp), None)  # a provisional ruler's search has ended: this is the ruler
        row = _row(sp.kind, sp.d, sp.seed, res)
        self.done[_key(sp)] = row
        msg = (f"{level_name(cfg.method, sp)} seed {sp.seed}: "
               + (f"accuracy {res.accuracy:.3f}" if res.accuracy is not None else res.status)
               + _rate_words(res, cfg, sp)
               + f" ({res.seconds:.0f} s"
               + (f", {res.extra['one_thread_s']:.1f} s of it on one thread while another program needed a core"
                  if (res.extra or {}).get("one_thread_s") else "") + ")")
        store.event(run_id, "info" if res.status == "done" else "warning", msg)
        self.progress({"type": "trial_end", **row, "timing": dict(getattr(res, "timing", None) or {})})

    def _provisional(self, sp: TrialSpec, tid: int, res) -> None:
        """A searched baseline's first rate, trained: the ruler for now.  Stored with the status "provisional" and
        the first rate's figures (its test pass included), marked in ``extra`` (rates tried, of how many), so the
        chart draws the line and the threshold as provisional; the runner keeps the result for the other rates."""
        from .train import LR_SEARCH

        store, run_id, cfg = self.store, self.run_id, self.cfg
        mark = {"tried": 1, "of": len(LR_SEARCH), "status": res.status}
        store.finish_trial(tid, "provisional", res.accuracy, res.val_accuracy, res.steps,
                           res.curve[-1]["total"] if res.curve else None, res.seconds, res.trainable,
                           res.error, res.correct, res.peak_mb, res.train_accuracy,
                           {**(res.extra or {}), "provisional": mark})
        row = _row(sp.kind, sp.d, sp.seed, res)
        self.provisional[_key(sp)] = (tid, res, row)
        what = f"accuracy {res.accuracy:.3f}" if res.accuracy is not None else res.status
        rate = f" {res.lr:.3g}" if res.lr is not None else ""
        # (its own opening words: "baseline seed 0:" is the final ruler's line, with every rate tried)
        store.event(run_id, "info" if res.status == "done" else "warning",
                    f"the ruler for now: {level_name(cfg.method, sp)} seed {sp.seed} at its first rate{rate}, {what} "
                    f"(provisional: rate search 1 of {len(LR_SEARCH)}; the other rates train after the first point) "
                    f"({res.seconds:.0f} s)")
        self.progress({"type": "ruler_provisional", **row, "tried": 1, "of": len(LR_SEARCH)})

    # -- the run --------------------------------------------------------------------------------------------
    def _run(self, cfg: RunConfig, device: str) -> dict:
        from . import executors

        store, run_id = self.store, self.run_id
        self.cfg = cfg
        prep, task, D = self._prepare(cfg, device)
        self._stop = lambda: store.cancel_requested(run_id)  # noqa: E731
        self.done = {(t["kind"], t["d"], t["seed"]): t for t in store.trials(run_id)
                     if t["status"] in ("done", "diverged")}
        self.lost = {}
        self.executor = executor = executors.get(cfg.executor)(prep, cfg, self._stop)
        where = executor.describe()
        if where:  # trials train elsewhere: the run's record says where
            self._summary(executor=executor.name, cluster=executor.address, slots=executor.slots)
            store.event(run_id, "info", where)

        max_d = min(int(cfg.max_d or D), D)
        check_dims_fit(cfg.dims, D)
        min_d = _min_d(cfg, prep)
        # The ruler first: the baseline (reused from the store when an earlier run made it), so the full-training
        # line and the threshold are on the chart before the first point; then the smallest grid d (or the
        # search's first rung), so a point follows one trial later.
        first = cfg.grid[0] if not cfg.auto else min(max(cfg.dims.start, min_d), max_d)
        seeds = cfg.seed_list
        if not cfg.fresh_baseline:
            self._share_baseline(cfg, device, seeds)
        if executor.slots > 1 and executor.hands_out_ahead:
            # trials side by side on this machine: only the refinement and the search wait for the baseline, so
            # the baselines (handed out first), the first trial, the probes and (on a grid) every grid trial go
            # out at once
            ahead = ([TrialSpec("baseline", None, s) for s in seeds] + [TrialSpec("subspace", first, 0)]
                     + ([TrialSpec("probe", None, s) for s in seeds] if wants_probe(cfg) else [])
                     + ([] if cfg.auto else [TrialSpec("subspace", d, s) for d in cfg.grid for s in seeds]))
            self._trials(list(dict.fromkeys(ahead)))  # the first trial is also the grid's first
        need = [s for s in seeds if ("baseline", None, s) not in self.done]
        if need and self.ruler_first_rate and executor.slots == 1 and searches_rate(cfg, "baseline"):
            # the ruler from the first rate (provisional), the first point, then the search's other rates: the
            # final ruler is the search's best on validation, as if it had trained first, before any choice of d
            self._trials([TrialSpec("baseline", None, s, first_rate=True) for s in need])
            self._trials([TrialSpec("subspace", first, 0)])
            self._trials([TrialSpec("baseline", None, s, after=self.provisional[("baseline", None, s)][1])
                          for s in need])
        bases = self._trials([TrialSpec("baseline", None, s) for s in seeds])  # the baseline has seeds too
        ok = [b["accuracy"] for b in bases if b["status"] == "done" and b["accuracy"] is not None]
        if not ok:
            why = bases[0].get("error") or "non-finite loss"
            raise UserError(f"full fine-tuning diverged ({why}); lower --lr-full")
        self._trials([TrialSpec("subspace", first, 0)])  # the first point, one trial after the ruler
        if wants_probe(cfg):
            # the reference a pretrained model's frozen features already reach: a linear probe (head only)
            self._trials([TrialSpec("probe", None, s) for s in seeds])
        self._levels(cfg, prep, task, bases, ok, max_d, min_d)
        store.end_run(run_id, "done")
        summary = result(store, run_id)
        store.event(run_id, "info", "done: " + describe(summary))
        self.progress({"type": "done", "summary": summary})
        return summary

    def _levels(self, cfg: RunConfig, prep, task, bases: list[dict], ok: list[float], max_d: int, min_d: int) -> None:
        """The levels after the baseline: the grid and its refinement, or the automatic search.

        Every choice of where to look next is made on the validation split: validation means against the
        threshold the baseline's validation accuracy sets.  The test split is read only for the reported d90.
        """
        from .d90 import at_floor, threshold_of

        store, run_id, executor, seeds = self.store, self.run_id, self.executor, cfg.seed_list
        fail = task.chance()
        base_val = statistics.fmean([val_of(b) if val_of(b) is not None else fail for b in bases
                                     if b["status"] in ("done", "diverged")])
        thr = threshold_of(base_val, task.chance(), task.majority(), len(prep.val))[0]

        def mean_at(d: int) -> float:
            return mean_of(self._trials([TrialSpec("subspace", d, s) for s in seeds]), fail)

        def means_at(ds: list[int]) -> dict[int, float]:
            """Several d at once (all their trials submitted together: in parallel on a cluster)."""
            rows = self._trials([TrialSpec("subspace", d, s) for d in ds for s in seeds])
            return {d: mean_of([r for r in rows if r["d"] == d], fail) for d in ds}

        auto = cfg.dims if cfg.auto else None
        if auto and at_floor(statistics.fmean(ok), task.chance(), task.majority(), len(prep.test)):
            store.event(run_id, "warning", "full fine-tuning did not learn the task (not clearly above always "
                                           "guessing): no d90 to search for")
        elif auto:
            slots = executor.search_slots or executor.slots  # local processes: one d at a time
            if slots > 1:
                k = max(2, slots // len(seeds))
                found, rounds, n = parallel_search(means_at, thr, max_d, min_d=min_d, k=k, start=auto.start,
                                                   factor=auto.factor, tol=auto.tol)
                self._summary(search={"rounds": rounds, "probes": n, "per_round": k})
                store.event(run_id, "info", f"parallel d90 search: {rounds} rounds, {n} values of d "
                                            f"({n * len(seeds)} trials), up to {k} d per round")
            else:
                found = adaptive_search(mean_at, thr, max_d, min_d=min_d, start=auto.start, factor=auto.factor,
                                        tol=auto.tol)
            tried = {row["d"] for row in self.done.values() if row.get("kind") == "subspace" and row.get("d")}
            above = confirm_rung(found, tried, max_d, auto.factor)
            if above is not None:
                # the search stops where the VALIDATION mean crosses; the test curve may cross a little higher,
                # and with nothing tried above, the reported d90 would be "> max d".  One rung above the
                # crossing, chosen without reading the test split, brackets it.
                val = means_at([above])[above]
                store.event(run_id, "info", f"search: d = {above:,} added above the validation crossing "
                                            f"(d = {found:,}), so that the test curve's crossing is bracketed too "
                                            f"(validation mean there {val:.3f}, threshold {thr:.3f})")
        else:
            # several slots: every (d, seed) at once, the cluster schedules them
            grid = means_at(list(cfg.grid)) if executor.slots > 1 else {d: mean_at(d) for d in cfg.grid}
            for d, why in refine_grid(grid, thr, means_at, int(cfg.refine or 0), max_d=max_d, min_d=min_d):
                store.event(run_id, "info", f"refinement: d = {d:,} added ({why})")


def confirm_rung(found: int | None, tried: set, max_d: int, factor: int) -> int | None:
    """The d to try above a search's validation crossing (about x sqrt(factor): x3 on the x10 ladder) when
    nothing above it was tried (the crossing is the ladder's first passing rung); None when something was,
    when the search found nothing, or when the crossing is at the largest d allowed."""
    if found is None or found >= max_d or any(d > found for d in tried):
        return None
    above = min(max_d, int(round(found * math.sqrt(factor))))
    return above if above > found else None


def lost_message(gone: list, method: str, run_id: str, executor=None) -> str:
    """One sentence for trials the executor's infrastructure lost after its retries."""
    names = ", ".join(f"{level_name(method, sp)} seed {sp.seed}" for sp in gone)
    what = f"trial {names} was" if len(gone) == 1 else f"{len(gone)} trials ({names}) were"
    why = (executor.lost_reason if executor is not None else None) or "its infrastructure lost it"
    return (f"{what} lost ({why}), so no d90 is given; "
            f"`idim resume {run_id}` reruns {'it' if len(gone) == 1 else 'them'} (finished trials are kept)")


def _min_d(cfg, prep) -> int:
    from . import methods

    return methods.get(cfg.method).min_d(prep.module, cfg)
