"""Learn's "claim by claim" verdicts, computed from recorded runs (no Streamlit, no torch).

Each verdict is one word of a fixed vocabulary (``VERDICTS``): "supported", "contradicted",
"depends" (``on`` says on what) or "not shown", and carries the numbers and 95 % intervals it
rests on (``facts``), worded in ``lines``.  The intervals follow ``d90.bootstrap_ci``: seeds are
resampled with replacement at every d (and for the baseline), and where a trial's test (or
training) accuracy is a count over a known number of examples, that count is resampled as a
binomial (the records keep no per-example results).  Only the d where the model learned count:

- ``learned_rows``: mean accuracy clearly above the floor (``d90.floor_of`` + ``d90.floor_margin``,
  the rule the threshold uses);
- ``reaching_rows``: the d whose mean reaches the run's threshold (0.9 x full fine-tuning, or the
  floor rule when that is higher).  The overfitting verdict uses these: a gap where the model
  fits little (the MLP at d = 10 scores 0.28) is small because nothing was fitted, and "a lower
  d improves performance" can only be asked of a d that performs.

A diverged trial counts at chance accuracy, as everywhere (none of the claims records has one).
"""
from __future__ import annotations

import math
import statistics
from dataclasses import dataclass, field
from pathlib import Path

from . import d90 as d90mod
from .classic import is_classic_model

VERDICTS = ("supported", "contradicted", "depends", "not shown")
BOOT = 2000
LEVEL = 0.95

# Time per optimisation step, subspace against full fine-tuning, measured side by side: read from the step
# benchmark's output, bench/step.json (written by `python bench/step_ratio.py`; the sitting: bench/RESULTS.md, "The
# step ratio, with enough pairs to say"), never typed here.
STEP_JSON = Path(__file__).resolve().parent.parent / "bench" / "step.json"
STEP_COMMAND = ("idim bench step --model minilm-l6 --method said --projection fastfood --dim {d} --batch 32 --seq 64 "
                "--pairs {pairs} --json")


def bench_step(path=None) -> list[dict]:
    """The step benchmark's readings in bench/step.json (the first per d, each as `idim bench step --json` printed
    it): d, the full and the subspace step in seconds, the ratio (median of the paired ratios), its interval and
    the pairs; [] when the file is missing or unreadable."""
    import json

    try:
        readings = json.loads(Path(path or STEP_JSON).read_text(encoding="utf-8"))["readings"]
    except (OSError, ValueError, KeyError, TypeError):
        return []
    rows, seen = [], set()
    for o in readings:
        if o["dim"] in seen:
            continue
        seen.add(o["dim"])
        rows.append({"model": o["model"], "method": o["method"], "projection": o["projection"], "d": o["dim"],
                     "full_s": o["full_step_s"], "subspace_s": o["subspace_step_s"], "ratio": o["ratio"],
                     "ci": list(o["ratio_interval"]), "pairs": o["pairs"],
                     "command": STEP_COMMAND.format(d=o["dim"], pairs=o["pairs"])})
    return sorted(rows, key=lambda r: r["d"])


BENCH_STEP = bench_step()
BENCH_SOURCE = "bench/step.json, written by python bench/step_ratio.py"


@dataclass
class Verdict:
    claim: str
    word: str  # one of VERDICTS
    summary: str  # why, in one sentence
    on: str | None = None  # for "depends": on what
    lines: list[str] = field(default_factory=list)  # per model, with numbers and intervals
    facts: list[dict] = field(default_factory=list)  # the numbers: {model, what, d, value, ci, n}
    rests_on: str = ""  # the records or the command

    def __post_init__(self):
        if self.word not in VERDICTS:
            raise ValueError(f"verdict {self.word!r} is not one of {VERDICTS}")

    @property
    def label(self) -> str:
        if self.word == "depends":
            return f"Depends: {self.on}" if self.on else "Depends"
        return self.word[0].upper() + self.word[1:]

    def text(self) -> str:
        """The verdict as Learn prints it (markdown)."""
        return f"**{self.label}.** {self.summary}"


