"""Plotly figures: the live chart, the trial curve, Compare, the plan, the idea in 3-D (also the CLI's HTML export)."""
from __future__ import annotations

import math

from ..d90 import interval_text
from ..runconfig import is_auto
from .text import html_text as _h  # a run's words in Plotly text: <a href> shown, not a live link
from .text import plain_task
from .views import accuracy_word, baseline_word, d90_text, levels_text

# colours used consistently across figures
C_POINTS = "#1f77b4"
C_BASE = "#2ca02c"
C_THR = "#d62728"
C_CHANCE = "#7f7f7f"
C_MAJ = "#9467bd"
C_D90 = "#ff7f0e"
C_PROBE = "#8c564b"


PALETTE = ["#1f77b4", "#ff7f0e", "#2ca02c", "#d62728", "#9467bd", "#8c564b", "#e377c2", "#17becf", "#bcbd22", "#7f7f7f"]


def _x_range(res: dict) -> tuple[float, float]:
    ds = [r["d"] for r in res["by_d"]]
    dims = res["config"].get("dims")
    if isinstance(dims, list):
        ds += dims
    if res.get("d90_interpolated"):
        ds.append(res["d90_interpolated"])
    if not ds:
        ds = [10, 10_000]
    return max(1.0, min(ds) / 2), max(ds) * 2


def _falls_back(res: dict, rows: list[dict]) -> dict | None:
    """Where a curve falls back below the threshold further on (d90's ``non_monotone``): the marker's common
    Scatter arguments, on either axis; None when it does not."""
    back = res.get("non_monotone_at")
    if not (res.get("non_monotone") and back and res.get("threshold") is not None):
        return None
    y_back = next((r["mean"] for r in rows if r["d"] == back), res["threshold"])
    return dict(x=[back], y=[y_back], mode="markers", hoverinfo="name",
                marker=dict(symbol="triangle-down", size=16, color=C_THR))


def add_guesses(fig, guesses: list[float], y: float | None = None):
    """The class's guesses of d90 on a run's chart: a rug of ticks along the bottom (one per guess) and their
    median, named in the legend."""
    import statistics

    import plotly.graph_objects as go

    if not guesses:
        return fig
    med = statistics.median(guesses)
    y = 0.02 if y is None else y
    fig.add_trace(go.Scatter(
        x=list(guesses), y=[y] * len(guesses), mode="markers", yaxis="y",
        name=f"the class's guesses ({len(guesses)}; median {med:,.0f})",
        marker=dict(symbol="line-ns-open", size=22, color="#9467bd", line=dict(width=3)), meta={"role": "guesses"},
        hovertemplate="a guess: d = %{x:,.0f}<extra></extra>"))
    return fig


def run_figure(res: dict, height: int = 460, font_size: int | None = None):
    """The live chart: accuracy against d (log), with baseline, threshold, chance and d90 (with its interval)."""
    import plotly.graph_objects as go

    if res.get("axis", "d") != "d":  # LoRA, VeRA, BitFit, head-only: their axis is trainable parameters
        fig = params_figure([res], height=height, font_size=font_size)
        fig.update_layout(uirevision=res["run_id"], meta={"run_id": res["run_id"], "axis": res["axis"],
                                                          "p90_status": res.get("p90_status")})
        return fig
    fig = go.Figure()
    lo, hi = _x_range(res)
    rows = [r for r in res["by_d"] if r["mean"] is not None]
    _add_run_points(fig, res, rows)
    b = res.get("baseline_accuracy")
    if b is not None:
        _add_baseline_lines(fig, res, lo, hi)
    for key, label, colour in (("chance", "chance", C_CHANCE), ("majority", "majority class", C_MAJ)):
        v = res.get(key)
        if v is None or (key == "majority" and res.get("chance") is not None and abs(v - res["chance"]) < 0.005):
            continue
        fig.add_trace(go.Scatter(x=[lo, hi], y=[v, v], mode="lines", name=f"{label} ({v:.3f})",
                                 line=dict(color=colour, width=1.5, dash="dot"), meta={"role": key, "value": v},
                                 hoverinfo="name"))
    ys = [r["mean"] for r in rows] + [v for v in (b, res.get("chance"), res.get("majority"),
                                                  res.get("probe_accuracy")) if v is not None]
    y0 = max(0.0, min(ys + [0.5]) - 0.05)
    y1 = min(1.02, max(ys + [0.6]) + 0.05)
    if not rows and b is None:  # before the first point: the whole accuracy scale, nothing to zoom on
        y0, y1 = 0.0, 0.97
    _add_d90(fig, res, rows, (lo, hi), (y0, y1), font_size)
    back = _falls_back(res, rows)
    if back:
        fig.add_trace(go.Scatter(**back, name=f"falls back below the threshold at d = {back['x'][0]:,}",
                                 meta={"role": "non_monotone", "d": back["x"][0]}))
    fig.update_layout(
        # l=72: room for the accuracy labels and title from the start. automargin would widen a margin that is too
        # narrow, but that is a second layout pass, half of what drawing the chart costs the browser
        # (bench/RESULTS.md), and Live draws it anew after each finished trial while a run trains.
        height=height, margin=dict(l=72, r=10, t=40, b=10),
        xaxis=dict(type="log", title="d: trained dimensions (log scale)", range=[math.log10(lo), math.log10(hi)],
                   dtick=1, tickformat=","),
        yaxis=dict(title=accuracy_word(res), range=[y0, y1 + 0.03], automargin=True),
        legend=dict(orientation="h", yanchor="top", y=-0.18, x=0),
        uirevision=res["run_id"],  # Plotly's own updates keep the zoom (Streamlit remounts a changed figure)
        meta={"run_id": res["run_id"], "d90": res.get("d90"), "d90_interpolated": res.get("d90_interpolated"),
              "d90_status": res.get("d90_status"), "ruler_provisional": res.get("ruler_provisional")},
    )
    if font_size:
        fig.update_layout(font=dict(size=font_size))
    return fig


def _add_run_points(fig, res: dict, rows: list[dict]) -> None:
    """The run chart's points: single seeds (when there are several), the means per d, the diverged trials."""
    import plotly.graph_objects as go

    seeds = [p for p in res["points"] if p["status"] == "done" and p["accuracy"] is not None]
    if len(seeds) > len(rows):
        fig.add_trace(go.Scatter(
            x=[p["d"] for p in seeds], y=[p["accuracy"] for p in seeds], mode="markers", name="single seeds",
            marker=dict(color=C_POINTS, size=6, opacity=0.35), meta={"role": "seeds"},
            hovertemplate="d=%{x:,}<br>accuracy %{y:.3f}<extra>one seed</extra>"))
    fig.add_trace(go.Scatter(
        x=[r["d"] for r in rows], y=[r["mean"] for r in rows], mode="lines+markers",
        name="subspace training (mean ± std over seeds)",
        error_y=dict(type="data", array=[r["std"] or 0 for r in rows], visible=True),
        marker=dict(color=C_POINTS, size=10), line=dict(color=C_POINTS, width=1.5),
        customdata=[[r["n"], r.get("diverged", 0)] for r in rows], meta={"role": "points"},
        hovertemplate="d=%{x:,}<br>mean accuracy %{y:.3f}<br>%{customdata[0]} seed(s), "
                      "%{customdata[1]} diverged<extra></extra>"))
    div = [p for p in res["points"] if p["status"] == "diverged"]
    if div:
        ybase = res.get("chance") or 0.5
        fig.add_trace(go.Scatter(
            x=[p["d"] for p in div], y=[ybase] * len(div), mode="markers",
            name="diverged (counted as chance in the mean)",
            marker=dict(symbol="x", size=12, color=C_THR, line=dict(width=2)), meta={"role": "diverged"},
            hovertemplate="d=%{x:,}: training diverged<extra></extra>"))


