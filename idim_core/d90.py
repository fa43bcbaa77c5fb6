"""d90: one rule, used by the runner, the CLI, the worker and every page (no torch here).

d90 is the smallest d whose mean accuracy over seeds reaches 0.9 x the mean accuracy of
full fine-tuning (also over seeds).  Four outcomes, in ``d90_status``:

- ``found``: a grid d below the threshold and a later one above it; ``d90`` is the first
  grid d that passes and ``d90_interpolated`` the crossing, linear in log d;
- ``below_grid``: the smallest d tried already passes; d90 is at most that d
  (``d90_upper``), and no interpolated value is claimed;
- ``not_reached``: the finished run never reached the threshold ("d90 > max d");
- ``baseline_at_floor``: full fine-tuning is not clearly above what always guessing
  gets (max of chance and the majority class, plus two binomial standard errors of the
  test set), so the threshold is trivial and there is no d90 ("did not learn").

The threshold is never one a constant guess can pass: it is max(0.9 x baseline, floor +
margin), the floor being max(chance, majority class) and the margin two binomial standard
errors of the test set (the rule the baseline check uses).  ``threshold_rule`` says which
set it (``paper``: the papers' 0.9 x; ``floor``: the floor, when 0.9 x the baseline would
let always answering the majority class through), and ``threshold_paper`` keeps 0.9 x.

A curve that passes the threshold and then falls back below it, at a larger d, by more
than that mean's standard error, is flagged ``non_monotone`` (with ``non_monotone_at``):
d90 is still the first d that passes, but every face says the curve fell back.

While a run is unfinished, or was stopped before it reached the threshold, the status
is ``unknown`` ("unknown, stopped at d = 30").

A diverged trial counts as a failed one: chance accuracy, in the mean, never dropped.

``d90_ci`` is a 95 % bootstrap interval (``d90_ci_over`` says what it resamples:
``seeds+examples``, or ``examples`` alone with one seed, when it leaves out the spread of
the random subspace itself): seeds are resampled (with replacement) for the
baseline and for every d, and test examples are resampled too (the same examples for
every trial, since they share one test set, when per-example results were kept;
otherwise each trial's count is resampled as a binomial).  A replicate that never
reaches the threshold has d90 = infinity, so a ``None`` upper end reads "> max d".
"""
from __future__ import annotations

import math
import statistics

FRAC = 0.9
Z_FLOOR = 2.0  # the baseline must clear the floor by this many binomial standard errors
DEFAULT_MARGIN = 0.05  # when the test-set size is unknown
STATUSES = ("found", "below_grid", "not_reached", "baseline_at_floor", "unknown", "not_applicable")
FINAL = ("done", "failed", "cancelled")


def summarize(points: list[dict], chance: float | None = None) -> list[dict]:
    """Mean and spread of accuracy per d over seeds; a diverged trial counts as chance accuracy."""
    fail = chance if chance is not None else 0.0
    by_d: dict[int, list[float]] = {}
    diverged: dict[int, int] = {}
    for p in points:
        if p.get("status", "done") == "diverged":
            diverged[p["d"]] = diverged.get(p["d"], 0) + 1
            by_d.setdefault(p["d"], []).append(fail)
        elif p.get("accuracy") is not None:
            by_d.setdefault(p["d"], []).append(float(p["accuracy"]))
    out = []
    for d in sorted(by_d):
        accs = by_d[d]
        out.append({
            "d": d,
            "mean": statistics.fmean(accs),
            "std": statistics.pstdev(accs) if len(accs) > 1 else 0.0,
            "n": len(accs),
            "diverged": diverged.get(d, 0),
        })
    return out


def floor_of(chance: float | None, majority: float | None) -> float | None:
    vals = [v for v in (chance, majority) if v is not None]
    return max(vals) if vals else None


def floor_margin(floor: float, n_test: int | None) -> float:
    """Two binomial standard errors of an accuracy of ``floor`` on n_test examples."""
    if not n_test:
        return DEFAULT_MARGIN
    return Z_FLOOR * math.sqrt(max(floor * (1 - floor), 1e-12) / n_test)