# ---------------------------------------------------------------- helpers

def floor_line(res: dict) -> float:
    """floor + margin: a mean at or below it is what always guessing could get."""
    floor = d90mod.floor_of(res.get("chance"), res.get("majority")) or 0.0
    return floor + d90mod.floor_margin(floor, res.get("n_test"))


def learned_rows(res: dict) -> list[dict]:
    """by_d rows whose mean is clearly above the floor."""
    line = floor_line(res)
    return [r for r in res.get("by_d") or [] if r["mean"] > line]


def reaching_rows(res: dict) -> list[dict]:
    """by_d rows whose mean reaches the threshold (always above the floor line, by threshold_of)."""
    thr = res.get("threshold")
    if thr is None:
        return []
    return [r for r in learned_rows(res) if r["mean"] >= thr]


def _trials(res: dict, d: int) -> list[dict]:
    return [p for p in res.get("points") or [] if p["d"] == d and p.get("status") in ("done", "diverged")]


def _acc(p: dict, chance: float | None) -> float:
    if p.get("status") == "diverged" or p.get("accuracy") is None:
        return chance if chance is not None else 0.0
    return float(p["accuracy"])


def _ci(vals, level: float = LEVEL) -> list[float]:
    import numpy as np

    lo, hi = (1 - level) / 2, 1 - (1 - level) / 2
    return [float(np.quantile(vals, lo)), float(np.quantile(vals, hi))]


def _resample_counts(rng, acc: float, n: int | None, reps: int):
    import numpy as np

    if n:
        return rng.binomial(int(n), min(1.0, max(0.0, acc)), size=reps) / int(n)
    return np.full(reps, acc)


def _seed_mean(rng, mat):
    """mat: seeds x reps; each replicate averages k seeds drawn with replacement."""
    import numpy as np

    k = mat.shape[0]
    pick = rng.integers(0, k, size=(mat.shape[1], k))
    return np.take_along_axis(mat.T, pick, axis=1).mean(axis=1)


def _fmt_ci(ci, digits: int = 3) -> str:
    return f"{ci[0]:.{digits}f} – {ci[1]:.{digits}f}"


def _apart(a: list[float], b: list[float]) -> int:
    """+1 when interval a lies wholly above b, -1 wholly below, 0 when they overlap."""
    if a[0] > b[1]:
        return 1
    if a[1] < b[0]:
        return -1
    return 0


def base_word(res: dict) -> str:
    """A from-scratch net (the classic nets) is trained, not fine-tuned."""
    return "full training" if is_classic_model((res.get("config") or res).get("model", res.get("model"))) \
        else "full fine-tuning"


def _name(res: dict) -> str:
    return f"`{res['model']}`"


# ---------------------------------------------------------------- overfitting

