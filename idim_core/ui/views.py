"""App side: how a run reads (labels, tables, d90 sentences, exports) and the papers' own figures."""
from __future__ import annotations

import json
import time

from ..common import env_seconds
from ..runconfig import DEFAULTS, RunConfig, is_auto
from ..store import Store
from . import serving
from .text import plain_task

REFRESH_SECONDS = env_seconds("IDIM_REFRESH_S", 2.0, low=0.5)  # how often Live polls the store
# While trials finish faster than this, Live's chart is redrawn at most this often (the status and the
# progress line still follow every refresh): a redraw is most of what an open tab costs the machine.
CHART_SECONDS = env_seconds("IDIM_CHART_S", 2 * REFRESH_SECONDS, low=0.0)


def chart_due(last: dict | None, fixed: tuple, done: int, now: float, every: float | None = None) -> bool:
    """Whether Live should draw a new chart.  ``fixed``: what must show at once (the status, presenter
    view); ``done``: how many trials have finished, a change of which may wait until the last redraw
    (``last``: {"fixed", "done", "t"}) is ``every`` seconds old (default CHART_SECONDS)."""
    if last is None or last["fixed"] != fixed:
        return True
    if last["done"] == done:
        return False
    return now - last["t"] >= (CHART_SECONDS if every is None else every)


def run_label(run: dict) -> str:
    stored = run["config"]
    rec = " · recorded" if stored.get("recorded") else ""
    shuf = "".join(f" · shuffled {k}" for k in ("labels", "pixels") if stored.get(f"shuffle_{k}"))
    pre = (f" · after {stored['pretrain_epochs']} epochs on {plain_task(stored.get('pretrain'))}"
           if stored.get("pretrain") and stored.get("pretrain_epochs") else "")
    return (f"{run['id']} · {serving.shown(stored['model'])} · "
            f"{plain_task(serving.shown(stored['task']))}{shuf}{pre} · "
            f"{stored['method'].upper()} · {run['status']}{rec}")


def runs_table(store: Store, limit: int | None = None) -> list[dict]:
    """One row per run: what the Runs page shows (empty cells are blank, never "None")."""
    from .. import d90 as d90mod
    from ..results import result

    rows = []
    for r in store.list_runs(limit):
        res = result(store, r["id"], ci=False)
        stored = res["config"]
        rows.append({
            "run": r["id"],
            "status": res["status"],
            "model": serving.shown(res["model"]),
            "task": plain_task(serving.shown(res["task"])),
            "d90": d90mod.short(res).replace("—", ""),  # early: on screen at 1280 px
            "pre-training": (f"{stored['pretrain_epochs']} epochs on {plain_task(stored.get('pretrain'))}"
                             if stored.get("pretrain") and stored.get("pretrain_epochs") else
                             "from scratch (series)" if stored.get("series") else ""),
            "method": res["method"].upper(),
            "projection": res["projection"] if res.get("axis", "d") == "d" else "",
            "levels": levels_text(res, projection=False, compact=True),
            "trials": len(res["points"]),
            "baseline": res["baseline_accuracy"],
            "created": time.strftime("%Y-%m-%d %H:%M", time.localtime(res["created"])),
            "recorded": "recorded" if res["config"].get("recorded") else "",
        })
    return rows


def _stored(res_or_cfg) -> dict:
    """The stored form of a run's settings: from a result's "config", a stored config, or a RunConfig."""
    if isinstance(res_or_cfg, RunConfig):
        return res_or_cfg.to_dict()
    return res_or_cfg.get("config", res_or_cfg)


def is_classic(res_or_cfg) -> bool:
    stored = _stored(res_or_cfg)
    from ..classic import is_classic_model

    return is_classic_model(stored.get("model"))


def baseline_word(res_or_cfg: dict) -> str:
    """A from-scratch net is trained, not fine-tuned."""
    return "full training" if is_classic(res_or_cfg) else "full fine-tuning"


def accuracy_word(res: dict) -> str:
    stored = res.get("config") or {}
    return "training accuracy (memorised labels)" if stored.get("shuffle_labels") else "test accuracy"


def d90_text(res: dict) -> str:
    from ..d90 import describe

    return describe(res, baseline_word(res))


def baseline_warning(res: dict) -> str | None:
    """A sentence when full fine-tuning itself did not learn the task (then there is no d90)."""
    from ..d90 import FLOOR_ADVICE, floor_of

    if res.get("d90_status") != "baseline_at_floor":
        return None
    b = res["baseline_accuracy"]
    floor = floor_of(res.get("chance"), res.get("majority"))
    word = baseline_word(res)
    return (f"{word[0].upper() + word[1:]} reached only {b:.3f}, not clearly above the {floor:.3f} of always "
            "guessing: the model did not learn this task with this budget, so there is no d90. "
            f"To try: {FLOOR_ADVICE}.")