def _add_baseline_lines(fig, res: dict, lo: float, hi: float) -> None:
    """The run chart's full-training line (with its spread over seeds), the threshold and the linear probe."""
    import plotly.graph_objects as go

    word = baseline_word(res)
    b = res["baseline_accuracy"]
    bs = res.get("baseline_accuracies") or [b]
    spread = res.get("baseline_std") or 0.0
    if len(bs) > 1:  # the baseline's spread over seeds, as a band
        fig.add_trace(go.Scatter(x=[lo, hi, hi, lo], y=[b - spread, b - spread, b + spread, b + spread],
                                 fill="toself", mode="none", fillcolor="rgba(44,160,44,0.15)",
                                 name=f"{word}: ± std over {len(bs)} seeds", meta={"role": "baseline_band"},
                                 hoverinfo="name"))
    name = f"{word} ({b:.3f}" + (f", mean of {len(bs)} seeds)" if len(bs) > 1 else ")")
    # while the baseline's rate search has trained its first rate only: a dashed line that says so
    ruler = res.get("ruler_provisional")
    if ruler:
        from ..d90 import provisional_words

        name += f", {provisional_words(ruler)}"
        fig.add_annotation(x=0, xref="paper", y=b, text=provisional_words(ruler), showarrow=False, xanchor="left",
                           yanchor="bottom", font=dict(color=C_BASE), name="ruler_provisional")
    fig.add_trace(go.Scatter(x=[lo, hi], y=[b, b], mode="lines", name=name,
                             line=dict(color=C_BASE, width=2, dash="dash" if ruler else "solid"),
                             meta={"role": "baseline", "value": b, "provisional": bool(ruler)}, hoverinfo="name"))
    thr = res["threshold"]
    floor_rule = res.get("threshold_rule") == "floor"
    thr_name = (f"threshold ({thr:.3f}): set by the floor, always guessing + 2 s.e. (0.9 × {word} would be "
                f"{res.get('threshold_paper') or 0:.3f})" if floor_rule else f"threshold: 0.9 × {word} ({thr:.3f})")
    fig.add_trace(go.Scatter(x=[lo, hi], y=[thr, thr], mode="lines",
                             name=thr_name + (" (provisional)" if ruler else ""),
                             line=dict(color=C_THR, width=1 if ruler else 2, dash="dash"),
                             meta={"role": "threshold", "value": thr, "rule": res.get("threshold_rule"),
                                   "provisional": bool(ruler)},
                             hoverinfo="name"))
    probe = res.get("probe_accuracy")
    if probe is not None:  # what the frozen features already reach: the head alone
        params = f", {res['probe_params']:,} numbers" if res.get("probe_params") else ""
        fig.add_trace(go.Scatter(x=[lo, hi], y=[probe, probe], mode="lines",
                                 name=f"linear probe: head only, frozen features ({probe:.3f}{params})",
                                 line=dict(color=C_PROBE, width=2, dash="dashdot"),
                                 meta={"role": "probe", "value": probe}, hoverinfo="name"))


def _add_d90(fig, res: dict, rows: list[dict], x_range: tuple[float, float], y_range: tuple[float, float],
             font_size: int | None) -> None:
    """The run chart's d90: its line and 95 % interval when there is one, else (with points) the verdict's words."""
    import plotly.graph_objects as go

    lo, hi = x_range
    y0, y1 = y_range
    status = res.get("d90_status")
    marker_x = (res.get("d90_interpolated") if status == "found"
                else res.get("d90_upper") if status == "below_grid" else None)
    if marker_x:
        label = f"d90 ≈ {marker_x:,.0f}" if status == "found" else f"d90 ≤ {marker_x:,}"
        fig.add_trace(go.Scatter(x=[marker_x, marker_x], y=[y0, y1], mode="lines", name=label,
                                 line=dict(color=C_D90, width=2, dash="solid" if status == "found" else "dot"),
                                 meta={"role": "d90", "value": marker_x, "grid": res.get("d90"), "status": status},
                                 hoverinfo="name"))
        ci = res.get("d90_ci")
        if ci and res.get("threshold") is not None:
            c_lo = ci[0] if ci[0] is not None else lo
            c_hi = ci[1] if ci[1] is not None else hi
            fig.add_trace(go.Scatter(
                x=[c_lo, c_hi], y=[res["threshold"]] * 2, mode="lines+markers",
                name="d90: 95 % interval (" + interval_text(ci) + ")",
                line=dict(color=C_D90, width=6),
                marker=dict(symbol="line-ns", size=14, line=dict(width=3, color=C_D90)),
                opacity=0.55, meta={"role": "d90_ci", "low": ci[0], "high": ci[1]}, hoverinfo="name"))
        fig.add_annotation(x=math.log10(marker_x), y=y1, text=label, showarrow=False, yanchor="bottom",
                           font=dict(color=C_D90, size=(font_size or 14)))
    elif res.get("baseline_accuracy") is not None and rows:
        fig.add_annotation(x=1, xref="paper", y=y1, text=d90_text(res).split(":")[0].split(" (")[0], showarrow=False,
                           xanchor="right", yanchor="bottom", font=dict(color=C_D90, size=(font_size or 14)))


def trial_curve_figure(points: list[dict], title: str = "", height: int = 260):
    """Training loss and validation accuracy of one trial against the optimiser step."""
    import plotly.graph_objects as go

    fig = go.Figure()
    fig.add_trace(go.Scatter(x=[p["step"] for p in points], y=[p["loss"] for p in points], mode="lines",
                             name="training loss", line=dict(color=C_POINTS)))
    acc = [p for p in points if p.get("accuracy") is not None]
    fig.add_trace(go.Scatter(x=[p["step"] for p in acc], y=[p["accuracy"] for p in acc], mode="lines+markers",
                             name="validation accuracy", yaxis="y2", line=dict(color=C_BASE)))
    fig.update_layout(height=height, margin=dict(l=10, r=10, t=30 if title else 10, b=10), title=title or None,
                      xaxis=dict(title="step"), yaxis=dict(title="loss"),
                      yaxis2=dict(title="val. accuracy", overlaying="y", side="right", range=[0, 1], tickmode="linear",
                                  tick0=0, dtick=0.25, showgrid=False),
                      legend=dict(orientation="h", y=-0.3), uirevision="curve")
    return fig


def compare_figure(results: list[dict], normalise: bool = False, height: int = 480):
    """Several runs on one log-d chart; optionally accuracy / full fine-tuning accuracy."""
    import plotly.graph_objects as go

    fig = go.Figure()
    ds = [r["d"] for res in results for r in res["by_d"]] or [10, 10_000]
    lo, hi = max(1.0, min(ds) / 2), max(ds) * 2
    any_thr = any_d90 = False
    for i, res in enumerate(results):
        colour = PALETTE[i % len(PALETTE)]
        b = res.get("baseline_accuracy")
        scale = b if normalise and b else 1.0
        if normalise and not b:
            continue
        rows = [r for r in res["by_d"] if r["mean"] is not None]
        stored = res.get("config") or {}
        shuf = "".join(f" · shuffled {k}" for k in ("labels", "pixels") if stored.get(f"shuffle_{k}"))
        name = f"{_h(res['model'])} · {_h(res['task'])}{shuf} · {res['method'].upper()} ({res['run_id'][:6]})"
        fig.add_trace(go.Scatter(
            x=[r["d"] for r in rows], y=[r["mean"] / scale for r in rows], mode="lines+markers", name=name,
            legendgroup=res["run_id"], marker=dict(color=colour, size=9), line=dict(color=colour),
            error_y=dict(type="data", array=[(r["std"] or 0) / scale for r in rows], visible=True),
            meta={"role": "points", "run_id": res["run_id"]}))
        thr = res.get("threshold")
        if b is not None and thr is not None and (not normalise or res.get("threshold_rule") == "floor"):
            any_thr = True  # the run's own threshold: 0.9 x full, or its floor when a constant guess would pass that
            fig.add_trace(go.Scatter(x=[lo, hi], y=[thr / scale] * 2, mode="lines", legendgroup=res["run_id"],
                                     name=(f"threshold set by the floor ({res['run_id'][:6]})"
                                           if res.get("threshold_rule") == "floor" else
                                           f"0.9 × full ({res['run_id'][:6]})"),
                                     showlegend=res.get("threshold_rule") == "floor",
                                     line=dict(color=colour, dash="dash", width=1),
                                     meta={"role": "threshold", "run_id": res["run_id"],
                                           "rule": res.get("threshold_rule")}))
        if res.get("probe_accuracy") is not None:
            fig.add_trace(go.Scatter(x=[lo, hi], y=[res["probe_accuracy"] / scale] * 2, mode="lines",
                                     legendgroup=res["run_id"], name=f"linear probe ({res['run_id'][:6]}, "
                                                                     f"{res['probe_accuracy']:.3f})",
                                     line=dict(color=colour, dash="dashdot", width=1),
                                     meta={"role": "probe", "run_id": res["run_id"]}))
        if res.get("d90_status") == "found" and res.get("d90_interpolated"):
            any_d90 = True
            fig.add_vline(x=res["d90_interpolated"], line=dict(color=colour, dash="dot", width=1.5))
    # what the line styles mean (each run's own threshold and d90 share its colour)
    if any_thr:
        fig.add_trace(go.Scatter(x=[None], y=[None], mode="lines", name="dashed: 0.9 × full (threshold), run's colour",
                                 line=dict(color="#555", dash="dash", width=1), meta={"role": "legend_threshold"}))
    if any_d90:
        fig.add_trace(go.Scatter(x=[None], y=[None], mode="lines", name="dotted vertical: the run's d90",
                                 line=dict(color="#555", dash="dot", width=1.5), meta={"role": "legend_d90"}))
    if normalise:
        fig.add_trace(go.Scatter(x=[lo, hi], y=[0.9, 0.9], mode="lines", name="threshold: 0.9 × full",
                                 line=dict(color=C_THR, dash="dash", width=2), meta={"role": "threshold"}))
        fig.add_trace(go.Scatter(x=[lo, hi], y=[1.0, 1.0], mode="lines", name="full training / fine-tuning",
                                 line=dict(color=C_BASE, width=1.5), meta={"role": "baseline"}))
    memorised = all((r.get("config") or {}).get("shuffle_labels") for r in results) and results
    mixed = any((r.get("config") or {}).get("shuffle_labels") for r in results) and not memorised
    ytitle = "training accuracy (memorised labels)" if memorised else \
        "accuracy (test; training for shuffled labels)" if mixed else "test accuracy"
    fig.update_layout(
        height=height, margin=dict(l=10, r=10, t=30, b=10),
        xaxis=dict(type="log", title="d: trained dimensions (log scale)", dtick=1, tickformat=","),
        yaxis=dict(title="accuracy / full training accuracy" if normalise else ytitle, automargin=True),
        legend=dict(orientation="h", yanchor="top", y=-0.18, x=0), uirevision="compare")
    return fig


