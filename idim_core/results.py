"""A run's public JSON object, read from the store (no torch here).

The CLI (`idim show --json`, `idim run --json`), the worker's last event and every page
read a run through ``result``; d90 and its interval come from ``d90.py``.  The result is
always derived from the trials, never from a stored copy, so it cannot go stale.
"""
from __future__ import annotations

import csv
import io

from . import d90 as d90mod
from .store import Store


def pack_correct(bits: str | None) -> str | None:
    """A trial's per-example correctness ('0'/'1' per test example) as a short text: the bits packed, zlib,
    base64, behind the count ("500:eJz..."), so a JSON record keeps what the paired bootstrap needs."""
    import base64
    import zlib

    import numpy as np

    if not bits:
        return None
    arr = np.frombuffer(bits.encode(), dtype=np.uint8) - 48
    return f"{len(bits)}:" + base64.b64encode(zlib.compress(np.packbits(arr).tobytes(), 9)).decode()


def unpack_correct(text: str | None) -> str | None:
    """The inverse of ``pack_correct``; None for no text, a one-line error for a damaged one."""
    import base64
    import binascii
    import zlib

    import numpy as np

    if not text:
        return None
    try:
        n, body = text.split(":", 1)
        bits = np.unpackbits(np.frombuffer(zlib.decompress(base64.b64decode(body, validate=True)), dtype=np.uint8))
        n = int(n)
        if n <= 0 or n > bits.size:
            raise ValueError
    except (ValueError, binascii.Error, zlib.error):
        raise ValueError("a trial's per-example results (correct_z) are damaged") from None
    return (bits[:n] + 48).tobytes().decode()


def _n_test(stored: dict, summ: dict, trials: list[dict]) -> int | None:
    for t in trials:
        if t.get("correct"):
            return len(t["correct"])
    splits = summ.get("splits") or {}
    if splits.get("test"):
        return int(splits["test"])
    return int(stored["max_eval"]) if stored.get("max_eval") else None