def gap_replicates(res: dict, reps: int = BOOT, seed: int = 0) -> dict:
    """Bootstrap replicates (reps each) of the mean gap (train - test) and the mean test accuracy at
    every learned d and for full fine-tuning ("full"); test counts over n_test and training counts
    over n_train are resampled as binomials, seeds with replacement."""
    import numpy as np

    rng = np.random.default_rng(seed)
    n_test, n_train, chance = res.get("n_test"), res.get("n_train"), res.get("chance")
    out = {}
    for row in learned_rows(res):
        ps = [p for p in _trials(res, row["d"]) if p.get("train_accuracy") is not None or p.get("status") == "diverged"]
        if not ps:
            continue
        te = np.stack([_resample_counts(rng, _acc(p, chance), n_test, reps) for p in ps])
        # training accuracy read on a subset (train_accuracy_n): resampled over that many examples
        tr = np.stack([_resample_counts(rng, p["train_accuracy"] if p.get("status") != "diverged"
                                        else (chance or 0.0), p.get("train_accuracy_n") or n_train, reps)
                       for p in ps])
        k = len(ps)
        pick = rng.integers(0, k, size=(reps, k))
        out[row["d"]] = {"gap": np.take_along_axis((tr - te).T, pick, axis=1).mean(axis=1),
                         "acc": np.take_along_axis(te.T, pick, axis=1).mean(axis=1),
                         "gap_mean": statistics.fmean(
                             [(p["train_accuracy"] if p.get("status") != "diverged" else (chance or 0.0))
                              - _acc(p, chance) for p in ps]),
                         "acc_mean": statistics.fmean([_acc(p, chance) for p in ps]), "n": k}
    test, train = res.get("baseline_accuracies") or [], res.get("baseline_train_accuracies") or []
    if test and len(train) == len(test):
        te = np.stack([_resample_counts(rng, a, n_test, reps) for a in test])
        tr = np.stack([_resample_counts(rng, a, res.get("baseline_train_n") or n_train, reps) for a in train])
        k = len(test)
        pick = rng.integers(0, k, size=(reps, k))
        out["full"] = {"gap": np.take_along_axis((tr - te).T, pick, axis=1).mean(axis=1),
                       "acc": np.take_along_axis(te.T, pick, axis=1).mean(axis=1),
                       "gap_mean": statistics.fmean(tr_ - te_ for tr_, te_ in zip(train, test)),
                       "acc_mean": statistics.fmean(test), "n": k}
    return out


def gap_direction(res: dict, reps: int = BOOT, seed: int = 0) -> dict:
    """Which way the gap goes with the dimension, where the model reaches the threshold.

    ``direction``: "rises" (the gap grows with d: full fine-tuning's gap is above the subspace's,
    averaged over the d that reach the threshold, with the interval of the difference above 0),
    "falls" (below 0), or "unclear" (the interval holds 0).  ``slope``: the gap's least-squares
    slope per decade of d over those subspace d, with its interval.  ``acc_diff``: full fine-tuning's
    accuracy minus the subspace's over the same d, with its interval."""
    import numpy as np

    reps_ = gap_replicates(res, reps, seed)
    ds = [r["d"] for r in reaching_rows(res) if r["d"] in reps_]
    out = {"model": res["model"], "ds": ds, "rows": [], "direction": "unclear", "diff": None, "diff_ci": None,
           "slope": None, "slope_ci": None, "acc_diff": None, "acc_diff_ci": None, "full": None}
    for d in [r["d"] for r in learned_rows(res) if r["d"] in reps_]:
        g = reps_[d]
        out["rows"].append({"d": d, "gap": g["gap_mean"], "gap_ci": _ci(g["gap"]), "accuracy": g["acc_mean"],
                            "acc_ci": _ci(g["acc"]), "n": g["n"], "reaches": d in ds})
    if "full" in reps_:
        f = reps_["full"]
        out["full"] = {"gap": f["gap_mean"], "gap_ci": _ci(f["gap"]), "accuracy": f["acc_mean"],
                       "acc_ci": _ci(f["acc"]), "n": f["n"]}
    if not ds or "full" not in reps_:
        return out
    sub_gap = np.mean([reps_[d]["gap"] for d in ds], axis=0)
    sub_acc = np.mean([reps_[d]["acc"] for d in ds], axis=0)
    diff = reps_["full"]["gap"] - sub_gap
    out["sub_gap"] = statistics.fmean(reps_[d]["gap_mean"] for d in ds)
    out["sub_gap_ci"] = _ci(sub_gap)
    out["diff"] = reps_["full"]["gap_mean"] - out["sub_gap"]
    out["diff_ci"] = _ci(diff)
    out["acc_diff"] = reps_["full"]["acc_mean"] - statistics.fmean(reps_[d]["acc_mean"] for d in ds)
    out["acc_diff_ci"] = _ci(reps_["full"]["acc"] - sub_acc)
    out["direction"] = "rises" if out["diff_ci"][0] > 0 else "falls" if out["diff_ci"][1] < 0 else "unclear"
    if len(ds) >= 2:
        x = np.log10(np.array(ds, dtype=float))
        x = x - x.mean()
        mat = np.stack([reps_[d]["gap"] for d in ds], axis=1)
        slopes = (mat * x).sum(axis=1) / (x * x).sum()
        means = np.array([reps_[d]["gap_mean"] for d in ds])
        out["slope"] = float((means * x).sum() / (x * x).sum())
        out["slope_ci"] = _ci(slopes)
    return out