def plan_figure(cfg, D: int | None, height: int = 150):
    """Where a planned run's trials lie on the log-d axis, with D (full fine-tuning) marked."""
    import plotly.graph_objects as go

    dims = cfg.grid
    fig = go.Figure()
    if dims:
        fig.add_trace(go.Scatter(x=dims, y=[0] * len(dims), mode="markers+text", text=[f"{d:,}" for d in dims],
                                 textposition="top center", marker=dict(color=C_POINTS, size=11),
                                 name="planned d", hovertemplate="d=%{x:,}<extra></extra>"))
    else:
        lo, hi = 10, int(cfg.max_d or 100_000)
        fig.add_trace(go.Scatter(x=[lo, hi], y=[0, 0], mode="lines", line=dict(color=C_POINTS, width=6),
                                 name="automatic search range", hoverinfo="name"))
    if D:
        fig.add_trace(go.Scatter(x=[D], y=[0], mode="markers+text", text=[f"D = {D:,}"], textposition="top center",
                                 marker=dict(color=C_BASE, size=13, symbol="diamond"),
                                 name=f"{baseline_word(cfg)}: all D parameters", hoverinfo="name"))
    fig.update_layout(height=height, margin=dict(l=10, r=10, t=10, b=10), showlegend=False,
                      xaxis=dict(type="log", title="d (log scale)", tickformat=",", dtick=1),
                      yaxis=dict(visible=False, range=[-0.5, 1]))
    return fig


def idea_figure(height: int = 460):
    """The idea in three dimensions: a random plane through theta0 meets a line of good solutions.

    D = 3 parameters, good solutions form a line (s = 1), a random subspace of d = 2 through
    theta0 (a plane) meets that line because d + s >= D; a random line (d = 1) would miss it.
    """
    import numpy as np
    import plotly.graph_objects as go

    rng = np.random.default_rng(3)
    theta0 = np.array([0.0, 0.0, 0.0])
    u, v = np.linalg.qr(rng.normal(size=(3, 2)))[0].T  # two random unit directions: P's columns
    a = np.linspace(-1.5, 1.5, 12)
    A, B = np.meshgrid(a, a)
    plane = theta0[:, None, None] + u[:, None, None] * A + v[:, None, None] * B
    # good solutions: a line through a point off theta0, direction w
    p0, w = np.array([0.9, -0.6, 0.7]), np.array([0.2, 0.5, -1.0])
    nrm = np.cross(u, v)
    t_hit = -(nrm @ (p0 - theta0)) / (nrm @ w)  # where the line crosses the plane
    hit = p0 + t_hit * w
    t = np.linspace(t_hit - 1.2, t_hit + 1.2, 30)
    line = p0[:, None] + w[:, None] * t
    rand_line = theta0[:, None] + rng.normal(size=3)[:, None] / 1.2 * np.linspace(-1.5, 1.5, 2)
    fig = go.Figure()
    fig.add_trace(go.Surface(x=plane[0], y=plane[1], z=plane[2], opacity=0.35, showscale=False,
                             colorscale=[[0, C_POINTS], [1, C_POINTS]], name="random subspace θ0 + P z (d = 2)",
                             showlegend=True, hoverinfo="name"))
    fig.add_trace(go.Scatter3d(x=line[0], y=line[1], z=line[2], mode="lines", line=dict(color=C_BASE, width=8),
                               name="good solutions (a set of dimension s = 1)"))
    fig.add_trace(go.Scatter3d(x=rand_line[0], y=rand_line[1], z=rand_line[2], mode="lines",
                               line=dict(color=C_CHANCE, width=5, dash="dash"),
                               name="a random line (d = 1) through θ0: misses them"))
    fig.add_trace(go.Scatter3d(x=[theta0[0]], y=[theta0[1]], z=[theta0[2]], mode="markers+text", text=["θ0"],
                               marker=dict(size=7, color="black"), name="θ0: the pretrained weights"))
    fig.add_trace(go.Scatter3d(x=[hit[0]], y=[hit[1]], z=[hit[2]], mode="markers+text", text=["θ0 + P z*"],
                               marker=dict(size=8, color=C_D90, symbol="diamond"),
                               name="what subspace training finds: d + s ≥ D, so they meet"))
    fig.update_layout(height=height, margin=dict(l=0, r=0, t=10, b=0), legend=dict(x=0, y=1),
                      scene=dict(xaxis_title="θ₁", yaxis_title="θ₂", zaxis_title="θ₃", aspectmode="cube",
                                 # looking at the plane from 45° above it (Plotly's default eye sees it at 24°,
                                 # nearly edge-on): the plane, the line and where they meet all show at once
                                 camera=dict(eye=dict(x=1.6, y=-1.2, z=0.9))))
    return fig


def escape_run_words(fig, res: dict) -> None:
    """In ``fig`` (changed in place), every run word (model, task, run id, method, projection) that holds
    HTML markup is replaced by its escaped form in trace names, texts and annotations."""
    from .text import html_text

    words = sorted({str(res.get(k)) for k in ("model", "task", "run_id", "method", "projection")
                    if res.get(k) is not None and any(c in str(res.get(k)) for c in "<>&")}, key=len, reverse=True)
    if not words:
        return

    def clean(v):
        if not isinstance(v, str):
            return v
        for w in words:
            v = v.replace(w, html_text(w))
        return v

    for tr in fig.data:
        for attr in ("name", "text", "hovertext", "hovertemplate", "legendgroup"):
            v = getattr(tr, attr, None)
            if isinstance(v, str):
                setattr(tr, attr, clean(v))
            elif isinstance(v, (list, tuple)) and any(isinstance(x, str) for x in v):
                setattr(tr, attr, [clean(x) for x in v])
    for a in fig.layout.annotations or ():
        a.text = clean(a.text)
    if fig.layout.title and fig.layout.title.text:
        fig.layout.title.text = clean(fig.layout.title.text)