def result(store: Store, run_id: str, ci: bool = True, ci_seed: int = 0) -> dict:
    """The run's public JSON object (the CLI contract).  ``ci=False`` skips the bootstrap; ``ci_seed`` is the
    bootstrap's seed (0 on every face; another one checks that the interval holds still)."""
    run = store.get_run(run_id)
    stored = run["config"]
    summ = run.get("summary") or {}
    trials = store.trials(run_id)
    ruler = provisional_ruler(trials)
    # a provisional ruler (a baseline whose rate search trained its first rate) counts as its first rate finished
    finished = [t for t in trials if t["status"] in ("done", "diverged")] + (ruler["trials"] if ruler else [])
    # a diverged baseline seed is a failed one, as a diverged subspace trial is: counted at chance, marked,
    # never dropped
    bases = sorted([t for t in finished if t["kind"] == "baseline"], key=lambda t: t["seed"])
    subs = sorted([t for t in finished if t["kind"] == "subspace"], key=lambda t: (t["d"], t["seed"]))
    probes = sorted([t for t in finished if t["kind"] == "probe"], key=lambda t: t["seed"])
    axis = methods_axis(stored["method"])
    pts = [point(t, axis) for t in subs]
    chance, majority = summ.get("chance"), summ.get("majority")
    n_test = _n_test(stored, summ, trials)
    n_train = _n_train(stored, summ)
    stats = trial_stats(pts, chance)
    fail = chance if chance is not None else 0.0
    est = estimates(pts, [t["accuracy"] if t["status"] == "done" else fail for t in bases], chance, majority, n_test,
                    run["status"], axis, bases if ci else None, subs, ci_seed=ci_seed)
    seconds = None
    if run.get("finished") and run.get("started"):
        seconds = (run.get("active_seconds") or 0.0) + run["finished"] - run["started"]
    return {
        "run_id": run_id,
        "status": run["status"],
        "model": stored["model"],
        "task": stored["task"],
        "method": stored["method"],
        "projection": stored["projection"],
        "D": summ.get("D"),
        "device": run.get("device"),
        "baseline_accuracy": est["baseline_accuracy"],
        "baseline_accuracies": est["baseline_accuracies"],
        "baseline_std": est["baseline_std"],
        "baseline_diverged": sum(t["status"] == "diverged" for t in bases),
        **probe_facts(probes, chance),
        "baseline_seconds": [t["seconds"] for t in bases if t.get("seconds") is not None],
        # per seed, the baseline's per-example test results (packed), so a record keeps its paired bootstrap
        "baseline_correct_z": [pack_correct(t.get("correct")) for t in bases] if any(t.get("correct") for t in bases)
        else None,
        "baseline_train_accuracies": [t["train_accuracy"] for t in bases if t.get("train_accuracy") is not None],
        # how many training examples the baseline's training accuracy was read on (fewer than n_train: a subset)
        "baseline_train_n": _fewest([(t.get("extra") or {}).get("train_accuracy_n") or n_train for t in bases
                                     if t.get("train_accuracy") is not None]),
        "threshold": est["threshold"],
        # while the baseline's rate search goes on after its first rate: the line, the threshold and d90 are
        # provisional ({"tried": rates tried, "of": rates the search tries at least}); None once the search ended
        "ruler_provisional": {k: ruler[k] for k in ("tried", "of")} if ruler else None,
        "baseline_rate_searched": bool(stored.get("baseline_lr_search")),
        # where the validation mean crosses (the search's own rule); said when the test curve does not cross
        "d90_val": _val_crossing(pts, bases, chance, majority, summ, n_test) if axis == "d" else None,
        "axis": axis,
        "points": pts,
        **{k: est[k] for k in EST_KEYS if k not in ("baseline_accuracy", "baseline_accuracies", "baseline_std",
                                                     "threshold")},
        "chance": chance,
        "majority": majority,
        "n_test": n_test,
        "n_train": n_train,
        "stats": stats,
        "bound": bound_of(stats, axis, n_train, stored, chance),
        **head_rate(stored, axis),
        "config": stored,
        "created": run["created"],
        "started": run.get("started"),
        "finished": run.get("finished"),
        "seconds": seconds,
        "error": run.get("error"),
        # the class's guesses of d90 ("Where will it cross?" on Live): the numbers, not who guessed
        "guesses": [{"d": g["d"], "t": g["t"]} for g in store.guesses(run_id)],
    }


def provisional_ruler(trials: list[dict]) -> dict | None:
    """The baseline trials whose rate search has trained its first rate and not yet the others (stored with the
    status "provisional", or training again with the first rate's figures kept), each as its first rate finished
    ("done" or "diverged"), with the rates tried and the search's count; None when there are none."""
    rows = [t for t in trials if t["kind"] == "baseline" and t["status"] in ("provisional", "running")
            and (t.get("extra") or {}).get("provisional")]
    if not rows:
        return None
    marks = [t["extra"]["provisional"] for t in rows]
    return {"trials": [{**t, "status": m.get("status") or "done"} for t, m in zip(rows, marks)],
            "tried": min(int(m.get("tried") or 1) for m in marks), "of": max(int(m.get("of") or 3) for m in marks)}


EST_KEYS = ("baseline_accuracy", "baseline_accuracies", "baseline_std", "threshold", "by_d", "d90",
            "d90_interpolated", "d90_status", "d90_upper", "d90_ci", "by_params", "p90", "p90_interpolated",
            "p90_status", "p90_upper", "p90_ci", "threshold_paper", "threshold_rule", "non_monotone",
            "non_monotone_at", "d90_ci_over", "d90_ci_widened", "ruler")


def methods_axis(method: str) -> str:
    from .methods import axis

    return axis(method)


# a trial's extra facts, kept in the store's ``extra`` JSON and copied to its point: SAID's scales, accuracy with
# z quantised (test, and training on a subset of quantised_train_n), and train_accuracy_n when training
# accuracy was read on a fixed subset of the training examples (absent: on all of them)
EXTRA_KEYS = ("lam", "lam_names", "lam_history", "quantised", "quantised_train", "quantised_train_n",
              "train_accuracy_n")


def _fewest(ns: list) -> int | None:
    """The smallest of the known counts (None when none is known)."""
    known = [n for n in ns if n]
    return min(known) if known else None