def overfitting(runs: list[dict], reps: int = BOOT, seed: int = 0) -> Verdict:
    """“A lower dimension improves performance by reducing overfitting.”"""
    dirs = [gap_direction(r, reps, seed) for r in runs]
    lines, facts = [], []
    for r, g in zip(runs, dirs):
        if not g["ds"] or g["full"] is None:
            lines.append(f"{_name(r)}: no d reaches the threshold, or no training accuracy of {base_word(r)} "
                         "was kept: nothing to compare.")
            continue
        for row in g["rows"]:
            facts.append({"model": r["model"], "what": "gap (train − test)", "d": row["d"], "value": row["gap"],
                          "ci": row["gap_ci"], "n": row["n"], "reaches threshold": row["reaches"],
                          "test accuracy": row["accuracy"]})
        f = g["full"]
        facts.append({"model": r["model"], "what": "gap (train − test)", "d": "full", "value": f["gap"],
                      "ci": f["gap_ci"], "n": f["n"], "reaches threshold": True, "test accuracy": f["accuracy"]})
        lo, hi = g["ds"][0], g["ds"][-1]
        rows = {row["d"]: row for row in g["rows"]}
        way = {"rises": "the gap **rises** with d", "falls": "the gap **falls** as d grows",
               "unclear": "no direction is shown"}[g["direction"]]
        slope = (f"; slope {g['slope']:+.3f} per decade of d ({_fmt_ci(g['slope_ci'])})"
                 if g["slope"] is not None else "")
        lines.append(
            f"{_name(r)}: {way} where it reaches the threshold — gap {rows[lo]['gap']:+.3f} "
            f"({_fmt_ci(rows[lo]['gap_ci'])}) at d = {lo:,}, {rows[hi]['gap']:+.3f} ({_fmt_ci(rows[hi]['gap_ci'])}) "
            f"at d = {hi:,}, mean {g['sub_gap']:+.3f} ({_fmt_ci(g['sub_gap_ci'])}) over d = {lo:,} – {hi:,}, against "
            f"{f['gap']:+.3f} ({_fmt_ci(f['gap_ci'])}) for {base_word(r)} (difference {g['diff']:+.3f}, "
            f"{_fmt_ci(g['diff_ci'])}){slope}. Test accuracy there is {g['acc_diff']:.3f} "
            f"({_fmt_ci(g['acc_diff_ci'])}) below {base_word(r)}, averaged over those d.")
    known = [(r, g) for r, g in zip(runs, dirs) if g["ds"] and g["full"] is not None]
    ways = {g["direction"] for _, g in known}
    phrase = {"rises": "`{m}`'s gap is smaller in the subspace than with every weight training",
              "falls": "`{m}`'s gap is larger in the subspace than with every weight training",
              "unclear": "`{m}`'s gap shows no direction within its intervals"}

    def along_d(g) -> str:
        """Whether the gap's slope over the subspace's d is shown: only then does it "grow with d"."""
        ci = g.get("slope_ci")
        if g.get("slope") is None or not ci:
            return ""
        if ci[0] > 0:
            return f", and it grows with d (slope {_fmt_ci(ci)} per decade)"
        if ci[1] < 0:
            return f", and it shrinks as d grows (slope {_fmt_ci(ci)} per decade)"
        return f"; along d no trend is shown (slope {_fmt_ci(ci)} per decade)"

    parts = [phrase[g["direction"]].format(m=r["model"]) + (along_d(g) if g["direction"] != "unclear" else "")
             for r, g in known]
    never_higher = all(g["acc_diff_ci"][1] >= 0 for _, g in known)
    acc = (" In none does a smaller d score higher than full fine-tuning or training ("
           + "; ".join(f"`{r['model']}` {g['acc_diff']:.3f} lower, {_fmt_ci(g['acc_diff_ci'])}" for r, g in known)
           + ")." if known and never_higher else "")
    on = None
    if len(ways) > 1 and ways != {"unclear"}:
        word, on = "depends", "on the model"
        summary = "Where the models reach the threshold they differ: " + "; ".join(parts) + "." + acc
    elif ways == {"rises"}:
        if all(g["acc_diff_ci"][0] > 0 for _, g in known):
            word, on = "depends", "on what is counted"
            summary = ("A smaller d has a smaller gap, but also a lower test accuracy: it fits less rather than "
                       "generalising better." + acc)
        else:
            word, summary = "supported", "A smaller d has a smaller gap and no lower test accuracy."
    elif ways == {"falls"}:
        word, summary = "contradicted", "A smaller d has a larger gap here." + acc
    else:
        word, summary = "not shown", "The intervals of the gap hold no direction." + acc
    return Verdict("A lower dimension improves performance by reducing overfitting", word, summary, on, lines, facts,
                   "the claims records (bash scripts/record_comparisons.sh claims); bootstrap over seeds and "
                   "test / training examples (binomial counts), the d whose mean reaches the threshold")


