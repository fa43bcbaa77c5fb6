"""Every page, with every kind of run and every ready-made comparison, in the normal and the presenter view.

The store is real: small runs queued with the `idim` command line in a temporary home (the classic fully
connected net on scikit-learn's 8×8 digits) and trained by one `idim worker --once`: DID, LoRA, one that did
not learn (one optimiser step), one cancelled while queued, and a LoRA and a head-only run queued after the
worker left (no point yet); plus every recorded run shipped in assets/recorded/ (SAID, DID, LoRA, BitFit,
head-only, LeNet, shuffled labels and pixels, an untrained model that did not learn), loaded the way
Compare's ready-made buttons load them.  The app is told not to start a worker.  A page that raises
(``at.exception``), or stops before drawing what it always draws, fails the sweep; in the presenter view
every chart must carry large type and thick lines, drawn without Streamlit's chart theme.
"""
from __future__ import annotations

import json
import os
import re

import pytest
from conftest import run_cli
from streamlit.testing.v1 import AppTest

from idim_core import demo, ui
from idim_core.store import Store

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
APP = os.path.join(ROOT, "app.py")
CLASSIC = ("--model", "mlp", "--task", "digits", "--seeds", "1", "--epochs", "3", "--queue")
# name -> the command line's arguments.  All are queued, "cancelled" is cancelled before any worker takes
# it, and one `idim worker --once` trains the others (one process: torch is loaded once).
CLI_RUNS = {
    "classic-did": ("--dims", "10,100"),
    "classic-lora": ("--method", "lora", "--ranks", "1,4"),
    "did-not-learn": ("--dims", "10,100", "--max-steps", "1", "--lr-full", "0.00001"),
    "cancelled": ("--dims", "10,100"),
}
# queued once the worker has gone: adapter runs before their first point
QUEUED = {"queued-lora": ("--method", "lora", "--ranks", "1,4"), "queued-head": ("--method", "head")}
RECORDED = sorted(p.stem for p in demo.RECORDED_DIR.glob("*.json"))
SERIES = {"model": "mlp", "task": "digits:5-9", "dims": "10,100", "seeds": 1, "epochs": 3.0}
KINDS = [("cli", n) for n in (*CLI_RUNS, *QUEUED)] + [("recorded", n) for n in RECORDED]
VIEWS = ("normal", "presenter")


@pytest.fixture(scope="module")
def sweep_home(tmp_path_factory):
    home = tmp_path_factory.mktemp("idim-sweep")
    ids = {}
    for name, args in CLI_RUNS.items():
        out = run_cli("run", *CLASSIC, *args, home=home)
        assert out.returncode == 0, (name, out.stderr[-2000:])
        ids[("cli", name)] = re.search(r"queued run ([0-9a-f]{12})", out.stdout).group(1)
    out = run_cli("cancel", ids[("cli", "cancelled")], home=home)
    assert out.returncode == 0, out.stderr
    from idim_core import series as series_mod

    with _closing(Store(home)) as s:  # a small pre-training series with its control, trained by the same worker
        sid, _ = series_mod.queue(s, SERIES, ["digits:0-4", "digits:0-4:shuffled"], [0, 1], [None])
    out = run_cli("worker", "--once", home=home, timeout=900)
    assert out.returncode == 0, out.stderr[-2000:]
    for name, args in QUEUED.items():  # queued after the worker left: they wait for their first point
        out = run_cli("run", *CLASSIC, *args, home=home)
        assert out.returncode == 0, (name, out.stderr[-2000:])
        ids[("cli", name)] = re.search(r"queued run ([0-9a-f]{12})", out.stdout).group(1)
    with _closing(Store(home)) as s:
        for key in demo.available_comparisons():
            demo.import_comparison(s, key)
        for name in RECORDED:
            ids[("recorded", name)] = demo.import_recorded(s, demo.RECORDED_DIR / f"{name}.json")
        runs = {r["id"]: r for r in s.list_runs()}
    assert runs[ids[("cli", "cancelled")]]["status"] == "cancelled"
    assert all(runs[ids[("cli", n)]]["status"] == "done" for n in CLI_RUNS if n != "cancelled")
    assert all(runs[ids[("cli", n)]]["status"] == "queued" for n in QUEUED)
    with pytest.MonkeyPatch.context() as mp:
        mp.setenv("IDIM_HOME", str(home))
        mp.setenv(ui.NO_AUTOSTART_ENV, "1")
        yield {"home": home, "ids": ids, "runs": runs, "series": sid}


