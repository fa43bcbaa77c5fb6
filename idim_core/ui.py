"""Helpers shared by the Streamlit pages: store access, the worker, estimates, figures.

Everything here is light: no torch, no transformers.  plotly, pandas and streamlit are
imported inside the functions that need them, so the engine stays importable without
the UI stack.  The pages call these helpers and hold no state of their own: every
render re-reads the store (the single source of truth).
"""
from __future__ import annotations

import json
import math
import os
import platform
import re
import shutil
import subprocess
import sys
import threading
import time
from pathlib import Path

from .errors import UserError
from .store import FINAL, Store, default_home

NO_AUTOSTART_ENV = "IDIM_NO_AUTOSTART_WORKER"
REFRESH_SECONDS = 2.0
ROOT = Path(__file__).resolve().parent.parent
EXAMPLE_RUN = ROOT / "assets" / "example_run.json"

# colours used consistently across figures
C_POINTS = "#1f77b4"
C_BASE = "#2ca02c"
C_THR = "#d62728"
C_CHANCE = "#7f7f7f"
C_MAJ = "#9467bd"
C_D90 = "#ff7f0e"
PALETTE = ["#1f77b4", "#ff7f0e", "#2ca02c", "#d62728", "#9467bd", "#8c564b", "#e377c2", "#17becf", "#bcbd22", "#7f7f7f"]


# ---------------------------------------------------------------------------
# store access
# ---------------------------------------------------------------------------
_local = threading.local()


def get_store() -> Store:
    """A Store for the current home ($IDIM_HOME or the per-user default).

    One connection per thread: a sqlite3 connection must not run transactions
    from two threads at once, and Streamlit runs each session in its own thread.
    """
    home = str(default_home())
    cache = getattr(_local, "stores", None)
    if cache is None:
        cache = _local.stores = {}
    store = cache.get(home)
    if store is None:
        store = cache[home] = Store(home)
    return store


# ---------------------------------------------------------------------------
# the worker
# ---------------------------------------------------------------------------
_last_start: dict[str, float] = {}
_start_lock = threading.Lock()


def ensure_worker(home: str | Path | None = None) -> str:
    """Start a background worker for this store unless one runs.

    Returns "running", "started" or "disabled" (IDIM_NO_AUTOSTART_WORKER=1).
    Two tabs racing here are harmless: the worker takes a file lock and a
    second one exits at once.
    """
    from .worker import worker_running

    if os.environ.get(NO_AUTOSTART_ENV, "").lower() in ("1", "true", "yes", "on"):
        return "disabled"
    home = Path(home) if home else default_home()
    key = str(home)
    with _start_lock:
        if worker_running(home):
            return "running"
        if time.time() - _last_start.get(key, 0.0) < 10.0:
            return "started"  # just started; it is still importing before it takes the lock
        home.mkdir(parents=True, exist_ok=True)
        log = open(home / "worker.log", "ab")
        env = dict(os.environ, IDIM_HOME=str(home))
        env.setdefault("TOKENIZERS_PARALLELISM", "false")
        subprocess.Popen([sys.executable, "-m", "idim_core.worker", str(home)], cwd=str(ROOT), env=env,
                         stdin=subprocess.DEVNULL, stdout=log, stderr=log, start_new_session=True,
                         close_fds=True)
        log.close()
        _last_start[key] = time.time()
        return "started"


# ---------------------------------------------------------------------------
# device (without importing torch)
# ---------------------------------------------------------------------------
_device_cache: dict[str, str] = {}


def detect_device() -> str:
    """What the worker will train on: 'cuda (GPU name)', 'mps' or 'cpu'.

    Decided without importing torch: the installed torch build (a "+cpu" build
    never uses a GPU), nvidia-smi for CUDA, Apple silicon for MPS.  Cached.
    """
    if "device" in _device_cache:
        return _device_cache["device"]
    device = "cpu"
    try:
        from importlib import metadata, util

        has_torch = util.find_spec("torch") is not None
        version = metadata.version("torch") if has_torch else ""
    except Exception:
        has_torch, version = False, ""
    if has_torch and "+cpu" not in version and shutil.which("nvidia-smi"):
        try:
            out = subprocess.run(["nvidia-smi", "--query-gpu=name", "--format=csv,noheader"],
                                 capture_output=True, text=True, timeout=5)
            names = [n.strip() for n in out.stdout.splitlines() if n.strip()]
            if out.returncode == 0 and names:
                device = f"cuda ({names[0]})"
        except (OSError, subprocess.SubprocessError):
            pass
    if device == "cpu" and has_torch and sys.platform == "darwin" and platform.machine() == "arm64":
        device = "mps"
    _device_cache["device"] = device
    return device