# ---------------------------------------------------------------- stability

def excess_spread(res: dict, reps: int = BOOT, seed: int = 0, full: bool = False) -> list[dict]:
    """Per learned d: the seed-to-seed variance of test accuracy beyond what the test set's sampling
    alone gives, var_seeds − p(1 − p)/n_test (a spread that does not grow or shrink with the accuracy
    itself through p(1 − p)), with a bootstrap interval over seeds.  The examples are not resampled
    here: their binomial spread is the part taken out.  ``sd`` is √max(0, ·), for reading.  With
    ``full``, a last row ``d = "full"`` for the baseline's seeds."""
    import numpy as np

    rng = np.random.default_rng(seed)
    n_test, chance = res.get("n_test"), res.get("chance")
    out = []
    groups = [(row["d"], np.array([_acc(p, chance) for p in _trials(res, row["d"])]), row.get("diverged", 0))
              for row in learned_rows(res)]
    if full and len(res.get("baseline_accuracies") or []) > 1:
        groups.append(("full", np.array(res["baseline_accuracies"], dtype=float), res.get("baseline_diverged") or 0))
    for d, accs, div in groups:
        k = len(accs)
        if k < 2:
            continue

        def excess(a):
            p = a.mean(axis=-1)
            binom = p * (1 - p) / n_test if n_test else 0.0
            return a.var(axis=-1, ddof=1) - binom

        boot = excess(accs[rng.integers(0, k, size=(reps, k))])
        val = float(excess(accs))
        ci = _ci(boot)
        out.append({"d": d, "excess_var": val, "ci": ci, "n": k, "std": float(accs.std(ddof=1)),
                    "sd": math.sqrt(max(0.0, val)), "sd_ci": [math.sqrt(max(0.0, c)) for c in ci],
                    "diverged": div})
    return out


def _sd_txt(row: dict) -> str:
    if row["sd_ci"][1] == 0:
        return "0.000 (interval 0.000 – 0.000: all of it within the test set's sampling)"
    return f"{row['sd']:.3f} (interval {_fmt_ci(row['sd_ci'])})"


