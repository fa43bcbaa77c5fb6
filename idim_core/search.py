"""Where to look next for d90: pure functions, no torch, no store.

Every choice is made on the VALIDATION split: the callers hand in validation means (over seeds)
and the threshold the baseline's validation accuracy sets; the test split is read only for the
reported d90 (d90.py).

- ``adaptive_search``: brackets d90 with a x10 ladder from ``AUTO_START``, then bisects in log d
  until the bracket is within ``AUTO_TOL`` (the true crossing lies within -29 % / +40 % of the value
  found);
- ``parallel_search``: the same with k values of d per round (an executor with several slots);
- ``refine_grid``: after a grid, up to a budget of extra d bisecting the bracket where the mean
  first crosses the threshold.
"""
from __future__ import annotations

import math
import statistics
from typing import Callable

AUTO_START, AUTO_FACTOR, AUTO_TOL = 10, 10, 1.4


def val_of(row: dict) -> float | None:
    """A trial row's validation accuracy (its test accuracy for rows stored before it was kept); None for a
    trial that did not finish."""
    if row.get("status") not in ("done", None):
        return None
    v = row.get("val_accuracy")
    return v if v is not None else row.get("accuracy")


def mean_of(rows: list[dict], fail: float) -> float:
    """The validation mean over a level's seeds.  A diverged trial is a failed one (``fail``: chance accuracy),
    never dropped from the mean; a trial the infrastructure lost is missing data (resume reruns it)."""
    vals = [val_of(r) if val_of(r) is not None else fail for r in rows if r["status"] != "failed"]
    return statistics.fmean(vals) if vals else fail


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