class _closing:
    def __init__(self, store):
        self.store = store

    def __enter__(self):
        return self.store

    def __exit__(self, *exc):
        self.store.close()


def render(page: str, query: dict | None = None, present: bool = False, at: AppTest | None = None) -> AppTest:
    """Open ``page`` with ``query`` (and ?present=1 in the presenter view); fail on any exception."""
    if at is None:
        at = AppTest.from_file(APP, default_timeout=120)
        at.run()
        assert not at.exception, [e.value for e in at.exception]
    at.query_params.clear()
    at.query_params.update({**(query or {}), **({"present": "1"} if present else {})})
    at.switch_page(page).run()
    ok(at, page, query, present)
    return at


def ok(at: AppTest, *what) -> None:
    assert not at.exception, (what, [e.value for e in at.exception])


def charts(at: AppTest) -> list[dict]:
    return [json.loads(el.proto.spec) for el in at.get("plotly_chart")]


def check_view(at: AppTest, present: bool) -> None:
    """Presenter: every chart drawn with Plotly's own theme (Streamlit's would reset the fonts) and with
    fonts, lines and markers set large; normal: Streamlit's theme and no presenter style sheet."""
    css = any("stMetricValue" in m.value for m in at.markdown)
    assert css is present
    for el in at.get("plotly_chart"):
        spec = json.loads(el.proto.spec)
        assert (el.proto.theme == "streamlit") is not present, el.proto.theme
        if not present:
            continue
        lay = spec["layout"]
        assert lay["font"]["size"] >= 20 and lay["legend"]["font"]["size"] >= 20
        for ax in [k for k in lay if k.startswith(("xaxis", "yaxis"))]:
            assert lay[ax]["tickfont"]["size"] >= 20 and lay[ax]["title"]["font"]["size"] >= 20, ax
        for a in lay.get("annotations", []):
            assert a["font"]["size"] >= 20, a
        for tr in spec["data"]:
            if (tr["type"] == "scatter" and "lines" in tr.get("mode", "lines") and tr.get("x")
                    and tr["x"][0] is not None):
                assert tr.get("line", {}).get("width", 0) >= 4, tr.get("name")
            if tr["type"] == "scatter" and "markers" in tr.get("mode", ""):
                assert tr["marker"]["size"] >= 12, tr.get("name")


def switch_on(at: AppTest, *keys: str) -> bool:
    """Turn on the toggles with these keys that the page shows; True when any was there."""
    found = False
    for k in keys:
        try:
            t = at.toggle(key=k)
        except KeyError:
            continue
        t.set_value(True)
        found = True
    return found


@pytest.mark.parametrize("view", VIEWS)
@pytest.mark.parametrize("kind", KINDS, ids=[f"{a}-{b}" for a, b in KINDS])
def test_live_and_runs_with_every_kind_of_run(sweep_home, kind, view):
    rid = sweep_home["ids"][kind]
    present = view == "presenter"
    at = render("pages/live.py", {"run": rid}, present)
    assert at.toggle(key="live:toggle:present").value is present
    assert charts(at), f"Live drew no chart for {kind}"
    check_view(at, present)
    if switch_on(at, "live:toggle:table", "live:toggle:claims"):
        at.run()
        ok(at, "live toggles", kind, view)
    at = render("pages/runs.py", {"run": rid}, present, at)
    assert at.selectbox(key="runs:select:run").value == rid
    assert len(at.get("download_button")) == 3
    at = render("pages/compare.py", {"runs": rid}, present, at)
    assert at.multiselect[0].value == [rid]
    assert charts(at), f"Compare drew no chart for {kind}"
    check_view(at, present)
    # the other x axis, then the claims' tables and SAID's scales where the run has them
    axis = next(t for t in at.toggle if t.key.startswith("compare:toggle:by_params"))
    axis.set_value(not axis.value).run()
    ok(at, "compare axis", kind, view)
    if switch_on(at, "compare:toggle:claims"):
        at.run()
        ok(at, "compare claims", kind, view)