def stability(runs: list[dict], reps: int = BOOT, seed: int = 0) -> Verdict:
    """“A lower dimension makes training more stable.”  Per model: the excess spread at the smallest
    learned d against the largest d; "not shown" when their intervals overlap."""
    lines, facts, signs = [], [], []
    div = sum(p.get("status") == "diverged" for r in runs for p in r.get("points") or [])
    n_all = sum(p.get("status") in ("done", "diverged") for r in runs for p in r.get("points") or [])
    for r in runs:
        rows = excess_spread(r, reps, seed, full=True)
        base = rows.pop() if rows and rows[-1]["d"] == "full" else None
        for row in rows + ([base] if base else []):
            facts.append({"model": r["model"], "what": "seed spread beyond the test set's (sd)", "d": row["d"],
                          "value": row["sd"], "ci": row["sd_ci"], "n": row["n"], "raw std": row["std"]})
        if len(rows) < 2:
            lines.append(f"{_name(r)}: fewer than two learned d with several seeds: nothing to compare.")
            continue
        lo, hi = rows[0], rows[-1]
        s = _apart(lo["ci"], hi["ci"])  # +1: the smallest d spreads more
        signs.append(s)
        how = {0: "the intervals overlap", 1: "the smallest learned d spreads more", -1: "the smallest learned d "
               "spreads less"}[s]
        lines.append(f"{_name(r)}: seed-to-seed spread beyond the test set's sampling {_sd_txt(lo)} at "
                     f"d = {lo['d']:,} (raw std {lo['std']:.3f}, {lo['n']} seeds) and {_sd_txt(hi)} "
                     f"at d = {hi['d']:,} (raw std {hi['std']:.3f}): {how}."
                     + (f" For comparison, {base_word(r)}: {_sd_txt(base)} (raw std {base['std']:.3f}, "
                        f"{base['n']} seeds)." if base else ""))
    if signs and all(s == -1 for s in signs):
        word, on, summary = ("supported", None,
                             "The smallest learned d varies least over seeds, beyond the test set's sampling.")
    elif signs and all(s == 1 for s in signs):
        word, on, summary = "contradicted", None, "The smallest learned d varies most over seeds."
    elif 1 in signs and -1 in signs:
        word, on, summary = "depends", "on the model", "One model is steadier at small d, the other at large d."
    else:
        word, on, summary = "not shown", None, ("The intervals of the seed-to-seed spread overlap between the "
                                                "smallest learned d and the largest: these seeds do not tell the "
                                                f"spreads apart. {div} of {n_all} trials diverged.")
    return Verdict("A lower dimension makes training more stable", word, summary, on, lines, facts,
                   "the claims records; var over seeds − p(1 − p)/n_test, bootstrap over seeds, the d whose "
                   "mean is clearly above the floor")


# ---------------------------------------------------------------- speed

def time_to_90(res: dict, bench: list[dict] | None = None) -> dict | None:
    """Optimisation steps and estimated seconds to reach 90 % of full fine-tuning, for one seed.

    Subspace: every trial of the search up to and including d90's grid value (the grid is tried
    from the smallest d), their recorded steps; full fine-tuning: its own trial, its steps the
    config's budget (epochs x batches: the record keeps no baseline step count; with one validation
    pass per epoch and a patience of 4, a 2-epoch trial never stops early).  Seconds = steps x the
    quiet benchmark's time per step (the d = 1,000 row for every d up to 1,000), never the
    recorded trial times (taken on shared cores, with extra evaluation passes in the subspace
    trials only).  None without a benchmark for the model or without a d90."""
    bench = BENCH_STEP if bench is None else bench
    row = next((b for b in bench if b["model"] == res["model"] and b["method"] == res.get("method")), None)
    if row is None or res.get("d90_status") != "found" or res.get("d90") is None:
        return None
    stored = res.get("config") or {}
    n_train, bs, ep = res.get("n_train") or stored.get("max_train"), stored.get("batch_size"), stored.get("epochs")
    if not (n_train and bs and ep):
        return None
    full_steps = int(math.ceil(n_train / bs) * ep)
    seeds = sorted({p["seed"] for p in res["points"]})
    per_seed = []
    for s in seeds:
        ps = [p for p in res["points"] if p["seed"] == s and p["d"] <= res["d90"] and p.get("steps")]
        per_seed.append(sum(p["steps"] for p in ps))
    sub_steps = statistics.fmean(per_seed)
    ds = sorted({p["d"] for p in res["points"] if p["d"] <= res["d90"]})
    return {"model": res["model"], "ds": ds, "sub_steps": sub_steps, "full_steps": full_steps,
            "sub_s": sub_steps * row["subspace_s"], "full_s": full_steps * row["full_s"],
            "ratio": sub_steps * row["subspace_s"] / (full_steps * row["full_s"]), "bench": row}


