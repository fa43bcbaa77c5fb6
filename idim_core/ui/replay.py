"""Replay a finished run on Live: its points in the order they were recorded, compressed into a few seconds, the
baseline and the threshold first, so a demo of any recorded run never waits on the CPU (no Streamlit here).

``partial(res, trials, shown)`` is the run as it stood after its first ``shown`` subspace trials: the chart reads it
as a running run (no d90 yet), and the last frame is the run itself.
"""
from __future__ import annotations

import math

DEFAULT_SECONDS = 30.0  # replay=1: the whole run in half a minute
MIN_SECONDS, MAX_SECONDS = 3.0, 60.0


def seconds_of(value: str | None) -> float | None:
    """The replay's length from the address: replay=1 (or true/yes) is the default, replay=N is N seconds (3 to
    60); None when there is no replay or the value cannot be read."""
    v = (value or "").strip().lower()
    if not v or v in ("0", "false", "no"):
        return None
    if v in ("1", "true", "yes"):
        return DEFAULT_SECONDS
    if not v.isascii() or not v.replace(".", "", 1).isdigit():
        return None
    return min(MAX_SECONDS, max(MIN_SECONDS, float(v)))


def order(points: list[dict], trials: list[dict]) -> list[dict]:
    """The run's subspace points in the order their trials finished (the store's own order for a record)."""
    when = {(t["d"], t["seed"]): (t.get("finished") or 0.0, t.get("id") or 0) for t in trials
            if t["kind"] == "subspace"}
    return sorted(points, key=lambda p: when.get((p["d"], p["seed"]), (math.inf, 0)))


def shown_at(elapsed: float, total: int, seconds: float) -> int:
    """How many of ``total`` points are on the chart ``elapsed`` seconds into a replay of ``seconds``: the first
    appears after a beat (the ruler alone first), the last at the end."""
    if total <= 0:
        return 0
    lead = min(2.0, seconds / 10)
    if elapsed < lead:
        return 0
    return min(total, 1 + int((elapsed - lead) / max(1e-9, seconds - lead) * total))


def partial(res: dict, points_in_order: list[dict], shown: int) -> dict:
    """``res`` as it stood with its first ``shown`` points: the baseline, threshold and chance as in ``res``; the
    curve and its mean from those points; no d90 until the last point (then ``res`` itself)."""
    from ..d90 import summarize

    if shown >= len(points_in_order):
        return res
    pts = points_in_order[:shown]
    return dict(res, points=pts, by_d=summarize(pts, res.get("chance")), status="running", d90=None,
                d90_interpolated=None, d90_upper=None, d90_ci=None, d90_status="unknown", non_monotone=False,
                by_params=None, p90=None, p90_interpolated=None, p90_status="unknown", p90_ci=None)