def export_csv(res: dict) -> str:
    from ..results import export_csv as _csv  # the same format as `idim export`

    return serving.shown(_csv(res))  # served: no server folder in a download either


def export_json(res: dict) -> str:
    return serving.shown(json.dumps(res, indent=2) + "\n")


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

    a = pd.DataFrame(AGHAJANYAN_2021,
                     columns=["model", "SAID d90 · MRPC", "SAID d90 · QQP", "DID d90 · MRPC", "DID d90 · QQP"])
    li = pd.DataFrame(LI_2018, columns=["network and data", "D (parameters)", "d90"])
    return a, li


def point_and_interval(res: dict) -> tuple[float | None, list | None]:
    """A run's 90 % point in trainable parameters (d90 for DID/SAID) and its interval (claims.py)."""
    from ..claims import point_and_interval as pi

    return pi(res)


def compare_sentence(a: tuple[str, dict], b: tuple[str, dict]) -> str:
    """Which of two runs needs fewer trainable parameters to reach 90 %, as far as their intervals say
    (the verdict is claims.p90_order's)."""
    from ..claims import p90_order

    return p90_order(a, b).summary


def bound_rows(res: dict) -> list[dict]:
    """The generalisation table of a DID/SAID run: per d, train and test accuracy, the gap, the bound."""
    from ..bound import guarantee_text

    b = res.get("bound")
    if not b:
        return []
    stats = {s["d"]: s for s in res.get("stats") or []}
    def f(v, fmt=".3f"):
        return "" if v is None else format(v, fmt)

    rows = []
    for r in b["by_d"]:
        s = stats.get(r["d"], {})
        g = r.get("guaranteed") or {}
        chance = b.get("chance")
        rows.append({
            "d": f"{r['d']:,}", "train accuracy": f(s.get("train_mean")), "test accuracy": f(s.get("mean")),
            "gap (train − test)": f(s.get("gap_mean"), "+.3f"),
            "ε at 32 bits": f(r["epsilon"]["32"]),
            "expected test ≥ (32 bits, 95 %)": guarantee_text(g.get("32"), chance) if s.get("train_mean") is not None
            else "",
            "ε at 4 bits": f(r["epsilon"].get("4")),
            "expected test ≥ (4 bits, 95 %)": guarantee_text(g.get("4"), chance),
            "test accuracy, z at 4 bits": f((s.get("quantised_mean") or {}).get("4")),
        })
    return rows


def bound_missing(res: dict) -> str | None:
    """What a run's bound table lacks and how to get it (None when it has everything): runs without
    --claims-facts read training accuracy on a fixed subset and do not quantise z."""
    b = res.get("bound")
    if not b:
        return None
    rows = b.get("by_d") or []
    subset = max([r.get("train_n") or 0 for r in rows] or [0])
    quantised = any(r.get("quantised_train_accuracy") or r.get("quantised_test_accuracy") for r in rows)
    if not subset and quantised:
        return None
    said = []
    if subset:
        said.append(f"read training accuracy on a fixed {subset:,} of its {b['m']:,} training examples (standard "
                    f"error at most {0.5 / subset ** 0.5:.3f}: the 32-bit bound uses this estimate)")
    if not quantised:
        said.append("did not quantise z (the 4-bit columns: not measured)")
    return ("This run " + " and ".join(said) + ". To have every column, run it again with "
            "`--claims-facts` (Explore: Advanced → *Measure what the claims use*); it costs about 10 s more per "
            "language-model trial.")


BOUND_NOTE = ("**The bound** (Aghajanyan et al. 2021, §6, through the compression argument of Arora et al. 2018), "
              "in an explicit finite-class form for the 0-1 loss: **with 95 % probability, expected test accuracy "
              "≥ training accuracy − ε**, ε = √((d·b·ln 2 + R·ln 2 + ln(1/δ) + ln(K·S)) / (2m)), with b bits per "
              "number of z, R the quantiser's stored range (64 bits per quantised vector; SAID's scales are a "
              "second one; none at 32 bits), m training examples, K values of d tried, S seeds drawn (each draws "
              "its own P), δ = 0.05. It bounds the expected accuracy on new examples, not the test split's score, "
              "and reads **vacuous** when it promises no more than chance. It covers the model trained **in the "
              "subspace** (θ0 + P z, P fixed by its seed before the data are seen), not the fully fine-tuned one; "
              "Arora et al.'s margin and constants are dropped. At 4 bits the training accuracy that counts is the "
              "quantised model's own, measured on 512 training examples (runs recorded before it was kept give "
              "none: 'not measured'); the last column shows what quantising costs in test accuracy.")