def figure_html(fig, res: dict | None = None) -> str:
    """A standalone HTML file (plotly.js embedded: opens offline), titled with the run's details.

    The run's own words (model, task, id) are HTML-escaped wherever they reach the figure's text:
    Plotly renders ``<a href>`` in titles, legends and annotations as a live link.
    """
    import copy

    from .text import html_text

    fig = copy.deepcopy(fig)
    if res is not None:
        stored = res.get("config") or {}
        dims = "automatic search" if is_auto(stored.get("dims")) else f"{len(stored.get('dims') or [])} values of d"
        dims = {"rank": f"{len(stored.get('ranks') or stored.get('dims') or [])} ranks",
                "single": "one point"}.get(res.get("axis", "d"), dims)  # an adapter run: its own axis
        title = html_text(f"idim run {res['run_id']}: {res['model']} on {res['task']}, {res['method'].upper()}, "
                          f"{levels_text(res)}")
        sub = html_text(f"{dims}, {stored.get('seeds', 1)} seed(s), {stored.get('epochs')} epochs · {d90_text(res)}"
                        + (" · recorded" if stored.get("recorded") else ""))
        escape_run_words(fig, res)
        fig.update_layout(title=dict(text=f"{title}<br><sup>{sub}</sup>", x=0.01, xanchor="left"))
    fig.update_layout(margin=dict(l=80, r=30, t=90, b=40), height=max(560, fig.layout.height or 0))
    fig.update_yaxes(automargin=True)
    fig.update_xaxes(automargin=True)
    return fig.to_html(include_plotlyjs=True, full_html=True)


def method_name(method: str) -> str:
    """A method's name in a legend or a table (its module's SHORT; the registry imports no torch)."""
    from ..methods import short

    return short(method)


def method_label(res: dict) -> str:
    """A run's method as a legend or a sentence names it: LoRA on the last K layers says so."""
    k = (res.get("config") or {}).get("lora_layers") or res.get("lora_layers")  # a run, or a comparison's row
    return method_name(res["method"]) + (f" (last {'layer' if k == 1 else f'{k} layers'})" if k else "")


def params_figure(results: list[dict], height: int = 500, font_size: int | None = None):
    """Every method on one axis: accuracy against trainable parameters (log), full fine-tuning at D,
    the 0.9 threshold, and each run's 90 % point with its interval."""
    import plotly.graph_objects as go

    fig = go.Figure()
    xs = [p["params"] for res in results for p in res["points"] if p.get("params")]
    xs += [res["D"] for res in results if res.get("D")]
    lo, hi = (max(1.0, min(xs) / 2), max(xs) * 2) if xs else (10.0, 1e7)
    thresholds = {round(r["threshold"], 6) for r in results if r.get("threshold") is not None}
    shared = len(thresholds) == 1
    fulls: dict[tuple, dict] = {}
    for i, res in enumerate(results):
        _add_params_run(fig, res, PALETTE[i % len(PALETTE)], (lo, hi), shared)
        if res.get("D") and res.get("baseline_accuracy") is not None:
            fulls.setdefault((res["D"], round(res["baseline_accuracy"], 6)), res)
    for (D, b), res in fulls.items():
        fig.add_trace(go.Scatter(x=[D], y=[b], mode="markers+text", text=[f"full: D = {D:,}"],
                                 # left of the marker: D is the axis' largest value, a centred label was cut
                                 textposition="bottom left", name=f"{baseline_word(res)} ({_h(res['model'])}, {b:.3f})",
                                 marker=dict(symbol="diamond", size=14, color=C_BASE),
                                 error_y=dict(type="data", array=[res.get("baseline_std") or 0], visible=True),
                                 meta={"role": "full", "value": b, "D": D},
                                 hovertemplate="full fine-tuning: %{x:,} parameters<br>accuracy %{y:.3f}"
                                               "<extra></extra>"))
    if shared:
        thr = next(iter(thresholds))
        fig.add_trace(go.Scatter(x=[lo, hi], y=[thr, thr], mode="lines", name=f"threshold: 0.9 × full ({thr:.3f})",
                                 line=dict(color=C_THR, dash="dash", width=2), meta={"role": "threshold"}))
    elif thresholds:
        fig.add_trace(go.Scatter(x=[None], y=[None], mode="lines", name="dashed: 0.9 × full (threshold), run's colour",
                                 line=dict(color="#555", dash="dash", width=1), meta={"role": "legend_threshold"}))
    fig.update_layout(
        height=height, margin=dict(l=10, r=10, t=30, b=10),
        xaxis=dict(type="log", title="trainable parameters (log scale)", dtick=1, tickformat=",",
                   range=[math.log10(lo), math.log10(hi)]),
        yaxis=dict(title="test accuracy", automargin=True,
                   # before any point (an adapter run just queued) the accuracy scale, not Plotly's -1 to 4
                   **({} if any(t.y and any(v is not None for v in t.y) for t in fig.data) else {"range": [0, 1]})),
        legend=dict(orientation="h", yanchor="top", y=-0.18, x=0), uirevision="params")
    if font_size:
        fig.update_layout(font=dict(size=font_size))
    return fig


def _add_params_run(fig, res: dict, colour: str, x_range: tuple[float, float], shared: bool) -> None:
    """One run on the parameters axis: its points, its own threshold (when runs differ), its 90 % point and where
    it falls back below the threshold."""
    import plotly.graph_objects as go

    from ..methods import level_name

    lo, hi = x_range
    axis = res.get("axis", "d")
    rows = [r for r in (res.get("by_params") or []) if r["mean"] is not None]
    if not rows and axis == "d":
        rows = [r for r in res["by_d"] if r["mean"] is not None]
    name = f"{method_label(res)} · {_h(res['model'])} ({res['run_id'][:6]})"
    ranks = {p["params"]: p.get("rank") for p in res["points"] if p.get("params")}
    text = [f"{level_name(res['method'])} = {ranks.get(r['d'])}" if axis == "rank" else "" for r in rows]
    if axis == "single":
        text = [method_name(res["method"]) for _ in rows]
    fig.add_trace(go.Scatter(
        x=[r["d"] for r in rows], y=[r["mean"] for r in rows],
        mode="markers+text" if axis == "single" else "lines+markers+text" if axis == "rank" else "lines+markers",
        text=text, textposition="top center", name=name, legendgroup=res["run_id"],
        marker=dict(color=colour, size=12 if axis == "single" else 9,
                    symbol="square" if axis == "single" else "circle"),
        line=dict(color=colour, dash="solid" if axis == "d" else "dot"),
        error_y=dict(type="data", array=[r["std"] or 0 for r in rows], visible=True),
        meta={"role": "points", "run_id": res["run_id"], "method": res["method"]},
        hovertemplate="%{x:,} trainable parameters<br>mean accuracy %{y:.3f}<extra>" + res["method"] + "</extra>"))
    if not shared and res.get("threshold") is not None:
        fig.add_trace(go.Scatter(x=[lo, hi], y=[res["threshold"]] * 2, mode="lines", legendgroup=res["run_id"],
                                 showlegend=False, line=dict(color=colour, dash="dash", width=1),
                                 meta={"role": "threshold", "run_id": res["run_id"]}))
    st = res.get("p90_status")
    px = res.get("p90_interpolated") if st == "found" else res.get("p90_upper") if st == "below_grid" else None
    if px and res.get("threshold") is not None:
        ci = res.get("p90_ci") or [None, None]
        plus = (ci[1] - px) if ci[1] is not None else hi - px
        minus = (px - ci[0]) if ci[0] is not None else 0
        label = ("≈ " if st == "found" else "≤ ") + f"{px:,.0f}"
        fig.add_trace(go.Scatter(
            x=[px], y=[res["threshold"]], mode="markers", legendgroup=res["run_id"],
            name=f"90 % point {label} ({method_label(res)})",
            marker=dict(symbol="star", size=15, color=colour, line=dict(width=1, color="#333")),
            error_x=dict(type="data", symmetric=False, array=[max(plus, 0)], arrayminus=[max(minus, 0)],
                         visible=bool(res.get("p90_ci")), color=colour, thickness=3),
            meta={"role": "p90", "run_id": res["run_id"], "value": px, "status": st},
            hovertemplate="90 % point " + label + " trainable parameters<extra>" + res["method"] + "</extra>"))
    back = _falls_back(res, rows)
    if back:
        fig.add_trace(go.Scatter(**back, legendgroup=res["run_id"],
                                 name=f"falls back below the threshold at {back['x'][0]:,} ({method_label(res)})",
                                 meta={"role": "non_monotone", "run_id": res["run_id"], "d": back["x"][0]}))