def at_floor(baseline: float | None, chance: float | None, majority: float | None, n_test: int | None) -> bool:
    floor = floor_of(chance, majority)
    if baseline is None or floor is None:
        return False
    return baseline < floor + floor_margin(floor, n_test)


Z_WEAK = 5.0  # the baseline's gain over the floor, in test-set standard errors, below which the ruler is weak


def ruler_of(baseline: float | None, chance: float | None, majority: float | None, n_test: int | None,
             rule: str | None) -> str:
    """"weak" when the floor rule sets the threshold, or when full fine-tuning's gain over always guessing is under
    Z_WEAK standard errors of the test set (at that size a fresh test draw of +-2 s.e. could leave it within 1 s.e.
    of the floor: "90 % of what was learned" is then mostly noise); "ok" otherwise (also before a baseline)."""
    if baseline is None:
        return "ok"
    if rule == "floor":
        return "weak"
    floor = floor_of(chance, majority)
    if floor is None:
        return "ok"
    se = floor_margin(floor, n_test) / Z_FLOOR
    return "weak" if baseline - floor < Z_WEAK * se else "ok"


def ruler_note(res: dict) -> str:
    """Said beside the d90 on every face when the ruler is weak."""
    if res.get("ruler") != "weak" or res.get("baseline_accuracy") is None:
        return ""
    if res.get("threshold_rule") == "floor":
        return ("; weak ruler: the threshold is set by the floor, not 0.9 × the baseline, so this is not the "
                "papers' d90")
    return (f"; weak ruler: full fine-tuning ({res['baseline_accuracy']:.3f}) is less than {Z_WEAK:.0f} standard "
            "errors of the test set above always guessing, so read this d90 with care")


def threshold_of(baseline: float, chance: float | None, majority: float | None,
                 n_test: int | None) -> tuple[float, str]:
    """(threshold, rule): 0.9 x baseline ("paper"), raised to floor + margin ("floor") when a
    constant guess would otherwise pass it."""
    thr = FRAC * baseline
    floor = floor_of(chance, majority)
    if floor is not None:
        guard = floor + floor_margin(floor, n_test)
        if thr < guard:
            return guard, "floor"
    return thr, "paper"


def fell_back(rows: list[dict], thr: float, after: int, n_test: int | None = None) -> int | None:
    """The first d beyond ``after`` whose mean falls below ``thr`` by more than its standard error
    (the spread over seeds, or a binomial one of the test set for a single seed; None when the curve holds)."""
    for r in rows:
        if r["d"] <= after:
            continue
        n = max(1, r.get("n") or 1)
        if n > 1:
            se = r["std"] / math.sqrt(n)
        else:  # one seed: the test set's own sampling (0 when its size is unknown)
            se = math.sqrt(max(r["mean"] * (1 - r["mean"]), 0.0) / n_test) if n_test else 0.0
        if r["mean"] < thr - max(se, 1e-9):
            return r["d"]
    return None


def crossing(rows: list[tuple[int, float]], thr: float) -> tuple[int | None, float | None, str]:
    """(grid d90, interpolated d90, status) for (d, mean) rows sorted by d."""
    prev = None
    for d, mean in rows:
        if mean >= thr:
            if prev is None:
                return d, None, "below_grid"
            lo, hi = math.log(prev[0]), math.log(d)
            a0, a1 = prev[1], mean
            t = (thr - a0) / (a1 - a0) if a1 > a0 else 1.0
            return d, float(math.exp(lo + min(1.0, max(0.0, t)) * (hi - lo))), "found"
        prev = (d, mean)
    return None, None, "not_reached"


def _value(grid, interp, status) -> float:
    """One number per bootstrap replicate: the interpolated d90, d_min below the grid, inf if never."""
    if status == "found":
        return interp
    if status == "below_grid":
        return float(grid)
    return math.inf


