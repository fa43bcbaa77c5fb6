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


def _n_test(cfg: dict, summ: dict, trials: list[dict]) -> int | None:
    for t in trials:
        if t.get("correct"):
            return len(t["correct"])
    splits = summ.get("splits") or {}
    if splits.get("test"):
        return int(splits["test"])
    return int(cfg["max_eval"]) if cfg.get("max_eval") else None


def result(store: Store, run_id: str, ci: bool = True) -> dict:
    """The run's public JSON object (the CLI contract).  ``ci=False`` skips the bootstrap."""
    run = store.get_run(run_id)
    cfg = run["config"]
    summ = run.get("summary") or {}
    trials = store.trials(run_id)
    finished = [t for t in trials if t["status"] in ("done", "diverged")]
    bases = sorted([t for t in finished if t["kind"] == "baseline" and t["status"] == "done"],
                   key=lambda t: t["seed"])
    subs = sorted([t for t in finished if t["kind"] == "subspace"], key=lambda t: (t["d"], t["seed"]))
    pts = [{"d": t["d"], "seed": t["seed"], "accuracy": t["accuracy"], "status": t["status"]} for t in subs]
    chance, majority = summ.get("chance"), summ.get("majority")
    n_test = _n_test(cfg, summ, trials)
    est = d90mod.estimate(pts, [t["accuracy"] for t in bases], chance, majority, n_test, run["status"])
    if ci and est["d90_status"] in ("found", "below_grid") and bases:
        est["d90_ci"] = d90mod.bootstrap_ci(bases, subs, chance, n_test)
    seconds = None
    if run.get("finished") and run.get("started"):
        seconds = (run.get("active_seconds") or 0.0) + run["finished"] - run["started"]
    return {
        "run_id": run_id,
        "status": run["status"],
        "model": cfg["model"],
        "task": cfg["task"],
        "method": cfg["method"],
        "projection": cfg["projection"],
        "D": summ.get("D"),
        "device": run.get("device"),
        "baseline_accuracy": est["baseline_accuracy"],
        "baseline_accuracies": est["baseline_accuracies"],
        "baseline_std": est["baseline_std"],
        "threshold": est["threshold"],
        "points": pts,
        "by_d": est["by_d"],
        "d90": est["d90"],
        "d90_interpolated": est["d90_interpolated"],
        "d90_status": est["d90_status"],
        "d90_upper": est["d90_upper"],
        "d90_ci": est["d90_ci"],
        "chance": chance,
        "majority": majority,
        "n_test": n_test,
        "config": cfg,
        "created": run["created"],
        "started": run.get("started"),
        "finished": run.get("finished"),
        "seconds": seconds,
        "error": run.get("error"),
    }


def recompute(data: dict) -> dict:
    """A result object read from a file (a recorded run), with its d90 facts derived afresh by d90.py.

    Records written before per-seed baselines and d90 statuses existed load the same way:
    their one baseline is a one-seed baseline.
    """
    out = dict(data)
    bases = data.get("baseline_accuracies") or ([data["baseline_accuracy"]] if data.get("baseline_accuracy") is not None
                                                else [])
    cfg = data.get("config") or {}
    n_test = data.get("n_test") or (int(cfg["max_eval"]) if cfg.get("max_eval") else None)
    est = d90mod.estimate(data.get("points") or [], bases, data.get("chance"), data.get("majority"), n_test,
                          data.get("status", "done"))
    if est["d90_status"] in ("found", "below_grid") and bases:
        est["d90_ci"] = d90mod.bootstrap_ci([{"accuracy": b, "status": "done"} for b in bases],
                                            data.get("points") or [], data.get("chance"), n_test)
    out.update({k: est[k] for k in ("baseline_accuracy", "baseline_accuracies", "baseline_std", "threshold", "by_d",
                                    "d90", "d90_interpolated", "d90_status", "d90_upper", "d90_ci")})
    out["n_test"] = n_test
    return out


CSV_COLUMNS = ["d", "seed", "accuracy", "status", "baseline_accuracy", "threshold", "d90", "d90_interpolated",
               "d90_status", "d90_ci_low", "d90_ci_high", "model", "task", "method", "projection", "run_id"]


def export_csv(res: dict) -> str:
    """One row per trial: d, seed, accuracy first (as always), then the run's facts on every row."""
    buf = io.StringIO()
    w = csv.writer(buf, lineterminator="\n")
    w.writerow(CSV_COLUMNS)
    ci = res.get("d90_ci") or [None, None]
    facts = [res.get("baseline_accuracy"), res.get("threshold"), res.get("d90"), res.get("d90_interpolated"),
             res.get("d90_status"), ci[0], ci[1], res["model"], res["task"], res["method"], res["projection"],
             res["run_id"]]
    facts = ["" if v is None else v for v in facts]
    for p in res["points"]:
        w.writerow([p["d"], p["seed"], "" if p["accuracy"] is None else p["accuracy"], p.get("status", "done"), *facts])
    return buf.getvalue()