def lambda_heatmap(res: dict, height: int = 360):
    """SAID's learned scales: one row per group (layer), one column per d, mean over seeds."""
    import plotly.graph_objects as go

    pts = [p for p in res["points"] if p.get("lam") and p.get("status") == "done"]
    if not pts:
        return None
    names = pts[0].get("lam_names") or [f"group {i}" for i in range(len(pts[0]["lam"]))]
    ds = sorted({p["d"] for p in pts})
    z = []
    for i in range(len(names)):
        row = []
        for d in ds:
            vals = [p["lam"][i] for p in pts if p["d"] == d and len(p["lam"]) > i]
            row.append(sum(vals) / len(vals) if vals else None)
        z.append(row)
    fig = go.Figure(go.Heatmap(z=z, x=[f"{d:,}" for d in ds], y=names, colorscale="RdBu", zmid=1.0,
                               colorbar=dict(title="λ"), meta={"role": "lambda"},
                               hovertemplate="d=%{x}<br>%{y}: λ = %{z:.3f}<extra></extra>"))
    fig.update_layout(height=max(height, 22 * len(names) + 120), margin=dict(l=10, r=10, t=30, b=10),
                      xaxis=dict(title="d", type="category"), yaxis=dict(title="group", autorange="reversed"),
                      title=dict(text="SAID's learned scales λ (mean over seeds; 1 = the start)", x=0.01))
    return fig


def bits_figure(res: dict, height: int = 380):
    """Accuracy against the bits the fine-tuned model needs: d numbers at b bits (plus P's seed) for each
    quantisation, against full fine-tuning's D x 32."""
    import plotly.graph_objects as go

    stats = [s for s in (res.get("stats") or []) if s.get("quantised_mean")]
    if not stats:
        return None
    fig = go.Figure()
    bits = sorted({int(b) for s in stats for b in s["quantised_mean"]}) + [32]
    for i, b in enumerate(bits):
        xs, ys = [], []
        for s in stats:
            acc = s["mean"] if b == 32 else s["quantised_mean"].get(str(b))
            if acc is not None:
                xs.append(s["d"] * b)
                ys.append(acc)
        fig.add_trace(go.Scatter(x=xs, y=ys, mode="lines+markers", name=f"z at {b} bits" + (" (as trained)" if b == 32
                                                                                             else ""),
                                 marker=dict(color=PALETTE[i % len(PALETTE)]), meta={"role": "bits", "bits": b},
                                 hovertemplate="%{x:,} bits<br>test accuracy %{y:.3f}<extra></extra>"))
    if res.get("D") and res.get("baseline_accuracy") is not None:
        fig.add_trace(go.Scatter(x=[res["D"] * 32], y=[res["baseline_accuracy"]], mode="markers+text",
                                 text=["full: D × 32 bits"], textposition="bottom center",
                                 marker=dict(symbol="diamond", size=13, color=C_BASE), name="full fine-tuning",
                                 meta={"role": "full"}))
    if res.get("threshold") is not None:
        fig.add_hline(y=res["threshold"], line=dict(color=C_THR, dash="dash"))
    fig.update_layout(height=height, margin=dict(l=10, r=10, t=30, b=10),
                      xaxis=dict(type="log", title="bits to store the fine-tuned model: d × bits (+ the seed of P)",
                                 tickformat=",", dtick=1),
                      yaxis=dict(title=accuracy_word(res), automargin=True),
                      legend=dict(orientation="h", yanchor="top", y=-0.2, x=0))
    return fig


def claim_figure(results: list[dict], key: str, title: str, baseline_key: str | None = None, height: int = 320,
                 extra: dict | None = None):
    """One measured quantity per d (from results' ``stats``), one line per run; optionally the baseline's
    value as a dashed line and extra lines (name -> list of (d, y))."""
    import plotly.graph_objects as go

    fig = go.Figure()
    for i, res in enumerate(results):
        colour = PALETTE[i % len(PALETTE)]
        rows = [s for s in res.get("stats") or [] if s.get(key) is not None]
        label = f"{_h(res['model'])} · {_h(res['task'])} · {res['method'].upper()}"
        fig.add_trace(go.Scatter(x=[s["d"] for s in rows], y=[s[key] for s in rows], mode="lines+markers",
                                 name=label, marker=dict(color=colour), line=dict(color=colour),
                                 meta={"role": "claim", "key": key, "run_id": res["run_id"]}))
        if baseline_key and res.get(baseline_key):
            vals = res[baseline_key]
            v = sum(vals) / len(vals) if isinstance(vals, list) else vals
            fig.add_hline(y=v, line=dict(color=colour, dash="dash", width=1),
                          annotation_text=f"full ({_h(res['model'])})", annotation_position="top left")
    for j, (name, xy) in enumerate((extra or {}).items()):
        fig.add_trace(go.Scatter(x=[x for x, _ in xy], y=[y for _, y in xy], mode="lines+markers", name=name,
                                 line=dict(dash="dot", color=PALETTE[(len(results) + j) % len(PALETTE)]),
                                 meta={"role": "claim_extra"}))
    fig.update_layout(height=height, margin=dict(l=10, r=10, t=10, b=10),
                      xaxis=dict(type="log", title="d (log scale)", tickformat=",", dtick=1),
                      yaxis=dict(title=title, automargin=True),
                      legend=dict(orientation="h", yanchor="top", y=-0.22, x=0))
    return fig


def p90_bars_figure(results: list[dict], height: int = 460):
    """Each method's trainable parameters at its 90 % point, as horizontal bars on a log axis with the 95 %
    interval: "≤" where it was reached at the smallest size tried, "not reached" drawn at the largest tried."""
    import plotly.graph_objects as go

    from ..d90 import p90_short

    fig = go.Figure()
    rows = []
    for r in results:
        status = r.get("p90_status")
        v = r.get("p90_interpolated") if status == "found" else r.get("p90_upper") if status == "below_grid" else \
            max((p.get("params") or 0 for p in r.get("points") or []), default=0) if status == "not_reached" else None
        if v:
            rows.append((method_label(r), v, status, r.get("p90_ci"), p90_short(r) or ""))
    rows.sort(key=lambda x: x[1], reverse=True)
    for name, v, status, ci, cell in rows:
        err = None
        if status == "found" and ci and None not in ci:
            err = dict(type="data", symmetric=False, array=[ci[1] - v], arrayminus=[v - ci[0]], visible=True,
                       color="#333")
        colour = C_POINTS if status == "found" else C_CHANCE
        fig.add_trace(go.Bar(y=[_h(name)], x=[v], orientation="h", marker_color=colour, error_x=err,
                             text=[cell], textposition="outside", showlegend=False, name=_h(name),
                             meta={"role": "p90", "status": status}))
    fig.update_layout(height=height, margin=dict(l=10, r=10, t=30, b=10), bargap=0.35,
                      xaxis=dict(type="log", title="trainable parameters at 90 % of full fine-tuning (log scale)"),
                      yaxis=dict(automargin=True), meta={"role": "p90_bars"})
    return fig


def sizes_figure(res: dict, height: int = 460):
    """How many numbers: the model's D parameters, the largest d the sweep tried, and d90 with its interval, as
    bars on a log scale (a lesson's "d is not the model's size")."""
    import plotly.graph_objects as go

    bars = [("all parameters (D)", res.get("D"), C_BASE)]
    tried = [p["d"] for p in res.get("points") or [] if p.get("d")]
    if tried:
        bars.append(("largest d tried", max(tried), C_POINTS))
    if res.get("d90_status") == "found":
        bars.append(("d90", res["d90_interpolated"], C_D90))
    bars = [b for b in bars if b[1]]
    fig = go.Figure()
    for name, v, colour in bars:
        err = None
        if name == "d90" and res.get("d90_ci") and None not in res["d90_ci"]:
            lo, hi = res["d90_ci"]
            err = dict(type="data", symmetric=False, array=[hi - v], arrayminus=[v - lo], visible=True,
                       color="#333")
        fig.add_trace(go.Bar(x=[name], y=[v], marker_color=colour, name=name, error_y=err, text=[f"{v:,.0f}"],
                             textposition="outside", showlegend=False, meta={"role": "size"}))
    fig.update_layout(height=height, margin=dict(l=10, r=10, t=40, b=10), yaxis=dict(type="log", title="how many "
                      "numbers (log scale)", automargin=True), bargap=0.45, meta={"role": "sizes"})
    return fig