def speed(runs: list[dict], bench: list[dict] | None = None) -> Verdict:
    """“A lower dimension trains faster.”  From the quiet step benchmark and steps counted in the
    records; trial wall times are not used (see ``time_to_90``)."""
    bench = BENCH_STEP if bench is None else bench
    lines, facts = [], []
    for b in bench:
        facts.append({"model": b["model"], "what": "subspace step / full step (benchmark)", "d": b["d"],
                      "value": b["ratio"], "ci": b.get("ci"), "n": b.get("pairs"), "full step (s)": b["full_s"],
                      "subspace step (s)": b["subspace_s"], "command": b["command"]})
    if bench:
        lo, hi = min(b["ratio"] for b in bench), max(b["ratio"] for b in bench)
        lines.append(f"Time per optimisation step, measured side by side ({BENCH_SOURCE}): a "
                     f"subspace step of `{bench[0]['model']}` takes {lo:.3f}–{hi:.3f}× a full fine-tuning step ("
                     + ", ".join(f"{b['subspace_s']:.3f} s against {b['full_s']:.3f} s at d = {b['d']:,}"
                                 + (f", 92 % interval {b['ci'][0]:.2f}–{b['ci'][1]:.2f}" if b.get("ci") else "")
                                 for b in bench)
                     + f"; medians of {bench[0].get('pairs') or 'several'} paired ratios). Command: `"
                     + bench[0]["command"] + "` (and the other d).")
    timed = []
    for r in runs:
        t = time_to_90(r, bench)
        if t is None:
            lines.append(f"{_name(r)}: no quiet step benchmark for this model (or no d90), so no time is "
                         "compared; its recorded trial times include extra evaluation passes that "
                         f"{base_word(r)} does not run.")
            continue
        timed.append(t)
        facts.append({"model": r["model"], "what": "time to reach 90 %, subspace / full (estimated)", "d": r["d90"],
                      "value": t["ratio"], "ci": None, "n": 1, "subspace steps": t["sub_steps"],
                      "full steps": t["full_steps"]})
        lines.append(f"{_name(r)}: reaching 90 % takes the search through d = "
                     + ", ".join(f"{d:,}" for d in t["ds"])
                     + f" ({t['sub_steps']:.0f} steps per seed, recorded) against full fine-tuning's one trial "
                     f"({t['full_steps']} steps, its budget): about {t['sub_s']:.0f} s against {t['full_s']:.0f} s "
                     f"at the benchmark's time per step, {t['ratio']:.1f}× — and the 90 % threshold itself needs "
                     "the full fine-tuning run.")
    def above(b):  # the step ratio's interval above 1 (the ratio itself where no interval was recorded)
        return (b["ci"][0] > 1) if b.get("ci") else b["ratio"] > 1

    slower = bench and all(above(b) for b in bench)
    if timed and all(t["ratio"] > 1 for t in timed) and bench and all(b["ratio"] >= 1 or not above(b) for b in bench):
        word = "contradicted"
        per_step = ("costs a little more than a full step" if slower else
                    "costs about as much as a full step (the benchmark does not tell them apart)")
        summary = ("As stated (against full fine-tuning), no: every subspace step still runs the forward and "
                   f"backward pass through all D parameters plus the projection, and {per_step}; reaching 90 % "
                   "also takes the search over d, several times full fine-tuning's steps. What shrinks is what is "
                   "stored or sent per task: d numbers and a seed instead of D.")
    elif bench and all(b["ratio"] < 1 for b in bench):
        word, summary = "supported", "A subspace step is cheaper than a full step here."
    else:
        word, summary = "not shown", "The step times do not tell the two apart."
    return Verdict("A lower dimension trains faster", word, summary, None, lines, facts,
                   f"{BENCH_SOURCE} and the steps recorded in the claims records")