def point(t: dict, axis: str) -> dict:
    """One trial as a JSON point: its level (d, or the rank), trainable parameters, time and memory."""
    params = t.get("trainable")
    if params is None and axis == "d":
        params = t["d"]  # a subspace trial trains exactly d numbers (records older than the params key)
    out = {"d": t["d"], "seed": t["seed"], "accuracy": t["accuracy"], "status": t["status"], "params": params}
    if axis == "rank":
        out["rank"] = t["d"]
    for k in ("val_accuracy", "seconds", "peak_mb", "steps", "train_accuracy"):
        if t.get(k) is not None:
            out[k] = t[k]
    if t.get("train_accuracy") is not None and t.get("accuracy") is not None:
        out["gap"] = t["train_accuracy"] - t["accuracy"]  # the generalisation gap: train - test
    if t.get("correct"):
        out["correct_z"] = pack_correct(t["correct"])
    elif t.get("correct_z"):  # a point read back from a JSON record
        out["correct_z"] = t["correct_z"]
    extra = t.get("extra") or {}
    for k in EXTRA_KEYS:
        if extra.get(k) is not None:
            out[k] = extra[k]
        elif t.get(k) is not None:  # a point read back from a JSON record
            out[k] = t[k]
    return out


PUBLIC_POINT_KEYS = ("d", "rank", "params", "seed", "accuracy", "val_accuracy", "status", "seconds", "peak_mb",
                     "steps", "train_accuracy", "gap", *EXTRA_KEYS, "correct_z")


def public(res: dict) -> dict:
    """The run's JSON contract, the one `idim show --json`, `idim export` and the Runs page's download give."""
    out = dict(res)
    out["points"] = [{k: p[k] for k in PUBLIC_POINT_KEYS if k in p} for p in res["points"]]
    return out


def head_rate(stored: dict, axis: str) -> dict:
    """The classifier head's own rate in an adapter run ({"lr_head": rate}); nothing for the subspace methods
    (the head moves with z) and head-only (the head is the method: its rate is the method's)."""
    from .methods import has_own_head_rate
    from .methods.adapters import head_lr

    if not has_own_head_rate(stored.get("method") or ""):
        return {}

    from .runconfig import RunConfig

    return {"lr_head": head_lr(RunConfig.from_stored(stored))}


def probe_facts(probes: list[dict], chance: float | None) -> dict:
    """The linear probe (head only, frozen features) of a language-model run: its mean test accuracy
    over seeds (a diverged seed at chance), per seed, and its trainable numbers; None when it has none."""
    import statistics

    if not probes:
        return {"probe_accuracy": None, "probe_accuracies": [], "probe_params": None}
    fail = chance if chance is not None else 0.0
    accs = [t["accuracy"] if t["status"] == "done" and t.get("accuracy") is not None else fail for t in probes]
    return {"probe_accuracy": statistics.fmean(accs), "probe_accuracies": accs,
            "probe_params": next((t.get("trainable") for t in probes if t.get("trainable")), None)}


def trial_stats(pts: list[dict], chance: float | None = None) -> list[dict]:
    """Per level (d or rank): means over seeds of training accuracy, the gap, seconds, steps and the
    accuracy with z quantised (what the claims on Learn and the bound need)."""
    import statistics

    out = []
    for d in sorted({p["d"] for p in pts}):
        ps = [p for p in pts if p["d"] == d and p.get("status") == "done"]
        failed = sum(p.get("status") == "diverged" for p in pts if p["d"] == d)

        def mean(key, ps=ps, failed=failed):  # bound now: called in this iteration only
            vals = [p[key] for p in ps if p.get(key) is not None]
            if key == "accuracy" and failed:  # a diverged trial counts at chance here too, as in d90
                vals += [chance if chance is not None else 0.0] * failed
            return statistics.fmean(vals) if vals else None

        q, qt = {}, {}
        for p in ps:
            for b, acc in (p.get("quantised") or {}).items():
                q.setdefault(b, []).append(acc)
            for b, acc in (p.get("quantised_train") or {}).items():
                qt.setdefault(b, []).append(acc)
        out.append({"d": d, "mean": mean("accuracy"), "train_mean": mean("train_accuracy"), "gap_mean": mean("gap"),
                    "seconds_mean": mean("seconds"), "steps_mean": mean("steps"),
                    "quantised_mean": {b: statistics.fmean(v) for b, v in sorted(q.items(), key=lambda x: int(x[0]))},
                    "quantised_train_mean": {b: statistics.fmean(v)
                                             for b, v in sorted(qt.items(), key=lambda x: int(x[0]))},
                    "train_n": _fewest([p.get("train_accuracy_n") for p in ps]),
                    "quantised_train_n": _fewest([p.get("quantised_train_n") for p in ps if p.get("quantised_train")]),
                    "n": len(ps) + failed, "diverged": failed})
    return out