PRESENT_FONT = 22  # px: ticks, legend, annotations and marker texts in the presenter view (titles +2)
PRESENT_PLOT = 470  # px: the plot area's height in the presenter view (the axes alone: 65 % of a 720 px projector)
_SHORT = {"points": "mean of the seeds (± std)", "seeds": "one seed", "d90_ci": "d90's 95 % interval",
          "baseline_band": "full training ± std", "diverged": "diverged", "guesses": "the class's guesses"}
_KEY_NAMES = {"legend_threshold": "dashed: each run's threshold", "legend_d90": "dotted: each run's d90"}
_LINE_ROLES = {"baseline": None, "threshold": "threshold", "probe": "linear probe", "chance": "chance",
               "majority": "majority class"}


def _legend_rows(fig, size: int, width: int = 1100) -> int:
    """About how many rows a horizontal legend of ``fig`` takes at ``size`` px in a ``width`` px chart."""
    shown = [t for t in fig.data if t.showlegend is not False and t.name]
    if not shown:
        return 0
    rows, used = 1, 0
    for t in shown:
        w = 46 + int(0.56 * size * len(str(t.name)))
        if used and used + w > width:
            rows, used = rows + 1, 0
        used += w
    return rows


def _label_lines(fig, size: int, plot: int = PRESENT_PLOT) -> None:
    """The run chart's horizontal lines (full training, threshold, probe, chance ...) named where they are drawn,
    at the left end above the line, instead of in a legend a projector cannot fit; labels that would touch are
    moved apart."""
    yr = fig.layout.yaxis.range
    if not yr:
        return
    per_px = (yr[1] - yr[0]) / plot
    labels = []
    for t in fig.data:
        meta = t.meta if isinstance(t.meta, dict) else {}
        role = meta.get("role")
        if role not in _LINE_ROLES or meta.get("value") is None:
            continue
        word = _LINE_ROLES[role] or str(t.name).split(" (")[0]
        if role == "threshold" and meta.get("rule") == "floor":
            word = "threshold (set by the floor)"
        labels.append([meta["value"], f"{word} {meta['value']:.3f}", t.line.color])
        t.showlegend = False
    labels.sort()
    last = None
    for lab in labels:  # bottom to top: a label closer than a line of type to the one below goes up
        y = lab[0]
        if last is not None and (y - last) / per_px < size + 6:
            y = last + (size + 6) * per_px
        lab.append(y)
        last = y
    for _value, words, colour, y in labels:
        fig.add_annotation(x=0.005, xref="paper", y=y, text=_h(words), showarrow=False, xanchor="left",
                           yanchor="bottom", font=dict(size=size, color=colour), bgcolor="rgba(255,255,255,0.75)")


def _short_names(fig) -> None:
    """Legend names without what every entry shares ("mnist5k", "DID") and without run ids where the names differ
    without them: what fits a projector's legend."""
    import re

    shown = [t for t in fig.data if t.showlegend is not False and t.name and " · " in str(t.name)]
    if len(shown) < 2:
        return
    parts = [[p.strip() for p in re.sub(r" \([0-9a-f]{6}\)$", "", str(t.name)).split(" · ")] for t in shown]
    common = set(parts[0]).intersection(*map(set, parts[1:]))
    short = [" · ".join(p for p in ps if p not in common) or " · ".join(ps) for ps in parts]
    if len(set(short)) < len(short):  # two runs alike but for their id: keep the ids
        ids = [re.search(r"\(([0-9a-f]{6})\)$", str(t.name)) for t in shown]
        short = [f"{n} ({m.group(1)})" if m else n for n, m in zip(short, ids)]
    for t, n in zip(shown, short):
        t.name = n


def _emptiest_corner(fig, left: bool = True) -> tuple[float, float, str, str]:
    """The corner of the plot with the fewest data points (a box of 45 % × 45 %): where a legend inside the plot
    hides nothing; as (x, y, xanchor, yanchor) in paper coordinates."""
    def scaled(vals, ax):
        log = ax.type == "log"
        out = [math.log10(v) if log else v for v in vals if isinstance(v, (int, float)) and (v > 0 or not log)]
        return out

    pts = []
    for t in fig.data:
        if t.type != "scatter" or t.x is None or t.y is None or len(t.x) < 1:
            continue
        if len(t.x) == 2 and len(set(t.y)) == 1:  # a horizontal rule: a legend may cover part of it
            continue
        for x, y in zip(t.x, t.y):
            if isinstance(x, (int, float)) and isinstance(y, (int, float)):
                pts.append((x, y))
    xa, ya = fig.layout.xaxis, fig.layout.yaxis
    sx = scaled([p[0] for p in pts], xa)
    sy = scaled([p[1] for p in pts], ya)
    if not sx or not sy or len(sx) != len(sy):
        return 0.995, 0.02, "right", "bottom"
    x0, x1 = (xa.range[0], xa.range[1]) if xa.range else (min(sx), max(sx))
    y0, y1 = (ya.range[0], ya.range[1]) if ya.range else (min(sy), max(sy))
    if ya.range and ya.type == "log":
        y0, y1 = ya.range
    fx = [(v - x0) / ((x1 - x0) or 1) for v in sx]
    fy = [(v - y0) / ((y1 - y0) or 1) for v in sy]
    corners = [(0.995, 0.02, "right", "bottom", lambda a, b: a > 0.55 and b < 0.45),
               (0.005, 0.98, "left", "top", lambda a, b: a < 0.45 and b > 0.55),
               (0.995, 0.98, "right", "top", lambda a, b: a > 0.55 and b > 0.55),
               (0.005, 0.02, "left", "bottom", lambda a, b: a < 0.45 and b < 0.45)]
    corners = [c for c in corners if left or c[2] == "right"]
    best = min(corners, key=lambda c: sum(1 for a, b in zip(fx, fy) if c[4](a, b)))
    return best[:4]


def _log_ticks(fig) -> None:
    """Tick labels on a log axis that never overlap at projector size: one per decade when the data span more
    than one, else 2 and 5 of each decade (Plotly's default writes every digit: 800 / 900 / 1,000 on top of
    each other)."""
    for ax, key in ((fig.layout.xaxis, "x"), (fig.layout.yaxis, "y")):
        if ax.type != "log":
            continue
        vals = [v for t in fig.data for v in (getattr(t, key) or ()) if isinstance(v, (int, float)) and v > 0]
        if ax.range:
            span = ax.range[1] - ax.range[0]
        elif vals:
            span = math.log10(max(vals)) - math.log10(min(vals))
        else:
            continue
        ax.update(dtick=1 if span >= 1.5 else "D2", tickformat="~s")


def presenter(fig, size: int = PRESENT_FONT, plot: int = PRESENT_PLOT):
    """A copy of ``fig`` for a projector: every text at least ``size`` px (set explicitly, so no theme
    decides), lines at least 4 px wide, markers at least 12 px, a white background, a plot area of
    PRESENT_PLOT px and a legend that never scrolls: the run chart names its horizontal lines on the lines and
    keeps the rest of its legend inside the plot, bottom right (where a rising curve never is); other charts
    grow by their legend's rows.  Meant to be drawn with ``st.plotly_chart(..., theme=None)``: Streamlit's
    chart theme would put its own fonts back."""
    import plotly.graph_objects as go

    fig = go.Figure(fig)
    font = dict(size=size)
    fig.update_layout(template="plotly_white", font=dict(size=size, color="#222"), legend=dict(font=font),
                      hoverlabel=dict(font=font))
    titled = bool(fig.layout.title and fig.layout.title.text)
    if titled:
        fig.update_layout(title_font_size=size + 2)
    fig.update_xaxes(tickfont=font, title_font=dict(size=size + 2), automargin=True)
    fig.update_yaxes(tickfont=font, title_font=dict(size=size + 2), automargin=True)
    _log_ticks(fig)
    if any(t.type in ("scatter3d", "surface") for t in fig.data):
        # the idea in 3-D: its coordinates mean nothing, so no tick numbers (at 22 px they crowd the cube);
        # the legend above the scene, not over it
        for ax in ("xaxis", "yaxis", "zaxis"):
            fig.update_scenes({ax: dict(showticklabels=False, title_font=dict(size=size + 2))})
        fig.update_layout(height=max(fig.layout.height or 0, 680), scene_domain=dict(y=[0, 0.72]),
                          legend=dict(x=0, y=1, yanchor="top", orientation="v"))
    elif any(t.type == "heatmap" for t in fig.data):
        fig.update_layout(height=max(fig.layout.height or 0, PRESENT_PLOT + 120))
    else:
        _present_flat(fig, size, plot, titled)
    _present_marks(fig, size)
    return fig