def all_verdicts(runs: list[dict]) -> list[Verdict]:
    return [speed(runs), overfitting(runs), stability(runs)]


# ---------------------------------------------------------------- methods: which needs fewer numbers

def point_and_interval(res: dict) -> tuple[float | None, list | None]:
    """A run's 90 % point in trainable parameters (d90 for DID/SAID) and its interval."""
    st = res.get("p90_status")
    if st == "found":
        return res["p90_interpolated"], res.get("p90_ci")
    if st == "below_grid":
        return res["p90_upper"], res.get("p90_ci")
    return None, None


def _smallest_tried(res: dict) -> float | None:
    rows = res.get("by_params") or res.get("by_d") or []
    return min((r["d"] for r in rows), default=None)


def p90_order(a: tuple[str, dict], b: tuple[str, dict]) -> Verdict:
    """“{a} needs fewer trainable numbers than {b} to reach 90 %”, from the two 95 % intervals.

    "supported" only when a's interval ends below b's and b's lower end is a measurement: an end at
    the smallest size b tried comes from bootstrap replicates in which b already passed there, so its
    point is only bounded above (below that size nothing was measured) and the ordering would be
    built into the sizes tried.  Otherwise "not shown", saying why."""
    (na, ra), (nb, rb) = a, b
    claim = f"{na} needs fewer trainable numbers than {nb} to reach 90 %"
    pa, ca = point_and_interval(ra)
    pb, cb = point_and_interval(rb)
    facts = [{"model": n, "what": "90 % point (trainable numbers)", "d": "–", "value": p, "ci": c, "n": None}
             for n, p, c in ((na, pa, ca), (nb, pb, cb)) if p is not None]
    if pa is None or pb is None:
        missing = na if pa is None else nb
        return Verdict(claim, "not shown", f"{missing} has no 90 % point in this record, so the two cannot be "
                       "ranked by it.", facts=facts)
    for (n, r, pt) in ((na, ra, pa), (nb, rb, pb)):
        if r.get("p90_status") == "below_grid":
            other, op = (nb, pb) if n == na else (na, pa)
            return Verdict(claim, "not shown",
                           f"{n} reaches the threshold already at the smallest size tried ({pt:,.0f} trainable "
                           f"parameters), so its 90 % point is only known to be at most that; {other}'s is "
                           f"≈ {op:,.0f}. No ranking is claimed.", facts=facts)
    txt = f"{na} ≈ {pa:,.0f} against {nb} ≈ {pb:,.0f} trainable parameters"
    from .results import pair, ratio_text

    pr = pair(ra, rb)  # one bootstrap of both runs: the ratio a / b, its verdict stable over bootstrap seeds 0-19
    ratio = f"ratio {ratio_text(pr)}"
    if pr["verdict"] == "not shown":
        return Verdict(claim, "not shown", txt + f" ({ratio}): the ratio's 95 % interval holds 1, so these seeds do "
                       "not say which needs fewer.", facts=facts)
    first = na if pr["verdict"] == "a lower" else nb
    word = "supported" if first == na else "contradicted"
    return Verdict(claim, word, txt + f": {first} needs fewer ({ratio}).", facts=facts)