@pytest.mark.parametrize("view", VIEWS)
@pytest.mark.parametrize("name", list(demo.COMPARISONS))
def test_compare_with_every_ready_made_comparison(sweep_home, name, view):
    present = view == "presenter"
    at = render("pages/compare.py", {"comparison": name}, present)
    wanted = set(sweep_home["ids"][("recorded", n)] for n in demo.COMPARISONS[name][1])
    assert set(at.multiselect[0].value) == wanted
    assert at.button(key=f"compare:button:{name}")
    assert charts(at)
    if switch_on(at, "compare:toggle:claims"):
        at.run()
        ok(at, "compare claims", name, view)
    # and the same comparison loaded by its button, from a page showing another one
    at.button(key=f"compare:button:{name}").click().run()
    ok(at, "compare button", name, view)
    assert set(at.multiselect[0].value) == wanted


@pytest.mark.parametrize("view", VIEWS)
def test_explore_and_learn(sweep_home, view):
    present = view == "presenter"
    at = render("pages/explore.py", {}, present)
    at = render("pages/explore.py", {"model": "mlp", "task": "digits"}, present, at)
    at = render("pages/learn.py", {}, present, at)
    assert len(charts(at)) >= 8
    at = render("pages/live.py", {}, present, at)  # no run chosen: the recent runs
    at = render("pages/runs.py", {"run": "000000000000"}, present, at)  # a run that is not there


def header(at: AppTest) -> str:
    return next(m.value for m in at.markdown if " · run `" in m.value)


@pytest.mark.parametrize("name,words", [
    (("cli", "classic-lora"), "ranks 1, 4"), (("cli", "queued-lora"), "ranks 1, 4"),
    (("cli", "queued-head"), "one point"), (("recorded", "minilm-l6-mr-bitfit"), "one point"),
    (("recorded", "minilm-l6-mr-head"), "one point"), (("recorded", "minilm-l6-mr-lora"), "ranks 1, 2, 4, 8, 16"),
    (("cli", "classic-did"), "fastfood projection · d = 10, 100")])
def test_every_run_is_told_by_its_own_axis(sweep_home, name, words):
    """Live's header, the chart before the first point, the Runs table and the exported chart's title."""
    from idim_core.results import result
    from idim_core.ui import figures, views

    rid = sweep_home["ids"][name]
    at = render("pages/live.py", {"run": rid})
    line = header(at)
    assert words in line, line
    adapter = not words.startswith("fastfood")
    assert ("projection" in line) is not adapter and ("d = " in line) is not adapter, line
    at.toggle(key="live:toggle:table").set_value(True).run()
    ok(at, "live table", name)
    if not name[1].startswith("queued"):  # the results table names the level as the run does
        cols = list(at.dataframe[0].value.columns)
        assert ("d" in cols) is not adapter and ("rank" in cols) is ("ranks" in words), cols
    fig = charts(at)[0]
    if name[1].startswith("queued"):  # no point yet: the accuracy scale, not Plotly's empty -1 to 4
        assert fig["layout"]["yaxis"]["range"] == [0, 1]
    with _closing(Store(sweep_home["home"])) as s:
        row = next(r for r in views.runs_table(s) if r["run"] == rid)
        res = result(s, rid)
    assert (row["projection"] == "") is adapter and row["levels"] == words.removeprefix("fastfood projection · ")
    html = figures.figure_html(figures.run_figure(res), res)
    title = re.search(r"idim run [0-9a-f]{12}: [^<\"]*", html).group(0)
    assert words.split(" · ")[-1] in title and ("projection" in title) is not adapter, title