# ---------------------------------------------------------------------------
# estimates
# ---------------------------------------------------------------------------
AUTO_TRIALS_GUESS = 6  # an automatic search usually needs about this many d values
LOAD_SECONDS = 10.0


def _train_size(cfg: dict) -> int:
    from .tasks import resolve

    if cfg.get("max_train"):
        return int(cfg["max_train"])
    try:
        size = resolve(cfg["task"]).size
    except UserError:
        size = None
    return int(0.8 * size) if size else 1024


def steps_per_trial(cfg: dict) -> int:
    steps = math.ceil(float(cfg["epochs"]) * _train_size(cfg) / int(cfg["batch_size"]))
    if cfg.get("max_steps"):
        steps = min(steps, int(cfg["max_steps"]))
    return max(1, steps)


def seconds_per_step(cfg: dict, device: str = "cpu") -> float:
    """Rough seconds per optimiser step of full fine-tuning (measured on a 2-core CPU)."""
    from .classic import is_classic_model
    from .models import resolve

    if is_classic_model(cfg["model"]):  # measured: about 6 ms (mlp) and 10 ms (lenet) per step of 64 images
        t = (0.006 if cfg["model"] == "mlp" else 0.010) * int(cfg["batch_size"]) / 64
        return t / 3 if device.startswith("cuda") else t
    try:
        layers = resolve(cfg["model"]).layers or 12
    except UserError:
        layers = 12
    scale = int(cfg["batch_size"]) * int(cfg["max_length"]) / (32 * 64)
    t = (0.13 * layers + 0.05) * scale
    return t / 10 if device.startswith("cuda") else t


def planned_trials(cfg: dict) -> int:
    dims = cfg["dims"]
    n = AUTO_TRIALS_GUESS if dims == "auto" else len(dims)
    return n * int(cfg["seeds"])