def bound_of(stats: list[dict], axis: str, n_train: int | None, stored: dict,
             chance: float | None = None) -> dict | None:
    """The generalisation bound (bound.py) for a DID/SAID run, per d (None for other methods or unknown m)."""
    from . import bound

    if axis != "d" or not n_train:
        return None
    dims = stored.get("dims")
    # K counts every d tried: the grid and the d the refinement added
    grid = max(len(dims) if isinstance(dims, list) else 1, len(stats))
    seeds = max([s.get("n") or 1 for s in stats] + [int(stored.get("seeds") or 1)])
    vectors = 2 if stored.get("method") == "said" else 1  # SAID's scales are a second quantised vector
    return bound.summary(stats, n_train, grid, seeds=seeds, vectors=vectors, chance=chance)


def _val_crossing(pts, bases, chance, majority, summ, n_test) -> int | None:
    fail = chance if chance is not None else 0.0
    vals = [fail if t["status"] == "diverged" else t.get("val_accuracy") for t in bases]
    if not vals or any(v is None for v in vals):
        return None  # a baseline without a validation accuracy (an imported record): no validation threshold
    n_val = (summ.get("splits") or {}).get("val") or n_test
    return d90mod.val_crossing(pts, vals, chance, majority, n_val)


def _n_train(stored: dict, summ: dict) -> int | None:
    splits = summ.get("splits") or {}
    if splits.get("train"):
        return int(splits["train"])
    return int(stored["max_train"]) if stored.get("max_train") else None


def estimates(pts: list[dict], bases: list[float], chance, majority, n_test, status: str, axis: str,
              base_trials: list[dict] | None, sub_trials: list[dict], ci_seed: int = 0) -> dict:
    """d90 facts (subspace methods) and the 90 % point on the trainable-parameter axis (every method).

    ``p90`` is d90's rule applied to the parameter counts: the smallest count whose mean accuracy
    reaches 0.9 x full fine-tuning, interpolated in log between the counts that bracket it.  For
    DID and SAID the count is d, so p90 = d90.  Methods without a d have d90 null and
    ``d90_status`` "not_applicable".
    """
    if axis == "d":  # the count is d: one estimate serves both
        est = d90mod.estimate(pts, bases, chance, majority, n_test, status)
        if base_trials is not None and est["d90_status"] in ("found", "below_grid") and base_trials:
            est["d90_ci"], est["d90_ci_widened"] = d90mod.interval(
                base_trials, sub_trials, chance, n_test, majority, [r["d"] for r in est["by_d"]],
                est["d90_interpolated"] if est["d90_status"] == "found" else None, seed=ci_seed)
        est_p = est
    else:
        by_params = [{**p, "d": p["params"]} for p in pts if p.get("params") is not None]
        est_p = d90mod.estimate(by_params, bases, chance, majority, n_test, status)
        # (below the smallest size tried the point is only bounded above: no interval is claimed)
        if base_trials is not None and est_p["d90_status"] == "found" and base_trials:
            params_of = {p["d"]: p["params"] for p in pts}
            est_p["d90_ci"], est_p["d90_ci_widened"] = d90mod.interval(
                base_trials, [{**t, "d": params_of.get(t["d"], t["d"])} for t in sub_trials], chance, n_test,
                majority, [r["d"] for r in est_p["by_d"]], est_p["d90_interpolated"], seed=ci_seed)
        est = dict(est_p, by_d=d90mod.summarize(pts, chance), d90=None, d90_interpolated=None, d90_upper=None,
                   d90_ci=None, d90_ci_widened=False,
                   d90_status="baseline_at_floor" if est_p["d90_status"] == "baseline_at_floor" else "not_applicable")
    est.update(by_params=est_p["by_d"], p90=est_p["d90"], p90_interpolated=est_p["d90_interpolated"],
               p90_status=est_p["d90_status"], p90_upper=est_p["d90_upper"], p90_ci=est_p["d90_ci"])
    return est