def estimate(points: list[dict], baselines: list[float], chance=None, majority=None, n_test=None,
             run_status: str = "done", base_status: list[str] | None = None) -> dict:
    """Every d90 fact of a run, from its subspace points and its baseline accuracies (one per seed)."""
    rows = summarize(points, chance)
    out = {"baseline_accuracy": None, "baseline_accuracies": list(baselines), "baseline_std": None,
           "threshold": None, "by_d": rows, "d90": None, "d90_interpolated": None, "d90_upper": None,
           "d90_status": "unknown", "d90_ci": None, "stopped_at": max((r["d"] for r in rows), default=None),
           "threshold_paper": None, "threshold_rule": None, "non_monotone": False, "non_monotone_at": None,
           "d90_ci_over": "seeds+examples" if max((r["n"] for r in rows), default=1) > 1 else "examples",
           "d90_ci_widened": False, "ruler": "ok"}
    if not baselines:
        return out
    base = statistics.fmean(baselines)
    out["baseline_accuracy"] = base
    out["baseline_std"] = statistics.pstdev(baselines) if len(baselines) > 1 else 0.0
    thr, rule = threshold_of(base, chance, majority, n_test)
    out.update(threshold=thr, threshold_paper=FRAC * base, threshold_rule=rule,
               ruler=ruler_of(base, chance, majority, n_test, rule))
    if at_floor(base, chance, majority, n_test):
        out["d90_status"] = "baseline_at_floor"
        return out
    grid, interp, status = crossing([(r["d"], r["mean"]) for r in rows], thr)
    if status == "not_reached" and run_status != "done":
        status = "unknown"
    out.update(d90=grid, d90_interpolated=interp, d90_status=status,
               d90_upper=grid if status == "below_grid" else None)
    if grid is not None:
        back = fell_back(rows, thr, grid, n_test)
        out.update(non_monotone=back is not None, non_monotone_at=back)
    return out


def val_crossing(points: list[dict], base_vals: list[float], chance=None, majority=None,
                 n_val: int | None = None) -> int | None:
    """The smallest d whose VALIDATION mean reaches the threshold the baselines' validation accuracy sets
    (the rule the search uses to choose where to look); None when none does or nothing was read on
    validation.  Said beside a test d90 of "> max d": the two splits then disagree near the threshold."""
    if not base_vals:
        return None
    val_pts = [{**p, "accuracy": p.get("val_accuracy")} for p in points
               if p.get("val_accuracy") is not None or p.get("status") == "diverged"]
    if not val_pts:
        return None
    thr = threshold_of(statistics.fmean(base_vals), chance, majority, n_val)[0]
    grid, _, _ = crossing([(r["d"], r["mean"]) for r in summarize(val_pts, chance)], thr)
    return grid


def _trial_kind(t: dict, n: int, paired: bool, columns: list | None = None):
    """How one trial's accuracy is resampled: ("fixed", value), ("paired", its column in the run's matrix of
    per-example results, appended to ``columns``) or ("binom", accuracy)."""
    import numpy as np

    if t.get("accuracy") is None or t.get("status") == "diverged":
        return ("fail", None)
    if paired:
        columns.append(np.frombuffer(t["correct"].encode(), dtype=np.uint8) - 48)
        return ("paired", len(columns) - 1)
    if n:
        return ("binom", min(1.0, max(0.0, float(t["accuracy"]))))
    return ("fixed", float(t["accuracy"]))