def eval_steps_per_trial(cfg: dict) -> float:
    """Evaluation cost of one trial, in training-step equivalents.

    The trainer evaluates on the validation split once per epoch and on the test
    split once at the end; a forward pass costs about a third of a training step.
    """
    evals = max(1.0, float(cfg["epochs"])) + 1
    n_eval = int(cfg["max_eval"]) if cfg.get("max_eval") else max(8, _train_size(cfg) // 8)
    return evals * (n_eval / int(cfg["batch_size"])) / 3


def estimate_seconds(cfg: dict, device: str = "cpu") -> float:
    """A rough wall-time estimate of a whole run: loading + baseline + subspace trials.

    Per optimiser step on a 2-core CPU: about 0.13 s per transformer layer + 0.05 s
    (batch 32 x 64 tokens, scaled linearly), subspace steps about 1.1x that, a tenth
    of it on a GPU.  Nothing else running on the machine is assumed.
    """
    per = seconds_per_step(cfg, device)
    work = steps_per_trial(cfg) + eval_steps_per_trial(cfg)
    from .classic import is_classic_model

    load = 1.0 if is_classic_model(cfg["model"]) else LOAD_SECONDS
    return load + work * per + planned_trials(cfg) * work * per * 1.1


def time_left(run: dict, trials: list[dict], now: float | None = None) -> float | None:
    """Seconds left for the whole run, from the speed measured so far (None if unknown)."""
    if run["status"] in FINAL:
        return 0.0
    now = now or time.time()
    cfg = run["config"]
    finished = [t for t in trials if t["status"] in ("done", "diverged") and t.get("seconds") and t.get("steps")]
    sub_done = [t for t in finished if t["kind"] == "subspace"]
    base_done = [t for t in finished if t["kind"] == "baseline"]
    current = next((t for t in reversed(trials) if t["status"] == "running"), None)
    # seconds per step of a subspace trial
    if sub_done:
        rate = sum(t["seconds"] for t in sub_done) / sum(t["steps"] for t in sub_done)
    elif base_done:
        rate = 1.3 * base_done[0]["seconds"] / base_done[0]["steps"]
    elif current and (current.get("steps") or 0) >= 5 and current.get("started"):  # a few steps: setup amortised
        rate = (now - current["started"]) / current["steps"] * (1.3 if current["kind"] == "baseline" else 1.0)
    else:
        rate = seconds_per_step(cfg, run.get("device") or detect_device()) * 1.3
    steps = (current or {}).get("total_steps") or next((t["total_steps"] for t in finished if t.get("total_steps")), None) \
        or steps_per_trial(cfg)
    n_sub_done = len([t for t in trials if t["kind"] == "subspace" and t["status"] in ("done", "diverged")])
    planned = planned_trials(cfg)
    if cfg["dims"] == "auto":
        planned = max(planned, n_sub_done + int(cfg["seeds"]))
    left = 0.0
    if current is not None:
        cur_rate = rate / 1.3 if current["kind"] == "baseline" else rate
        left += max(0, (current.get("total_steps") or steps) - (current.get("steps") or 0)) * cur_rate
    base_pending = not base_done and not (current and current["kind"] == "baseline")
    if base_pending:
        left += steps * rate / 1.3 + (LOAD_SECONDS if run["status"] == "queued" else 0)
    remaining = planned - n_sub_done - (1 if current is not None and current["kind"] == "subspace" else 0)
    left += max(0, remaining) * steps * rate
    return left


def fmt_seconds(s: float | None) -> str:
    if s is None:
        return "unknown"
    s = max(0.0, float(s))
    if s < 60:
        return f"{s:.0f} s"
    if s < 3600:
        return f"{s / 60:.0f} min" if s >= 600 else f"{int(s // 60)} min {int(s % 60):02d} s"
    return f"{s / 3600:.1f} h"


# ---------------------------------------------------------------------------
# dimension grids
# ---------------------------------------------------------------------------
GRID_STOPS = [10, 30, 100, 300, 1_000, 3_000, 10_000, 30_000, 100_000, 300_000, 1_000_000]


def log_grid(lo: int, hi: int, per_decade: int = 1) -> list[int]:
    """d values from lo to hi, evenly spaced in log d (1, 2 or 3 per decade: 1-3-10, 1-2-5-10)."""
    mantissas = {1: [1], 2: [1, 3], 3: [1, 2, 5]}.get(per_decade, [1])
    out = []
    for e in range(0, 8):
        for m in mantissas:
            v = m * 10**e
            if lo <= v <= hi:
                out.append(v)
    for v in (lo, hi):
        if v not in out:
            out.append(v)
    return sorted(set(out))


# ---------------------------------------------------------------------------
# run views
# ---------------------------------------------------------------------------
def run_label(run: dict) -> str:
    cfg = run["config"]
    rec = " · recorded" if cfg.get("recorded") else ""
    shuf = "".join(f" · shuffled {k}" for k in ("labels", "pixels") if cfg.get(f"shuffle_{k}"))
    return f"{run['id']} · {cfg['model']} · {cfg['task']}{shuf} · {cfg['method'].upper()} · {run['status']}{rec}"


def current_trial(trials: list[dict]) -> dict | None:
    return next((t for t in reversed(trials) if t["status"] == "running"), None)


def runs_table(store: Store, limit: int | None = None) -> list[dict]:
    """One row per run: what the Runs page shows (empty cells are blank, never "None")."""
    from . import d90 as d90mod
    from .results import result

    rows = []
    for r in store.list_runs(limit):
        res = result(store, r["id"], ci=False)
        rows.append({
            "run": r["id"],
            "status": res["status"],
            "model": res["model"],
            "task": res["task"],
            "method": res["method"].upper(),
            "projection": res["projection"],
            "trials": len(res["points"]),
            "baseline": res["baseline_accuracy"],
            "d90": d90mod.short(res).replace("—", ""),
            "created": time.strftime("%Y-%m-%d %H:%M", time.localtime(res["created"])),
            "recorded": "recorded" if res["config"].get("recorded") else "",
        })
    return rows


def is_classic(res_or_cfg: dict) -> bool:
    cfg = res_or_cfg.get("config", res_or_cfg)
    return cfg.get("model") in ("mlp", "lenet")


def baseline_word(res_or_cfg: dict) -> str:
    """A from-scratch net is trained, not fine-tuned."""
    return "full training" if is_classic(res_or_cfg) else "full fine-tuning"


def accuracy_word(res: dict) -> str:
    cfg = res.get("config") or {}
    return "training accuracy (memorised labels)" if cfg.get("shuffle_labels") else "test accuracy"


def d90_text(res: dict) -> str:
    from .d90 import describe

    return describe(res, baseline_word(res))


def baseline_warning(res: dict) -> str | None:
    """A sentence when full fine-tuning itself did not learn the task (then there is no d90)."""
    from .d90 import FLOOR_ADVICE, floor_of

    if res.get("d90_status") != "baseline_at_floor":
        return None
    b = res["baseline_accuracy"]
    floor = floor_of(res.get("chance"), res.get("majority"))
    word = baseline_word(res)
    return (f"{word[0].upper() + word[1:]} reached only {b:.3f}, not clearly above the {floor:.3f} of always "
            f"guessing: the model did not learn this task with this budget, so there is no d90. To try: {FLOOR_ADVICE}.")


def export_csv(res: dict) -> str:
    from .results import export_csv as _csv  # the same format as `idim export`

    return _csv(res)


def export_json(res: dict) -> str:
    return json.dumps(res, indent=2) + "\n"


# ---------------------------------------------------------------------------
# figures
# ---------------------------------------------------------------------------
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


def run_figure(res: dict, height: int = 460, font_size: int | None = None):
    """The live chart: accuracy against d (log), with baseline, threshold, chance and d90 (with its interval)."""
    import plotly.graph_objects as go

    fig = go.Figure()
    lo, hi = _x_range(res)
    word = baseline_word(res)
    rows = [r for r in res["by_d"] if r["mean"] is not None]
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
    b = res.get("baseline_accuracy")
    if b is not None:
        bs = res.get("baseline_accuracies") or [b]
        spread = res.get("baseline_std") or 0.0
        if len(bs) > 1:  # the baseline's spread over seeds, as a band
            fig.add_trace(go.Scatter(x=[lo, hi, hi, lo], y=[b - spread, b - spread, b + spread, b + spread],
                                     fill="toself", mode="none", fillcolor="rgba(44,160,44,0.15)",
                                     name=f"{word}: ± std over {len(bs)} seeds", meta={"role": "baseline_band"},
                                     hoverinfo="name"))
        name = f"{word} ({b:.3f}" + (f", mean of {len(bs)} seeds)" if len(bs) > 1 else ")")
        fig.add_trace(go.Scatter(x=[lo, hi], y=[b, b], mode="lines", name=name,
                                 line=dict(color=C_BASE, width=2), meta={"role": "baseline", "value": b},
                                 hoverinfo="name"))
        thr = res["threshold"]
        fig.add_trace(go.Scatter(x=[lo, hi], y=[thr, thr], mode="lines", name=f"threshold: 0.9 × {word} ({thr:.3f})",
                                 line=dict(color=C_THR, width=2, dash="dash"), meta={"role": "threshold", "value": thr},
                                 hoverinfo="name"))
    for key, label, colour in (("chance", "chance", C_CHANCE), ("majority", "majority class", C_MAJ)):
        v = res.get(key)
        if v is None or (key == "majority" and res.get("chance") is not None and abs(v - res["chance"]) < 0.005):
            continue
        fig.add_trace(go.Scatter(x=[lo, hi], y=[v, v], mode="lines", name=f"{label} ({v:.3f})",
                                 line=dict(color=colour, width=1.5, dash="dot"), meta={"role": key, "value": v},
                                 hoverinfo="name"))
    ys = [r["mean"] for r in rows] + [v for v in (b, res.get("chance"), res.get("majority")) if v is not None]
    y0 = max(0.0, min(ys + [0.5]) - 0.05)
    y1 = min(1.02, max(ys + [0.6]) + 0.05)
    status = res.get("d90_status")
    marker_x = res.get("d90_interpolated") if status == "found" else res.get("d90_upper") if status == "below_grid" else None
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
                name="d90: 95 % interval (" + (f"{ci[0]:,.0f}" if ci[0] is not None else "?") + " – "
                     + (f"{ci[1]:,.0f}" if ci[1] is not None else "> max d") + ")",
                line=dict(color=C_D90, width=6), marker=dict(symbol="line-ns", size=14, line=dict(width=3, color=C_D90)),
                opacity=0.55, meta={"role": "d90_ci", "low": ci[0], "high": ci[1]}, hoverinfo="name"))
        fig.add_annotation(x=math.log10(marker_x), y=y1, text=label, showarrow=False, yanchor="bottom",
                           font=dict(color=C_D90, size=(font_size or 14)))
    elif b is not None and rows:
        fig.add_annotation(x=1, xref="paper", y=y1, text=d90_text(res).split(":")[0].split(" (")[0], showarrow=False,
                           xanchor="right", yanchor="bottom", font=dict(color=C_D90, size=(font_size or 14)))
    fig.update_layout(
        height=height, margin=dict(l=10, r=10, t=40, b=10),
        xaxis=dict(type="log", title="d: trained dimensions (log scale)", range=[math.log10(lo), math.log10(hi)],
                   dtick=1, tickformat=","),
        yaxis=dict(title=accuracy_word(res), range=[y0, y1 + 0.03], automargin=True),
        legend=dict(orientation="h", yanchor="top", y=-0.18, x=0),
        uirevision=res["run_id"],  # keep the user's zoom across live updates
        meta={"run_id": res["run_id"], "d90": res.get("d90"), "d90_interpolated": res.get("d90_interpolated"),
              "d90_status": status},
    )
    if font_size:
        fig.update_layout(font=dict(size=font_size))
    return fig


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
        cfg = res.get("config") or {}
        shuf = "".join(f" · shuffled {k}" for k in ("labels", "pixels") if cfg.get(f"shuffle_{k}"))
        name = f"{res['model']} · {res['task']}{shuf} · {res['method'].upper()} ({res['run_id'][:6]})"
        fig.add_trace(go.Scatter(
            x=[r["d"] for r in rows], y=[r["mean"] / scale for r in rows], mode="lines+markers", name=name,
            legendgroup=res["run_id"], marker=dict(color=colour, size=9), line=dict(color=colour),
            error_y=dict(type="data", array=[(r["std"] or 0) / scale for r in rows], visible=True),
            meta={"role": "points", "run_id": res["run_id"]}))
        if not normalise and b is not None:
            any_thr = True
            fig.add_trace(go.Scatter(x=[lo, hi], y=[0.9 * b] * 2, mode="lines", legendgroup=res["run_id"],
                                     name=f"0.9 × full ({res['run_id'][:6]})", showlegend=False,
                                     line=dict(color=colour, dash="dash", width=1),
                                     meta={"role": "threshold", "run_id": res["run_id"]}))
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