def _present_flat(fig, size: int, plot: int, titled: bool) -> None:
    """presenter() for a 2-D chart: point labels, legend names and the legend's place, the figure's height."""
    top = max(fig.layout.margin.t or 0, 40 + (size + 14 if titled else 0))
    bottom = 2 * size + 44  # tick labels and the axis title under the plot
    meta = fig.layout.meta if isinstance(fig.layout.meta, dict) else {}
    texts = sum(len(t.x or ()) for t in fig.data if t.type == "scatter" and "text" in (t.mode or ""))
    if texts > 4:  # many point labels smear into each other at this size: the legend and hover name them
        for t in fig.data:
            if t.type == "scatter" and "text" in (t.mode or ""):
                t.mode = t.mode.replace("+text", "").replace("text+", "")
    if "d90_status" in meta:  # the run chart: its horizontal lines named on the lines
        _label_lines(fig, size, plot)
        for t in fig.data:  # the legend's names short enough for a corner of the plot
            role = (t.meta or {}).get("role") if isinstance(t.meta, dict) else None
            if role == "baseline_band":
                t.name = str(t.name).split(":")[0] + " ± std"
            elif role in _SHORT:
                t.name = _SHORT[role]
    else:
        _short_names(fig)
        for t in fig.data:
            role = (t.meta or {}).get("role") if isinstance(t.meta, dict) else None
            if role in _KEY_NAMES:
                t.name = _KEY_NAMES[role]
    entries = [t for t in fig.data if t.showlegend is not False and t.name]
    legend_h = 0
    if len(entries) * (size + 10) <= 0.6 * plot:  # the legend inside the plot, in its emptiest corner
        x, y, xa, ya = _emptiest_corner(fig, left="d90_status" not in meta)  # the run chart's left: labels
        fig.update_layout(legend=dict(orientation="v", x=x, xanchor=xa, y=y, yanchor=ya, yref="paper",
                                      bgcolor="rgba(255,255,255,0.85)"))
    else:  # too many entries: below the axis title, the figure grown by its rows
        rows = _legend_rows(fig, size)
        legend_h = rows * (size + 12) + (12 if rows else 0)
        fig.update_layout(legend=dict(orientation="h", x=0, xanchor="left", yref="container", y=0,
                                      yanchor="bottom", maxheight=1))
    fig.update_layout(height=plot + top + bottom + legend_h,
                      margin=dict(t=top, b=bottom + legend_h))


def _present_marks(fig, size: int) -> None:
    """presenter()'s floors: annotations and point labels at ``size`` px, lines, markers, error bars and shapes
    thick enough for a projector."""
    for a in fig.layout.annotations or ():
        a.font.size = max(a.font.size or 0, size)
    for t in fig.data:
        if t.type == "scatter":
            mode = t.mode or ""
            if "lines" in mode or (not mode and t.line is not None):
                t.line.width = max(t.line.width or 0, 4)
            if "markers" in mode:
                t.marker.size = max(t.marker.size if isinstance(t.marker.size, (int, float)) else 0, 12)
            if "text" in mode:
                t.textfont.size = max(t.textfont.size or 0, size)
            for err in (t.error_y, t.error_x):
                if err is not None and err.visible:
                    err.thickness = max(err.thickness or 0, 3)
                    err.width = max(err.width or 0, 8)
        elif t.type == "scatter3d":
            if t.marker is not None and isinstance(t.marker.size, (int, float)):
                t.marker.size = max(t.marker.size, 10)
            t.textfont.size = max(t.textfont.size or 0, size)
        elif t.type == "heatmap" and t.colorbar is not None:
            t.colorbar.tickfont.size = size
            t.colorbar.title.font.size = size
    for s in fig.layout.shapes or ():
        if s.line is not None:
            s.line.width = max(s.line.width or 0, 3)


C_SCRATCH = "#222222"  # "from scratch" in a series' accuracy panel


def _source_colour(series: dict, source: str) -> str:
    """One colour per pre-training source, the same in both of a series' panels (its controls are grey)."""
    real = [s for s in (series.get("sources") or []) if not str(s).endswith(":shuffled")]
    return PALETTE[(real.index(source) if source in real else len(real)) % len(PALETTE)]


def series_figure(series: dict, height: int = 460, font_size: int | None = None):
    """A series (`idim series`): d90 with its 95 % interval against the amount of pre-training (log x; from
    scratch drawn at the left edge), one line per source, the shuffled-label control beside the real source
    (grey, dashed); or against the mlp's width when the series varies it.  Each point's run id is in its
    customdata (the page links it).  Points without a d90 are drawn where they are known to lie: ≤ (below the
    smallest d tried) as a down-triangle at that d, > max d as an up-triangle at the largest d tried."""
    import plotly.graph_objects as go

    by_width = series.get("axis") == "width"
    entries = [e for e in series["entries"] if e.get("run_id")]
    fig = go.Figure()
    xs_all = [e["width"] if by_width else e["pretrain_epochs"] for e in entries]
    pos = [x for x in xs_all if x]
    zero_at = (min(pos) / 3 if pos else 1) if not by_width else None  # from scratch on a log axis

    def xof(e):
        x = e["width"] if by_width else e["pretrain_epochs"]
        return x if x else zero_at

    if by_width:
        groups = {}
        for e in entries:
            groups.setdefault((e["pretrain"] if e["pretrain_epochs"] else "from scratch", e["pretrain_epochs"]),
                              []).append(e)
        names = {k: ("from scratch" if not k[1] else f"{k[1]} epochs of {k[0]}") for k in groups}
    else:
        srcs = series.get("sources") or sorted({e["pretrain"] for e in entries})
        scratch = [e for e in entries if not e["pretrain_epochs"]]
        groups = {(s, None): scratch + [e for e in entries if e["pretrain"] == s and e["pretrain_epochs"]]
                  for s in srcs}
        names = {k: plain_task(k[0]) for k in groups}
    if by_width:
        names = {k: ("from scratch" if not k[1] else f"{k[1]} epochs of {plain_task(k[0])}") for k in groups}
    for i, (k, rows) in enumerate(groups.items()):
        control = str(k[0]).endswith(":shuffled")
        colour = C_CHANCE if control else _source_colour(series, k[0]) if not by_width else PALETTE[i % len(PALETTE)]
        rows = sorted(rows, key=xof)
        ok = [e for e in rows if e.get("d90_status") == "found"]
        ys = [e["d90_interpolated"] for e in ok]
        lo = [max(0.0, y - (e["d90_ci"][0] if e.get("d90_ci") and e["d90_ci"][0] is not None else y))
              for y, e in zip(ys, ok)]
        hi = [max(0.0, (e["d90_ci"][1] if e.get("d90_ci") and e["d90_ci"][1] is not None else y) - y)
              for y, e in zip(ys, ok)]
        fig.add_trace(go.Scatter(
            x=[xof(e) for e in ok], y=ys, mode="lines+markers", name=names[k],
            error_y=dict(type="data", symmetric=False, array=hi, arrayminus=lo, visible=True),
            marker=dict(color=colour, size=11, symbol="square" if control else "circle"),
            line=dict(color=colour, width=2, dash="dash" if control else "solid"),
            customdata=[[e["run_id"], e["pretrain_epochs"], e.get("width") or "", e.get("baseline") or 0] for e in ok],
            meta={"role": "control" if control else "series", "source": k[0]},
            hovertemplate="%{customdata[1]} epochs, width %{customdata[2]}<br>d90 ≈ %{y:,.0f}<br>baseline "
                          "%{customdata[3]:.3f}<br>run %{customdata[0]}<extra></extra>"))
        edge = [e for e in rows if e.get("d90_status") in ("below_grid", "not_reached")]
        if edge:
            fig.add_trace(go.Scatter(
                x=[xof(e) for e in edge], y=[e.get("d90_upper") or e.get("d90") or 1 for e in edge], mode="markers",
                name=names[k] + ": ≤ smallest d / > max d", showlegend=False,
                marker=dict(color=colour, size=12, symbol=["triangle-down" if e["d90_status"] == "below_grid"
                                                           else "triangle-up" for e in edge]),
                customdata=[[e["run_id"], e["d90_status"]] for e in edge], meta={"role": "edge"},
                hovertemplate="%{customdata[1]}<br>run %{customdata[0]}<extra></extra>"))
    ticks = sorted({xof(e) for e in entries})
    fig.update_layout(
        height=height, margin=dict(l=10, r=10, t=40, b=10),
        xaxis=dict(type="log", title="hidden width of the mlp (log scale)" if by_width else
                   "epochs of pre-training (log scale; 0 = from scratch)", tickvals=ticks,
                   ticktext=[("0" if (t == zero_at and not by_width) else f"{t:,}") for t in ticks]),
        yaxis=dict(type="log", title="d90 (95 % interval, log scale)", tickformat=","),
        legend=dict(orientation="h", yanchor="top", y=-0.18, x=0),
        uirevision=series["series"], meta={"series": series["series"], "axis": series.get("axis")},
    )
    if font_size:
        fig.update_layout(font=dict(size=font_size))
    return fig