class Boot:
    """One run's bootstrap inputs: its baseline and subspace trials, ready to resample.

    Seeds are resampled with replacement (for the baseline and at every d); test examples are resampled
    with Poisson(1) weights on each example (the same weights for every trial of the run, and for a second
    run sharing its test examples: ``shares_examples``) when per-example results were kept, else each trial's
    count is resampled as a binomial over the test set."""

    def __init__(self, base_trials: list[dict], sub_trials: list[dict], chance: float | None, n_test: int | None,
                 majority: float | None = None):
        import numpy as np

        base_trials = [t for t in base_trials if t.get("accuracy") is not None or t.get("status") == "diverged"]
        self.ok = bool(base_trials and sub_trials)
        self.chance, self.majority = chance, majority
        vecs = [t.get("correct") for t in base_trials + sub_trials if t.get("accuracy") is not None
                and t.get("status") != "diverged"]
        n = len(vecs[0]) if vecs and vecs[0] else 0
        self.paired = n > 0 and all(v and len(v) == n for v in vecs)
        self.n = n if self.paired else int(n_test or 0)
        columns: list = []
        self.base = [_trial_kind(t, self.n, self.paired, columns) for t in base_trials]
        by_d: dict[int, list] = {}
        for t in sub_trials:
            by_d.setdefault(t["d"], []).append(_trial_kind(t, self.n, self.paired, columns))
        self.ds = sorted(by_d)
        self.by_d = [by_d[d] for d in self.ds]
        # examples x trials; the examples that every trial got right or wrong alike form one pattern, and the
        # Poisson(1) weights of k examples sum to one Poisson(k): resampling patterns is the same bootstrap
        self.matrix = np.stack(columns, axis=1) if self.paired and columns else None
        if self.matrix is not None:
            self.patterns, self.counts = np.unique(self.matrix, axis=0, return_counts=True)

    def shares_examples(self, other: "Boot") -> bool:
        return self.paired and other.paired and self.n == other.n

    def _accs(self, kinds, rng, w, reps, pat=None, total=None):
        import numpy as np

        fail = self.chance if self.chance is not None else 0.0
        rows = []
        for kind, v in kinds:
            if kind == "fail":
                rows.append(np.full(reps, fail, dtype=np.float64))
            elif kind == "paired":
                rows.append((w @ pat[:, v]) / total)
            elif kind == "binom":
                rows.append(rng.binomial(self.n, v, size=reps) / self.n)
            else:
                rows.append(np.full(reps, v, dtype=np.float64))
        mat = np.stack(rows)  # trials x reps
        pick = rng.integers(0, mat.shape[0], size=(reps, mat.shape[0]))  # seeds drawn with replacement
        return np.take_along_axis(mat.T, pick, axis=1).mean(axis=1)

    def values(self, rng, reps: int, w=None, pat=None):
        """``reps`` bootstrap replicates of d90: the interpolated crossing, d_min for a replicate already above the
        threshold at the smallest d (``below`` marks those: their d90 is only bounded above), inf where it never
        crosses.  ``w``, ``pat``: weights (reps x patterns) and this run's columns of the patterns, shared with
        another run (``joint_patterns``); else drawn here over this run's own patterns."""
        import numpy as np

        total = None
        if self.paired:
            if w is None:
                pat = self.patterns
                w = rng.poisson(self.counts, size=(reps, len(self.counts))).astype(np.float32)
            pat = pat.astype(np.float32)
            total = np.maximum(w.sum(axis=1), 1.0)
        base = self._accs(self.base, rng, w, reps, pat, total)
        means = np.stack([self._accs(k, rng, w, reps, pat, total) for k in self.by_d], axis=1)  # reps x len(ds)
        thr = FRAC * base
        floor = floor_of(self.chance, self.majority)
        if floor is not None:
            thr = np.maximum(thr, floor + floor_margin(floor, self.n or None))
        ok = means >= thr[:, None]
        hit = ok.any(axis=1)
        j = ok.argmax(axis=1)
        ds = np.asarray(self.ds, dtype=np.float64)
        vals = np.full(reps, np.inf)
        below = hit & (j == 0)
        vals[below] = ds[0]
        f = np.nonzero(hit & (j > 0))[0]
        if f.size:
            jj = j[f]
            a0, a1 = means[f, jj - 1], means[f, jj]
            t = np.where(a1 > a0, (thr[f] - a0) / np.where(a1 > a0, a1 - a0, 1.0), 1.0)
            t = np.clip(t, 0.0, 1.0)
            lo, hi = np.log(ds[jj - 1]), np.log(ds[jj])
            vals[f] = np.exp(lo + t * (hi - lo))
        return vals, below


BOOT = 20000  # replicates: each end of a shipped record's interval moves by under 5 % across bootstrap seeds
CHUNK = 2000  # replicates drawn at a time (the paired weights are CHUNK x n_test)


def _chunks(reps: int):
    done = 0
    while done < reps:
        k = min(CHUNK, reps - done)
        yield k
        done += k


def d90_replicates(boot: Boot, reps: int = BOOT, seed: int = 0):
    """(values, below) of ``reps`` replicates for one run (see ``Boot.values``)."""
    import numpy as np

    rng = np.random.default_rng(seed)
    parts = [boot.values(rng, k) for k in _chunks(reps)]
    return np.concatenate([p[0] for p in parts]), np.concatenate([p[1] for p in parts])