def plan_figure(cfg: dict, D: int | None, height: int = 150):
    """Where a planned run's trials lie on the log-d axis, with D (full fine-tuning) marked."""
    import plotly.graph_objects as go

    dims = cfg["dims"] if cfg["dims"] != "auto" else []
    fig = go.Figure()
    if dims:
        fig.add_trace(go.Scatter(x=dims, y=[0] * len(dims), mode="markers+text", text=[f"{d:,}" for d in dims],
                                 textposition="top center", marker=dict(color=C_POINTS, size=11),
                                 name="planned d", hovertemplate="d=%{x:,}<extra></extra>"))
    else:
        lo, hi = 10, int(cfg.get("max_d") or 100_000)
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
                      scene=dict(xaxis_title="θ₁", yaxis_title="θ₂", zaxis_title="θ₃", aspectmode="cube"))
    return fig


def figure_html(fig, res: dict | None = None) -> str:
    """A standalone HTML file (plotly.js embedded: opens offline), titled with the run's details."""
    import copy

    fig = copy.deepcopy(fig)
    if res is not None:
        cfg = res.get("config") or {}
        dims = "automatic search" if cfg.get("dims") == "auto" else f"{len(cfg.get('dims') or [])} values of d"
        title = (f"idim run {res['run_id']}: {res['model']} on {res['task']}, {res['method'].upper()}, "
                 f"{res['projection']} projection")
        sub = (f"{dims}, {cfg.get('seeds', 1)} seed(s), {cfg.get('epochs')} epochs · {d90_text(res)}"
               + (" · recorded" if cfg.get("recorded") else ""))
        fig.update_layout(title=dict(text=f"{title}<br><sup>{sub}</sup>", x=0.01, xanchor="left"))
    fig.update_layout(margin=dict(l=80, r=30, t=90, b=40), height=max(560, fig.layout.height or 0))
    fig.update_yaxes(automargin=True)
    fig.update_xaxes(automargin=True)
    return fig.to_html(include_plotlyjs=True, full_html=True)