def series_accuracy_figure(series: dict, height: int = 380, font_size: int | None = None):
    """The series' second panel: the target's full-training accuracy against d90, one point per amount of
    pre-training (its label), one colour per source (the control grey).  Aghajanyan et al. (2021) found that
    a lower d90 goes with better accuracy after fine-tuning; here each point's run is in its customdata.
    Entries without a found d90 are left out (their d90 is a bound, not a point)."""
    import plotly.graph_objects as go

    by_width = series.get("axis") == "width"
    fig = go.Figure()
    entries = [e for e in series["entries"] if e.get("run_id") and e.get("d90_status") == "found"
               and e.get("baseline") is not None]
    groups: dict = {}
    for e in entries:
        key = ("from scratch" if not e["pretrain_epochs"] else e["pretrain"]) if not by_width else \
            f"width {e.get('width')}"
        groups.setdefault(key, []).append(e)
    for i, (name, rows) in enumerate(groups.items()):
        control = str(name).endswith(":shuffled")
        colour = (C_CHANCE if control else C_SCRATCH if name == "from scratch" else
                  PALETTE[i % len(PALETTE)] if by_width else _source_colour(series, name))
        rows = sorted(rows, key=lambda e: e["d90_interpolated"])
        fig.add_trace(go.Scatter(
            x=[e["d90_interpolated"] for e in rows], y=[e["baseline"] for e in rows], mode="markers+text",
            name=_h(plain_task(name) if name != "from scratch" and not by_width else name),
            text=[f"{e['pretrain_epochs']} ep" for e in rows], textposition="top center",
            marker=dict(color=colour, size=12, symbol="square" if control else "circle"),
            customdata=[[e["run_id"], e["pretrain_epochs"]] for e in rows],
            meta={"role": "control" if control else "series", "source": name},
            hovertemplate="%{customdata[1]} epochs<br>d90 ≈ %{x:,.0f}<br>accuracy %{y:.3f}<br>run "
                          "%{customdata[0]}<extra></extra>"))
    fig.update_layout(
        height=height, margin=dict(l=10, r=10, t=40, b=10),
        xaxis=dict(type="log", title="d90 (log scale)", tickformat=","),
        yaxis=dict(title="target accuracy, full training (test)", tickformat=".2f"),
        legend=dict(orientation="h", yanchor="top", y=-0.2, x=0),
        uirevision=series["series"] + ":accuracy", meta={"series": series["series"], "panel": "accuracy"},
    )
    if font_size:
        fig.update_layout(font=dict(size=font_size))
    return fig


def series_probe_figure(series: dict, height: int = 340, font_size: int | None = None):
    """The readout control of a series: per entry, the linear probe on the frozen start (test accuracy, mean over
    seeds) beside that run's threshold.  Where the probe alone clears the threshold, d90 counts directions beyond
    the readout, not the task.  None when no entry has a probe (series recorded before the probe)."""
    import plotly.graph_objects as go

    entries = [e for e in series["entries"] if e.get("run_id") and e.get("probe_accuracy") is not None]
    if not entries:
        return None
    names = [("from scratch" if not e["pretrain_epochs"] else
              f"{e['pretrain_epochs']} ep of {plain_task(e['pretrain'])}")
             + (f", width {e['width']}" if series.get("axis") == "width" else "") for e in entries]
    fig = go.Figure()
    fig.add_trace(go.Bar(x=names, y=[e["probe_accuracy"] for e in entries], name="linear probe on the frozen start",
                         marker_color=[C_CHANCE if str(e["pretrain"]).endswith(":shuffled") and e["pretrain_epochs"]
                                       else _source_colour(series, e["pretrain"]) if e["pretrain_epochs"] else
                                       C_SCRATCH for e in entries],
                         customdata=[[e["run_id"], "clears" if e.get("probe_clears") else "below"] for e in entries],
                         meta={"role": "probe"},
                         hovertemplate="probe %{y:.3f} (%{customdata[1]} the threshold)<br>run %{customdata[0]}"
                                       "<extra></extra>"))
    fig.add_trace(go.Scatter(x=names, y=[e.get("threshold") for e in entries], mode="markers",
                             name="threshold (0.9 × full training)", meta={"role": "threshold"},
                             marker=dict(symbol="line-ew-open", size=40, color="#d62728", line=dict(width=3))))
    fig.update_layout(
        height=height, margin=dict(l=10, r=10, t=40, b=10), barmode="group",
        yaxis=dict(title="test accuracy", tickformat=".2f", range=[0, 1]),
        legend=dict(orientation="h", yanchor="top", y=-0.25, x=0),
        uirevision=series["series"] + ":probe", meta={"series": series["series"], "panel": "probe"})
    if font_size:
        fig.update_layout(font=dict(size=font_size))
    return fig


def series_overlay(many: list[dict], height: int = 480, font_size: int | None = None):
    """Several series on one chart (Compare): each series' d90 lines, named by its id, target and sources.
    Series on different axes (pre-training amount, width) are not mixed: the first one's axis is kept."""
    import plotly.graph_objects as go

    fig = go.Figure()
    if not many:
        return fig
    axis = many[0].get("axis")
    for i, s in enumerate(x for x in many if x.get("axis") == axis):
        one = series_figure(s)
        for tr in one.data:
            tr.name = _h(f"{s['series']} ({s['task']}): ") + (tr.name or "")
            if tr.meta and tr.meta.get("role") != "control":
                tr.marker.color = PALETTE[i % len(PALETTE)]
                tr.line.color = PALETTE[i % len(PALETTE)]
            tr.legendgroup = s["series"]
            fig.add_trace(tr)
        if i == 0:
            fig.update_layout(xaxis=one.layout.xaxis, yaxis=one.layout.yaxis)
    fig.update_layout(height=height, margin=dict(l=10, r=10, t=40, b=10),
                      legend=dict(orientation="h", yanchor="top", y=-0.18, x=0),
                      meta={"series": [s["series"] for s in many], "axis": axis})
    if font_size:
        fig.update_layout(font=dict(size=font_size))
    return fig


def series_csv(series: dict) -> str:
    """A series as CSV (one row per amount), formulas escaped like every export."""
    import csv
    import io

    from ..results import csv_cell

    cols = ["series", "model", "task", "pretrain", "pretrain_epochs", "width", "run_id", "status", "baseline",
            "threshold", "d90", "d90_interpolated", "d90_ci_low", "d90_ci_high", "d90_status", "seeds"]
    buf = io.StringIO()
    w = csv.writer(buf)
    w.writerow(cols)
    for e in series["entries"]:
        ci = e.get("d90_ci") or [None, None]
        row = {**e, "series": series["series"], "model": series["model"], "task": series["task"],
               "d90_ci_low": ci[0], "d90_ci_high": ci[1]}
        w.writerow([csv_cell(row.get(c)) for c in cols])
    return buf.getvalue()