def _ends(vals, below, level: float):
    import numpy as np

    lo_q, hi_q = (1 - level) / 2, 1 - (1 - level) / 2
    low, high = (float(np.quantile(vals, q, method="inverted_cdf")) for q in (lo_q, hi_q))  # no interpolation with inf
    if below.mean() >= lo_q:  # the lower quantile sits among replicates only bounded above: unknown
        low = math.nan
    return low, high


MC_TOL = 0.005  # adaptive: replicates are added until each end's Monte-Carlo standard error is under 0.5 %
MAX_BOOT = 1_000_000
BATCHES = 10


def bootstrap_ci(base_trials: list[dict], sub_trials: list[dict], chance: float | None, n_test: int | None,
                 reps: int | None = None, seed: int = 0, level: float = 0.95,
                 majority: float | None = None) -> list[float | None] | None:
    """[low, high] of d90 over resampled seeds and test examples, before widening (None for high: "> max d";
    None for low when the replicates below the smallest d tried reach it: the lower end is then unknown).

    ``reps`` None (every face): at least BOOT replicates, doubled until each finite end's Monte-Carlo
    standard error (from 10 batches) is under MC_TOL of it (in log d), up to MAX_BOOT, so the ends hold still across
    bootstrap seeds where the replicates are sparse near them.  Each trial is a dict with ``accuracy`` (None
    when it diverged), ``status``, ``d`` for subspace trials and optionally ``correct`` (a '0'/'1' string,
    one per test example).
    """
    import numpy as np

    boot = Boot(base_trials, sub_trials, chance, n_test, majority)
    if not boot.ok:
        return None
    rng = np.random.default_rng(seed)
    vals, below = [], []
    total, target = 0, reps or BOOT
    while True:
        for k in _chunks(target - total):
            v, b = boot.values(rng, k)
            vals.append(v)
            below.append(b)
        total = target
        allv, allb = np.concatenate(vals), np.concatenate(below)
        low, high = _ends(allv, allb, level)
        if reps is not None or total >= MAX_BOOT:
            break
        idx = np.arange(total) % BATCHES  # batch means: each batch is an independent bootstrap of total/10
        parts = [_ends(allv[idx == i], allb[idx == i], level) for i in range(BATCHES)]
        ok = True
        for j, end in enumerate((low, high)):
            if math.isfinite(end) and end > 0:
                es = np.array([p[j] for p in parts])
                if not np.all(np.isfinite(es)):
                    continue
                if np.std(np.log(es), ddof=1) / math.sqrt(BATCHES) > MC_TOL:
                    ok = False
        if ok:
            break
        target = min(MAX_BOOT, total * 2)
    return [None if not math.isfinite(low) else float(low), None if not math.isfinite(high) else float(high)]


WIDEN_POWER = 0.5  # how far an end moves out: by the square root of its distance to the nearer tried d


def widen_to_tried(ci: list[float | None] | None, tried: list[int], tol: float = 1.4) -> list[float | None] | None:
    """An interval end inside an untried stretch of d wider than ``tol`` moves outward by its distance (in log d)
    to the nearer tried d: linear interpolation in log d there is an assumption, not a measurement.  In the half
    of the stretch next to the tried d beyond it, the end goes to that d; nearer a tried d on its own side, it
    moves out by as much as it sits from it.  Unlike snapping to the stretch's end, this is continuous, so an
    end that moves a little with the bootstrap's seed moves the widened end at most twice as much."""
    if not ci or not tried:
        return ci
    ds = sorted(set(tried))

    def dist(x):
        a = max((d for d in ds if d <= x), default=None)
        b = min((d for d in ds if d >= x), default=None)
        if a is None or b is None or b / a <= tol:
            return 1.0
        return min(x / a, b / x)

    lo, hi = ci
    if lo is not None:
        lo = float(lo / dist(lo) ** WIDEN_POWER)
    if hi is not None:
        hi = float(hi * dist(hi) ** WIDEN_POWER)
    return [lo, hi]