def recompute(data: dict, ci_seed: int = 0) -> dict:
    """A result object read from a file (a recorded run), with its d90 facts derived afresh by d90.py.

    Records written before per-seed baselines and d90 statuses existed load the same way:
    their one baseline is a one-seed baseline.
    """
    out = dict(data)
    bases = data.get("baseline_accuracies") or ([data["baseline_accuracy"]] if data.get("baseline_accuracy") is not None
                                                else [])
    stored = data.get("config") or {}
    n_test = data.get("n_test") or (int(stored["max_eval"]) if stored.get("max_eval") else None)
    axis = methods_axis(data.get("method") or stored.get("method") or "did")
    pts = [point({**p, "trainable": p.get("params")}, axis) for p in data.get("points") or []]
    # per-example results where the record kept them (every trial, or the bootstrap resamples counts)
    packed = data.get("baseline_correct_z") or [None] * len(bases)
    base_trials = [{"accuracy": b, "status": "done", "correct": unpack_correct(z)}
                   for b, z in zip(bases, list(packed) + [None] * (len(bases) - len(packed)))]
    sub_trials = [{**p, "correct": unpack_correct(p.get("correct_z"))} for p in pts]
    est = estimates(pts, bases, data.get("chance"), data.get("majority"), n_test, data.get("status", "done"), axis,
                    base_trials, sub_trials, ci_seed=ci_seed)
    out.update({k: est[k] for k in EST_KEYS})
    out["points"], out["axis"], out["n_test"] = pts, axis, n_test
    out["baseline_rate_searched"] = bool(stored.get("baseline_lr_search"))
    n_train = data.get("n_train") or _n_train(stored, {})
    out["n_train"], out["stats"] = n_train, trial_stats(pts, data.get("chance"))
    out["bound"] = bound_of(out["stats"], axis, n_train, stored, data.get("chance"))
    return out


CSV_COLUMNS = ["d", "seed", "accuracy", "status", "params", "rank", "seconds", "peak_mb", "steps", "train_accuracy",
               "gap", "lam", "baseline_accuracy", "threshold", "d90", "d90_interpolated",
               "d90_status", "d90_ci_low", "d90_ci_high", "model", "task", "method", "projection", "run_id"]


FORMULA_START = ("=", "+", "-", "@", "\t", "\r")


def csv_cell(value):
    """A text cell that a spreadsheet would read as a formula (``=``, ``+``, ``-``, ``@``, tab, CR first)
    gets a leading ``'`` (OWASP's advice on CSV injection); numbers and other text stay as they are.
    A carriage return inside text becomes a line feed: the writer quotes a field holding a line feed
    (its line terminator), not one holding a lone CR, which a reader would take for a row's end."""
    if not isinstance(value, str):
        return value
    if value.startswith(FORMULA_START):
        value = "'" + value
    return value.replace("\r\n", "\n").replace("\r", "\n")


def export_csv(res: dict) -> str:
    """One row per trial: d, seed, accuracy first (as always), then the run's facts on every row.

    Text cells pass through ``csv_cell``: a model or task named ``=HYPERLINK(…)`` is not a formula."""
    buf = io.StringIO()
    w = csv.writer(buf, lineterminator="\n")
    w.writerow(CSV_COLUMNS)
    ci = res.get("d90_ci") or [None, None]
    facts = [res.get("baseline_accuracy"), res.get("threshold"), res.get("d90"), res.get("d90_interpolated"),
             res.get("d90_status"), ci[0], ci[1], res["model"], res["task"], res["method"], res["projection"],
             res["run_id"]]
    facts = ["" if v is None else csv_cell(v) for v in facts]
    for p in res["points"]:
        extra = ["" if p.get(k) is None else p[k] for k in ("params", "rank", "seconds", "peak_mb", "steps",
                                                               "train_accuracy", "gap")]
        extra.append(" ".join(f"{v:g}" for v in p["lam"]) if p.get("lam") else "")
        w.writerow([p["d"], p["seed"], "" if p["accuracy"] is None else p["accuracy"],
                    csv_cell(p.get("status", "done")), *extra, *facts])
    return buf.getvalue()