# ---------------------------------------------------------------------------
# a run's levels, on its own axis (the registry says which: d, rank or single)
# ---------------------------------------------------------------------------
def levels_text(res_or_cfg, projection: bool = True, compact: bool = False) -> str:
    """What a run trains over, in its own words: "fastfood projection · d = 10, 100" for DID/SAID
    (without the projection: "d = 10, 100"), "ranks 1, 4" for LoRA and VeRA, "one point" for BitFit and
    head-only (no projection named: they have none).  ``compact``: more than five levels as
    "10 … 3,000 (10 values)", for a table column."""
    from ..methods import axis, level_word

    stored = _stored(res_or_cfg)
    kind = axis(stored.get("method") or DEFAULTS["method"])
    dims = stored.get("ranks") or stored.get("dims") if kind == "rank" else stored.get("dims")
    if kind == "single":
        return "one point"
    if is_auto(dims):
        levels = "automatic search"
    elif compact and len(dims or []) > 5:
        levels = f"{int(min(dims)):,} … {int(max(dims)):,} ({len(dims)} values)"
    else:
        levels = ", ".join(f"{int(d):,}" for d in dims or [])
    if kind == "rank":
        return f"{level_word(stored.get('method'))}{'s' if len(dims or []) != 1 else ''} {levels}"
    return (f"{stored.get('projection', 'fastfood')} projection · " if projection else "") + f"d = {levels}"


# ---------------------------------------------------------------------------
# Compare's "× d90": a ratio only where both ends are measured
# ---------------------------------------------------------------------------
def _ratio_number(x: float) -> str:
    if x >= 10:
        return f"{x:,.0f}"
    if x >= 1:
        return f"{x:.1f}"
    return f"{x:.2g}"


def ratio_cell(row: dict, ref_d90: float | None, none: str = "—") -> str:
    """A row of results.comparison against the reference run's interpolated d90: "12×" where the row's
    90 % point was interpolated, "≤ 489×" when only an upper bound is known (reached at the smallest size
    tried), "> 3×" when never reached (a lower bound: the largest size tried), ``none`` otherwise."""
    if not ref_d90:
        return none
    status = row.get("p90_status")
    if status == "found" and row.get("p90_interpolated"):
        return _ratio_number(row["p90_interpolated"] / ref_d90) + "×"
    if status == "below_grid" and row.get("p90_upper"):
        return "≤ " + _ratio_number(row["p90_upper"] / ref_d90) + "×"
    if status == "not_reached" and row.get("params"):
        return "> " + _ratio_number(max(row["params"]) / ref_d90) + "×"
    return none


# ---------------------------------------------------------------------------
# every page: app.py injects APP_CSS (st.html of style tags alone takes no room on the page)
# ---------------------------------------------------------------------------
# Streamlit's progress bar glides to each new value (a 0.5 s CSS transition). Live gives its bars a new value
# at every refresh, and a browser drawing without a GPU repaints the page for each frame of the glide, taking CPU
# from the training it shows (bench/RESULTS.md, "Sixth pass"). The bars jump to their value instead.
APP_CSS = """<style>
[data-testid="stProgressBarTrack"] > div {transition: none !important;}
</style>"""


# ---------------------------------------------------------------------------
# presenter view (Live, Compare, Learn): ?present=1 or the toggle under the title
# ---------------------------------------------------------------------------
# Headline numbers larger than the normal view's 2.25 rem, the main column's text a step larger (the
# sidebar untouched), and less above the chart: a projector at 1280×720 shows the chart without scrolling.
PRESENTER_CSS = """<style>
[data-testid="stMain"] [data-testid="stMetricValue"] {font-size: 3rem !important; line-height: 1.15;}
[data-testid="stMain"] [data-testid="stMetricValue"] * {white-space: normal !important; overflow: visible !important;}
[data-testid="stMain"] [data-testid="stMetricLabel"] p {font-size: 1.3rem !important;}
[data-testid="stMain"] .stMarkdown p, [data-testid="stMain"] .stMarkdown li {font-size: 1.3rem;}
[data-testid="stMain"] h1 {font-size: 2.2rem !important; padding: 0 0 0.4rem 0 !important;}
[data-testid="stMainBlockContainer"] {padding-top: 3.2rem !important;}
</style>"""