def test_ratios_only_where_both_ends_are_measured(sweep_home):
    at = render("pages/compare.py", {"comparison": "methods"})
    table = at.dataframe[0].value
    assert "× d90" in table.columns
    cells = dict(zip(table["method"], table["× d90"]))
    said, lora, bitfit, head = (demo.recorded_result(n) for n in demo.COMPARISONS["methods"][1][:4])
    uni, last = demo.recorded_result("minilm-l6-mr-unilora"), demo.recorded_result("minilm-l6-mr-lora-last")
    d90 = said["d90_interpolated"]
    def number(cell: str) -> float:
        return float(cell.removeprefix("≤ ").removesuffix("×").replace(",", ""))

    assert cells["SAID (random subspace)"] == "1.0×"
    assert uni["p90_status"] == "found" and cells["Uni-LoRA"][0].isdigit()  # both ends measured: a ratio
    assert number(cells["Uni-LoRA"]) == pytest.approx(uni["p90_interpolated"] / d90, rel=0.05)
    for r, m in ((bitfit, "BitFit"), (head, "head only"), (lora, "LoRA"), (last, "LoRA (last layer)")):
        # only an upper bound: the ratio is one too
        assert r["p90_status"] == "below_grid" and cells[m].startswith("≤ "), cells[m]
        assert number(cells[m]) == pytest.approx(r["p90_upper"] / d90, rel=0.05)
    assert table[table["method"] == "BitFit"].iloc[0]["parameters at 90 %"].startswith("≤ ")


def test_ratio_cell_words():
    from idim_core.ui.views import ratio_cell

    assert ratio_cell({"p90_status": "found", "p90_interpolated": 4_000}, 400.0) == "10×"
    assert ratio_cell({"p90_status": "found", "p90_interpolated": 500}, 400.0) == "1.2×"
    assert ratio_cell({"p90_status": "found", "p90_interpolated": 100}, 400.0) == "0.25×"
    assert ratio_cell({"p90_status": "below_grid", "p90_upper": 26_498}, 54.1) == "≤ 490×"
    assert ratio_cell({"p90_status": "not_reached", "params": [100, 2_000]}, 400.0) == "> 5.0×"
    assert ratio_cell({"p90_status": "baseline_at_floor"}, 400.0) == "—"
    assert ratio_cell({"p90_status": "found", "p90_interpolated": 4_000}, None) == "—"


def test_learn_reads_everywhere_and_says_full_training_for_the_classic_nets(sweep_home):
    import numpy as np

    at = render("pages/learn.py")
    text = " ".join(m.value for m in at.markdown)
    assert not re.search(r"[\u3000-\u9fff]", text), "CJK glyphs: boxes in a browser without CJK fonts"
    assert "Fine-tuning large models seen from a new angle" in text
    classic = [ln for ln in text.split("\n") if ln.startswith("- `mlp`") or ln.startswith("- `lenet`")]
    assert classic and all("full training" in ln and "full fine-tuning" not in ln for ln in classic), classic
    idea = next(f for f in charts(at) if any(t["type"] == "surface" for t in f["data"]))
    eye = idea["layout"]["scene"]["camera"]["eye"]
    from idim_core.ui import figures

    plane = next(t for t in figures.idea_figure().data if t.type == "surface")  # its points (the page's are packed)
    p = np.array([np.asarray(getattr(plane, k), dtype=float).ravel() for k in "xyz"]).T
    normal = np.linalg.svd(p - p.mean(0))[2][-1]  # the plane's normal: its direction of least spread
    e = np.array([eye["x"], eye["y"], eye["z"]])
    assert np.degrees(np.arcsin(abs(e @ normal) / np.linalg.norm(e))) > 35, "the plane opens edge-on"