def interval(base_trials: list[dict], sub_trials: list[dict], chance, n_test, majority=None, tried=None,
             estimate_at: float | None = None, seed: int = 0, reps: int | None = None) -> tuple[list | None, bool]:
    """(the interval every face shows, whether widening moved it): the bootstrap, widened over untried stretches
    of ``tried``, then stretched to hold the estimate itself."""
    raw = bootstrap_ci(base_trials, sub_trials, chance, n_test, reps=reps, seed=seed, majority=majority)
    if raw is None:
        return None, False
    ci = widen_to_tried(raw, tried or [])
    widened = ci != raw
    if estimate_at is not None:
        lo, hi = ci
        if lo is not None and lo > estimate_at:
            lo = float(estimate_at)
        if hi is not None and hi < estimate_at:
            hi = float(estimate_at)
        ci = [lo, hi]
    return ci, widened


# ---------------------------------------------------------------- comparing two runs: the ratio
RATIO_SEEDS = range(20)  # a verdict must hold for every one of these bootstrap seeds, else it is "not shown"
CHECK_BOOT = 5000  # replicates at each of the other seeds
VERDICT_WORDS = ("a lower", "b lower", "not shown")


def ratio_interval(a: Boot, b: Boot, reps: int = BOOT, seed: int = 0, level: float = 0.95,
                   shared: bool = True) -> list[float | None]:
    """The 95 % interval of d90_a / d90_b from one bootstrap of both runs (the same test examples resampled for
    both where they share them).  Conservative where a replicate is only bounded: a replicate below a run's
    smallest d counts anywhere in [0, that d], one that never crosses anywhere above the largest d tried; the lower
    end takes the smallest ratio each replicate allows, the upper end the largest (None: unbounded)."""
    import numpy as np

    rng = np.random.default_rng(seed)
    los, his = [], []
    shared = shared and a.shares_examples(b)
    if shared:  # one set of weights for both runs: the patterns of their trials side by side
        joint, counts = np.unique(np.hstack([a.matrix, b.matrix]), axis=0, return_counts=True)
        ka = a.matrix.shape[1]
        pa, pb = joint[:, :ka], joint[:, ka:]
    for k in _chunks(reps):
        w = rng.poisson(counts, size=(k, len(counts))).astype(np.float32) if shared else None
        va, ba = a.values(rng, k, w, pa if shared else None)
        vb, bb = b.values(rng, k, w, pb if shared else None)
        # bounds per replicate: below the smallest d, anywhere in [0, it]; never crossing, above the largest d tried
        a_lo, a_hi = np.where(ba, 0.0, np.where(np.isinf(va), max(a.ds), va)), va
        b_lo, b_hi = np.where(bb, 0.0, np.where(np.isinf(vb), max(b.ds), vb)), vb
        with np.errstate(divide="ignore", invalid="ignore"):
            r_lo = a_lo / b_hi  # inf/inf and 0/0 are unknown: the widest value each side allows
            r_hi = a_hi / b_lo
        los.append(np.where(np.isnan(r_lo), 0.0, r_lo))
        his.append(np.where(np.isnan(r_hi), np.inf, r_hi))
    lo_q, hi_q = (1 - level) / 2, 1 - (1 - level) / 2
    low = float(np.quantile(np.concatenate(los), lo_q, method="inverted_cdf"))
    high = float(np.quantile(np.concatenate(his), hi_q, method="inverted_cdf"))
    return [low if math.isfinite(low) else None, high if math.isfinite(high) else None]


def ratio_word(ci: list[float | None]) -> str:
    if ci[1] is not None and ci[1] < 1.0:
        return "a lower"
    if ci[0] is not None and ci[0] > 1.0:
        return "b lower"
    return "not shown"


def compare_pair(a: Boot, b: Boot, reps: int = BOOT, seed: int = 0, seeds=RATIO_SEEDS, shared: bool = True) -> dict:
    """{"ratio_ci", "verdict"}: the interval at ``seed`` and the verdict, which must be the same at every bootstrap
    seed in ``seeds`` (else "not shown").  ``shared``: the runs' test examples are the same ones."""
    ci = ratio_interval(a, b, reps, seed, shared=shared)
    words = {ratio_word(ci)}
    for s in seeds:  # the other seeds check the verdict only: fewer replicates (more noise: never fewer "not shown")
        if s != seed and len(words) == 1 and words != {"not shown"}:
            words.add(ratio_word(ratio_interval(a, b, min(reps, CHECK_BOOT), s, shared=shared)))
    word = words.pop() if len(words) == 1 else "not shown"
    return {"ratio_ci": ci, "verdict": word}