BUDGET_KEYS = ("epochs", "max_steps", "batch_size", "max_train", "max_eval", "max_length", "seeds", "split_seed")


def budget(res: dict) -> dict:
    stored = res.get("config") or {}
    return {k: stored.get(k) for k in BUDGET_KEYS}


def comparison(results: list[dict]) -> dict:
    """Runs side by side on the trainable-parameter axis (`idim compare`, the Compare page's table).

    Each row: the method, its 90 % point in trainable parameters (with the interval), the
    ratio of that point to the d90 of the subspace run compared (the first DID/SAID run
    with a d90), mean seconds per trial, peak memory, and the budget.  ``same_budget`` is
    false when the runs differ in model, task or budget (then the comparison is not fair).
    """
    import statistics

    ref = next((r for r in results if r.get("axis", "d") == "d" and r.get("d90_status") == "found"), None)
    ref_d90 = ref["d90_interpolated"] if ref else None
    rows = []
    for r in results:
        pts = [p for p in r["points"] if p.get("status") in ("done", "diverged")]
        secs = [p["seconds"] for p in pts if p.get("seconds") is not None]
        mems = [p["peak_mb"] for p in pts if p.get("peak_mb") is not None]
        p90 = r.get("p90_interpolated") if r.get("p90_status") == "found" else \
            r.get("p90_upper") if r.get("p90_status") == "below_grid" else None
        rows.append({
            "run_id": r["run_id"], "method": r["method"], "model": r["model"], "task": r["task"],
            "lora_layers": (r.get("config") or {}).get("lora_layers"), "axis": r.get("axis", "d"),
            "status": r["status"], "D": r.get("D"),
            "baseline_accuracy": r.get("baseline_accuracy"), "threshold": r.get("threshold"),
            "levels": sorted({p["d"] for p in pts}),
            "params": sorted({p["params"] for p in pts if p.get("params") is not None}),
            "best_accuracy": max((row["mean"] for row in r.get("by_params") or r.get("by_d") or []), default=None),
            "p90": r.get("p90"), "p90_interpolated": r.get("p90_interpolated"), "p90_status": r.get("p90_status"),
            "p90_upper": r.get("p90_upper"), "p90_ci": r.get("p90_ci"),
            "ratio_to_d90": (p90 / ref_d90) if (p90 and ref_d90) else None,
            "seconds_per_trial": statistics.fmean(secs) if secs else None,
            "peak_mb": max(mems) if mems else None,
            "budget": budget(r),
        })
    keys = {(r["model"], r["task"], tuple(sorted(budget(r).items()))) for r in results}
    return {"rows": rows, "d90_reference": ref["run_id"] if ref else None, "same_budget": len(keys) <= 1,
            "pairs": pairs(results)}


def point_of(res: dict) -> float | None:
    """The number a comparison ranks: d90 (the 90 % point in trainable parameters for other methods), or the
    smallest size tried when it is already reached there (an upper bound); None without one."""
    if res.get("p90_status") == "found":
        return res.get("p90_interpolated")
    if res.get("p90_status") == "below_grid":
        return res.get("p90_upper")
    return None


def boot_of(res: dict) -> "d90mod.Boot":
    """A result's bootstrap inputs on its trainable-parameter axis (d itself for DID and SAID)."""
    packed = list(res.get("baseline_correct_z") or [])
    bases = res.get("baseline_accuracies") or []
    packed += [None] * (len(bases) - len(packed))
    base = [{"accuracy": a, "status": "done", "correct": unpack_correct(z)} for a, z in zip(bases, packed)]
    subs = []
    for p in res.get("points") or []:
        if p.get("status") not in ("done", "diverged"):
            continue
        level = p.get("params") if p.get("params") is not None else p["d"]
        subs.append({"d": level, "status": p["status"],
                     "accuracy": p.get("accuracy") if p["status"] == "done" else None,
                     "correct": unpack_correct(p.get("correct_z"))})
    return d90mod.Boot(base, subs, res.get("chance"), res.get("n_test"), res.get("majority"))