# ---------------------------------------------------------------------------
# published reference figures (DESIGN.md section 1): never measured here
# ---------------------------------------------------------------------------
AGHAJANYAN_2021 = [
    # model, SAID MRPC, SAID QQP, DID MRPC, DID QQP
    ("BERT-Base", 1608, 8030, 1861, 9295),
    ("BERT-Large", 1037, 1200, 2493, 1389),
    ("RoBERTa-Base", 896, 896, 1000, 1389),
    ("RoBERTa-Large", 207, 774, 322, 774),
]
LI_2018 = [
    # network / data, D, d90
    ("MNIST, fully connected 784-200-200-10", "≈199k", "≈750"),
    ("MNIST, LeNet", "≈44k", "≈290"),
    ("CIFAR-10, LeNet", "≈62k", "≈2,900"),
    ("MNIST with shuffled labels, fully connected", "≈199k", "≈190k"),
]
REF_AGHAJANYAN = ("Aghajanyan, Zettlemoyer, Gupta (2021). Intrinsic Dimensionality Explains the Effectiveness "
                  "of Language Model Fine-Tuning. ACL 2021. arXiv:2012.13255")
REF_LI = ("Li, Farkhoor, Liu, Yosinski (2018). Measuring the Intrinsic Dimension of Objective Landscapes. "
          "ICLR 2018. arXiv:1804.08838")