OPEN_END = {"d": "> max d", "params": "more than tried"}  # an interval's missing upper end, per axis


def interval_text(ci, axis: str = "d", empty: str = "") -> str:
    """A 95 % interval as every face writes it: "120 – 3,000", "? – 3,000", "120 – > max d" (on the parameter
    axis: "120 – more than tried"); ``empty`` when there is none."""
    if not ci:
        return empty
    lo = f"{ci[0]:,.0f}" if ci[0] is not None else "?"
    hi = f"{ci[1]:,.0f}" if ci[1] is not None else OPEN_END[axis]
    return f"{lo} – {hi}"


def p90_text(res: dict, baseline_word: str = "full fine-tuning") -> str:
    """The 90 % point of a run on the trainable-parameter axis (LoRA, VeRA, BitFit, head-only)."""
    status = res.get("p90_status")
    if res.get("baseline_accuracy") is None:
        return f"90 % point: not known yet (it needs the {baseline_word} baseline)" if res.get("by_d") else \
            "90 % point: not known yet"
    if status == "baseline_at_floor":
        return (f"no 90 % point: the model did not learn this task with this budget ({baseline_word} "
                f"{res['baseline_accuracy']:.3f} is not clearly above always guessing)")
    ci = res.get("p90_ci")
    ci_txt = ", 95 % interval " + interval_text(ci, "params") if ci else ""
    if status == "found":
        return f"90 % point ≈ {res['p90_interpolated']:,.0f} trainable parameters (grid {res['p90']:,}{ci_txt})"
    from .methods import level_name  # a rank, or the method's own level (n, L, u ...)

    word = level_name(res.get("method")) if res.get("axis") == "rank" else "r"
    word = "rank" if word == "r" else word
    if status == "below_grid":
        what = f"the smallest {word} tried already reaches" if res.get("axis") == "rank" else "it reaches"
        return f"90 % point ≤ {res['p90_upper']:,} trainable parameters: {what} the threshold{ci_txt}"
    if status == "not_reached":
        return ("below the threshold: never reaches 0.9 × " + baseline_word) if res.get("axis") == "single" else \
            f"90 % point above the largest {word} tried: no {word} reached the threshold"
    return "90 % point: not known yet" if res.get("status") not in FINAL else "90 % point unknown (stopped early)"


def describe(res: dict, baseline_word: str = "full fine-tuning") -> str:
    """One sentence for every face (CLI, Live, Runs, Compare); while the ruler is provisional (the baseline's rate
    search has trained its first rate only) it says so: no d90 reads as final before the search ends."""
    text = _describe(res, baseline_word)
    ruler = res.get("ruler_provisional")
    if ruler and res.get("baseline_accuracy") is not None:
        text += (f" ({provisional_words(ruler)}, {baseline_word} at its first rate: the line, the threshold and "
                 "d90 may move when the search ends)")
    return text


def provisional_words(ruler: dict) -> str:
    """"ruler provisional: rate search 1 of 3", the chart's and Live's words for a provisional ruler."""
    return f"ruler provisional: rate search {ruler.get('tried', 1)} of {ruler.get('of', 3)}"