TEST_SET_KEYS = ("max_eval", "split_seed")


def _shares_test_set(a: dict, b: dict) -> bool:
    """The two runs were tested on the same examples: same task (its data, not its pixel order or labels'
    shuffle), split and test-set size."""
    ca, cb = a.get("config") or {}, b.get("config") or {}
    return (str(a.get("task")).split(":shuffled")[0] == str(b.get("task")).split(":shuffled")[0]
            and all(ca.get(k) == cb.get(k) for k in TEST_SET_KEYS) and a.get("n_test") == b.get("n_test"))


_PAIRS: dict = {}


def pair(a: dict, b: dict, seed: int = 0) -> dict:
    """One entry of ``pairs``: {"a", "b", "ratio", "ratio_ci", "verdict", "paired"}: d90_a / d90_b and its 95 %
    interval from one bootstrap of both runs (paired over test examples where they share a test set), and the
    verdict ("a lower", "b lower" or "not shown"), which holds at every bootstrap seed 0-19 or reads "not shown"."""
    import hashlib
    import json

    key = hashlib.sha256(json.dumps([[r.get("run_id"), r.get("baseline_accuracies"), r.get("baseline_correct_z"),
                                      [(p.get("d"), p.get("params"), p.get("accuracy"), p.get("status"),
                                        p.get("correct_z")) for p in r.get("points") or []]] for r in (a, b)]
                                    + [seed], default=str).encode()).hexdigest()
    if key not in _PAIRS:  # a few seconds for twenty bootstraps: once per pair of result versions
        ba, bb = boot_of(a), boot_of(b)
        shared = _shares_test_set(a, b)
        out = d90mod.compare_pair(ba, bb, seed=seed, shared=shared)
        out["paired"] = shared and ba.shares_examples(bb)
        _PAIRS[key] = out
    pa, pb = point_of(a), point_of(b)
    return {"a": a["run_id"], "b": b["run_id"], "ratio": pa / pb if pa and pb else None, **_PAIRS[key]}


def pair_words(pr: dict, a: str, b: str) -> str:
    """What a pair shows, in words: "a's d90 is lower than b's", or "not shown" with why."""
    if pr["verdict"] == "a lower":
        return f"{a} needs fewer dimensions than {b}"
    if pr["verdict"] == "b lower":
        return f"{b} needs fewer dimensions than {a}"
    return f"not shown which of {a} and {b} needs fewer"


def ratio_text(pr: dict) -> str:
    """"0.50 (0.31 – 0.80)": the ratio and its 95 % interval ("?" or "more" for an unbounded end)."""
    lo, hi = pr["ratio_ci"]
    r = f"{pr['ratio']:.2f}" if pr.get("ratio") else "?"
    return f"{r} ({'?' if not lo else f'{lo:.2f}'} – {'more' if hi is None else f'{hi:.2f}'})"


def pair_sentence(pr: dict, names: dict | None = None) -> str:
    """One line per pair, the same on the CLI and Compare: the ratio, its interval and the verdict."""
    names = names or {}
    a, b = names.get(pr["a"], pr["a"]), names.get(pr["b"], pr["b"])
    how = "paired over the same test examples" if pr.get("paired") else "each run's examples resampled"
    return (f"{a} / {b}: d90 ratio {ratio_text(pr)}, one bootstrap of both runs ({how}): "
            f"{pair_words(pr, a, b)}")


def pairs(results: list[dict], seed: int = 0) -> list[dict]:
    """Every pair (in the order given) of runs that both have a d90 (or 90 % point)."""
    have = [r for r in results if point_of(r) is not None]
    return [pair(a, b, seed) for i, a in enumerate(have) for b in have[i + 1:]]