def reference_frames():
    """(Aghajanyan et al. Table 1, Li et al. figures) as pandas DataFrames."""
    import pandas as pd

    a = pd.DataFrame(AGHAJANYAN_2021, columns=["model", "SAID d90 · MRPC", "SAID d90 · QQP", "DID d90 · MRPC", "DID d90 · QQP"])
    li = pd.DataFrame(LI_2018, columns=["network and data", "D (parameters)", "d90"])
    return a, li


# ---------------------------------------------------------------------------
# new-run form helpers
# ---------------------------------------------------------------------------
def preflight_isolated(cfg: dict, timeout: float = 120.0) -> None:
    """Run sweep.preflight in a subprocess for hub/local models and non-bundled tasks.

    Checking a hub model imports transformers (and counting its parameters imports
    torch); doing that in a child process keeps the UI process light.  Bundled
    models and tasks are checked in-process (no heavy import).  Raises UserError.
    """
    from . import models, tasks
    from .runconfig import preflight

    try:
        light = (models.resolve(cfg["model"]).source in ("bundled", "classic")
                 and tasks.resolve(cfg["task"]).source in ("bundled", "image"))
    except UserError:
        raise
    if light:
        preflight(cfg)
        return
    code = ("import json,sys\nfrom idim_core.errors import UserError\nfrom idim_core.runconfig import preflight\n"
            "try:\n    preflight(json.loads(sys.stdin.read()))\nexcept UserError as e:\n    print(e); sys.exit(2)\n")
    env = dict(os.environ)
    env.setdefault("TOKENIZERS_PARALLELISM", "false")
    try:
        out = subprocess.run([sys.executable, "-c", code], input=json.dumps(cfg), capture_output=True, text=True,
                             timeout=timeout, cwd=str(ROOT), env=env)
    except subprocess.TimeoutExpired:
        raise UserError(f"checking {cfg['model']} took more than {timeout:.0f} s; check your connection, "
                        "or use a bundled model such as minilm-l6") from None
    if out.returncode == 2:
        raise UserError(out.stdout.strip().splitlines()[-1] if out.stdout.strip() else "the model check failed")
    if out.returncode != 0:
        last = (out.stderr.strip().splitlines() or ["unknown error"])[-1]
        raise UserError(f"the model check failed ({last})")