def _describe(res: dict, baseline_word: str) -> str:
    if res.get("axis") in ("rank", "single"):
        return p90_text(res, baseline_word)
    status = res.get("d90_status")
    if res.get("baseline_accuracy") is None:
        if not res.get("by_d"):
            return "d90: not known yet"
        return f"d90: not known yet (it needs the {baseline_word} baseline)"
    if status == "baseline_at_floor":
        return (f"no d90: the model did not learn this task with this budget ({baseline_word} "
                f"{res['baseline_accuracy']:.3f} is not clearly above always guessing)")
    ci = res.get("d90_ci")
    ci_txt = ", 95 % interval " + interval_text(ci) if ci else ""
    if ci and res.get("d90_ci_widened"):
        ci_txt += ", widened to the d tried where the grid is coarse"
    if ci and res.get("d90_ci_over") == "examples":
        ci_txt += f" ({ONE_SEED})"
    if status == "found":
        return f"d90 ≈ {res['d90_interpolated']:,.0f} (grid {res['d90']:,}{ci_txt}){_caveats(res)}"
    if status == "below_grid":
        return (f"d90 ≤ {res['d90_upper']:,}: the smallest d tried already reaches the threshold "
                f"(try smaller d{ci_txt}){_caveats(res)}")
    top = max((r["d"] for r in res.get("by_d") or []), default=None)
    if status == "not_reached":
        split = ""
        if res.get("d90_val"):
            split = (f"; on validation d = {res['d90_val']:,} reaches it, so the two splits disagree near the "
                     f"threshold (more seeds, or larger d, would settle it)")
        return (f"d90 > max d ({top:,}): no d reached the threshold on the test split{split}" + probe_note(res)
                + ruler_note(res))
    if top is None:
        return "d90: not known yet"
    if res.get("status") in FINAL or res.get("status") == "interrupted":
        return f"d90 unknown, stopped at d = {top:,} (larger d were not tried)"
    return f"d90 > {top:,} so far"


ONE_SEED = "1 seed: the interval leaves out the random subspace's own spread"


def threshold_note(res: dict) -> str | None:
    """Said wherever the threshold is drawn or stated, when the floor rather than 0.9 x set it."""
    if res.get("threshold_rule") != "floor" or res.get("threshold") is None:
        return None
    paper = res.get("threshold_paper")
    paper_txt = f" (0.9 × the baseline would be {paper:.3f})" if paper is not None else ""
    return (f"threshold {res['threshold']:.3f} set by the floor: always answering the majority class "
            f"(or guessing) plus two standard errors{paper_txt}, so a constant guess cannot pass it")


def _caveats(res: dict) -> str:
    """What a found d90 must be read with: a threshold set by the floor, a curve that falls back."""
    out = ""
    if res.get("baseline_diverged"):
        n = res["baseline_diverged"]
        out += f"; {n} baseline seed{'s' if n > 1 else ''} diverged (counted at chance)"
    if res.get("non_monotone"):
        out += f"; the curve falls back below the threshold at d = {res['non_monotone_at']:,}"
    return out + probe_note(res) + ruler_note(res)


def probe_note(res: dict) -> str:
    """What a linear probe on the frozen features reaches, said beside d90 (language-model runs)."""
    acc = res.get("probe_accuracy")
    if acc is None:
        return ""
    params = f" ({res['probe_params']:,} numbers)" if res.get("probe_params") else ""
    thr = res.get("threshold")
    if thr is not None and acc >= thr:
        return f"; a linear probe on the frozen features{params} already reaches the threshold: {acc:.3f}"
    return f"; a linear probe on the frozen features{params} reaches {acc:.3f}, below the threshold"


def p90_short(r: dict) -> str | None:
    """The 90 % point (trainable parameters) as a table cell; None when there is none to give."""
    status = r.get("p90_status")
    if status == "found":
        return f"≈ {r['p90_interpolated']:,.0f}"
    if status == "below_grid":
        return f"≤ {r['p90_upper']:,}"
    return {"not_reached": "not reached", "baseline_at_floor": "did not learn"}.get(status)


def short(res: dict) -> str:
    """The d90 cell of a metric or a table (the 90 % point in trainable parameters for other methods); marked
    "(provisional)" while the ruler is."""
    cell = _short(res)
    return cell + " (provisional)" if res.get("ruler_provisional") and cell not in ("—", "") else cell


def _short(res: dict) -> str:
    if res.get("axis") in ("rank", "single"):
        cell = p90_short(res)
        return (cell + " params" if res.get("p90_status") in ("found", "below_grid") else cell) or "—"
    status = res.get("d90_status")
    if status == "found":
        return f"≈ {res['d90_interpolated']:,.0f}"
    if status == "below_grid":
        return f"≤ {res['d90_upper']:,}"
    if status == "not_reached":
        return "> max d"
    if status == "baseline_at_floor":
        return "did not learn"
    if res.get("status") in FINAL and res.get("by_d"):
        return "unknown"
    return "—"


FLOOR_ADVICE = ("give it more epochs, more training examples or a larger full fine-tuning learning rate "
                "(check it on the validation split), or a pretrained model")