def test_compare_full_label_stays_inside_the_chart(sweep_home):
    at = render("pages/compare.py", {"comparison": "methods"})
    full = [t for f in charts(at) for t in f["data"] if (t.get("meta") or {}).get("role") == "full"]
    assert full and all(t["textposition"] == "bottom left" for t in full)  # D is the largest x: label to its left


def test_idim_compare_prints_the_same_ratios(sweep_home):
    ids = [sweep_home["ids"][("recorded", n)] for n in demo.COMPARISONS["methods"][1]]
    out = run_cli("compare", *ids, home=sweep_home["home"])
    assert out.returncode == 0, out.stderr
    rows = {line.split()[1]: line for line in out.stdout.splitlines() if line[:12] in ids}
    for method in ("bitfit", "head", "lora"):  # only an upper bound at 90 %: so is the ratio
        assert re.search(r"≤ [\d,.]+  .*≤ [\d,.]+×", rows[method]), rows[method]
    assert re.search(r"≈ [\d,]+ .* [\d,.]+×", rows["unilora"]) and "≤" not in rows["unilora"], rows["unilora"]


def test_idim_show_names_an_adapter_run_by_its_axis(sweep_home):
    for name, words in ((("cli", "classic-lora"), "LORA, ranks 1, 4,"),
                        (("recorded", "minilm-l6-mr-head"), "HEAD, one point"),
                        (("cli", "classic-did"), "DID, fastfood projection")):
        out = run_cli("show", sweep_home["ids"][name], home=sweep_home["home"])
        assert out.returncode == 0, out.stderr
        first = out.stdout.splitlines()[0]
        assert words in first and ("projection" in first) is (name[1] == "classic-did"), first


@pytest.mark.parametrize("view", VIEWS)
def test_series_page_and_the_overlay_on_compare(sweep_home, view):
    """The Series page draws the series (d90 against pre-training, the control beside it) and its second
    panel, and offers it as JSON and CSV; Compare overlays it."""
    from idim_core import series as series_mod

    sid, present = sweep_home["series"], view == "presenter"
    with _closing(Store(sweep_home["home"])) as s:
        out = series_mod.summary(s, sid)
    assert {e["status"] for e in out["entries"]} == {"done"}
    at = render("pages/series.py", {"series": sid}, present)
    assert at.selectbox(key="series:select:series").value == sid
    figs = charts(at)
    assert figs and figs[0]["layout"]["meta"]["series"] == sid
    roles = {(tr.get("meta") or {}).get("role") for tr in figs[0]["data"]}
    assert "control" in roles or any(e["d90_status"] != "found" for e in out["entries"]), roles
    panels = [f["layout"]["meta"].get("panel") for f in figs[1:]]
    if any(e["d90_status"] == "found" for e in out["entries"]):
        assert panels[0] == "accuracy"
    # the readout control: each run's probe on its frozen start beside its threshold
    assert panels[-1] == "probe" and all(e.get("probe_accuracy") is not None for e in out["entries"])
    assert [b.label for b in at.get("download_button")] == ["Series as JSON", "Series as CSV"]
    at = render("pages/compare.py", {}, present, at)
    assert sid in at.multiselect(key="compare:select:series").value
    overlay = [f for f in charts(at) if f["layout"].get("meta", {}).get("series") == [sid]]
    assert overlay, "Compare drew no series overlay"
    check_view(at, present)


def test_series_csv_escapes_and_has_a_row_per_amount(sweep_home):
    import csv
    import io

    from idim_core import series as series_mod
    from idim_core.ui import figures

    with _closing(Store(sweep_home["home"])) as s:
        out = series_mod.summary(s, sweep_home["series"])
    rows = list(csv.DictReader(io.StringIO(figures.series_csv(out))))
    assert len(rows) == len(out["entries"]) and rows[0]["series"] == sweep_home["series"]
    evil = {**out, "task": "=HYPERLINK(1)"}
    assert list(csv.DictReader(io.StringIO(figures.series_csv(evil))))[0]["task"].startswith("'=")