# ---------------------------------------------------------------------------
# your own CSV: uploads are kept in the store directory, so the worker reads them
# ---------------------------------------------------------------------------
def save_upload(home, name: str, data: bytes) -> Path:
    """Write an uploaded CSV under <store>/uploads/ (content-addressed; the same file is kept once)."""
    import hashlib

    from .tasks import CSV_MAX_BYTES

    if len(data) > CSV_MAX_BYTES:
        raise UserError(f"{name} is {len(data) / 2**20:.0f} MiB; the limit is {CSV_MAX_BYTES / 2**20:.0f} MiB")
    if not data.strip():
        raise UserError(f"{name} is empty")
    stem = re.sub(r"[^A-Za-z0-9._-]+", "_", Path(name).stem)[:40] or "upload"
    folder = Path(home) / "uploads"
    folder.mkdir(parents=True, exist_ok=True)
    path = folder / f"{stem}-{hashlib.sha256(data).hexdigest()[:12]}.csv"
    if not path.exists():
        tmp = path.with_suffix(".part")
        tmp.write_bytes(data)
        tmp.replace(path)
    return path


def csv_preview(path, rows: int = 5):
    """(columns, first rows as a DataFrame) of a CSV, or a UserError that says what is wrong."""
    import csv as _csv

    import pandas as pd

    from .tasks import CSV_MAX_BYTES

    p = Path(path).expanduser()
    if not p.is_file():
        raise UserError(f"CSV file {p} does not exist")
    if p.stat().st_size > CSV_MAX_BYTES:
        raise UserError(f"{p} is {p.stat().st_size / 2**20:.0f} MiB; the limit is {CSV_MAX_BYTES / 2**20:.0f} MiB")
    with open(p, "rb") as f:
        head = f.read(256 * 1024)
    try:
        text = head.decode("utf-8-sig")
    except UnicodeDecodeError as e:
        if e.start < len(head) - 4:  # not just a character cut at the end of the sample
            raise UserError(f"{p} is not UTF-8 text; re-save it as UTF-8 CSV") from None
        text = head[: e.start].decode("utf-8-sig")
    if "\x00" in text:
        raise UserError(f"{p} is not a CSV text file")
    lines = text.splitlines()
    reader = _csv.reader(lines[: rows + 1 + 50])
    try:
        header = next(reader)
    except StopIteration:
        raise UserError(f"{p} is empty") from None
    if not any(c.strip() for c in header):
        raise UserError(f"{p} has no header row")
    body = []
    for r in reader:
        if len(body) >= rows:
            break
        body.append((r + [""] * len(header))[: len(header)])
    return header, pd.DataFrame(body, columns=header)


def guess_columns(header: list[str]) -> tuple[str, str | None, str]:
    """Sensible first choices for the text, second text and label columns."""
    low = [h.lower() for h in header]

    def pick(names, default):
        for n in names:
            if n in low:
                return header[low.index(n)]
        return default

    text = pick(("text", "sentence", "sentence1", "question", "review", "message", "document"), header[0])
    pair = pick(("text_pair", "sentence2", "hypothesis", "text2"), None)
    label = pick(("label", "labels", "class", "category", "target", "y"), header[-1])
    return text, pair, label


def task_facts(task: str, text_column=None, text_pair_column=None, label_column=None, max_length: int = 64) -> str:
    """One line about a task for the Explore page (task_stats caches the work; raises UserError for a bad CSV)."""
    from .tasks import task_stats

    s = task_stats(task, max_length, 0, text_column or "text", text_pair_column, label_column or "label")
    parts = [f"{s['num_labels']} classes" if s.get("num_labels") else None]
    if s.get("splits"):
        sp = s["splits"]
        parts.append(f"{sp['train']:,} / {sp['val']:,} / {sp['test']:,} train / validation / test")
    if s.get("chance"):
        parts.append(f"chance {s['chance']:.2f}")
    if s.get("majority") is not None:
        parts.append(f"majority class {s['majority']:.2f}")
    if s.get("avg_tokens"):
        parts.append(f"{s['avg_tokens']:.0f} tokens on average ({s['truncated']:.0%} cut at {max_length})")
    if s.get("input"):
        parts.append(s["input"])
    line = " · ".join(p for p in parts if p)
    if s.get("note"):
        line += f". {s['note'][0].upper()}{s['note'][1:]}."
    return line
