"""The Streamlit app, page by page, with streamlit.testing.v1.AppTest.

Every test runs against a real SQLite store in tmp_path (IDIM_HOME), seeded through
the Store API the worker uses.  The app is told not to start a background worker
(IDIM_NO_AUTOSTART_WORKER=1): nothing trains here; the browser tests cover the real
worker.
"""
from __future__ import annotations

import json
import math
import os
import re
import subprocess
import sys
import textwrap
from pathlib import Path

import pytest
from streamlit.testing.v1 import AppTest

from idim_core import demo, ui
from idim_core.results import result
from idim_core.runconfig import DEFAULTS, RunConfig, make_config
from idim_core.store import Store
from idim_core.ui.estimates import step_ratio

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
APP = os.path.join(ROOT, "app.py")
TINY = dict(model="minilm-l1", task="mr", max_train=48, max_eval=32, epochs=1, max_length=32, seeds=1)
TIMEOUT = 60


@pytest.fixture
def store(home, monkeypatch):
    monkeypatch.setenv(ui.NO_AUTOSTART_ENV, "1")
    s = Store(home)
    yield s
    s.close()


def seed_run(store: Store, accs: dict[int, list[float | None]], baseline: float = 0.8, status: str = "done",
             method: str = "said", model: str = "minilm-l2", chance: float = 0.5, majority: float = 0.55,
             diverged: tuple[int, ...] = (), **cfg_extra) -> str:
    """A finished run as the worker writes it: baseline trial, subspace trials with curves."""
    dims = sorted(set(accs) | set(diverged))
    cfg = make_config(model=model, task="mr", method=method, dims=dims, seeds=max(len(v) for v in accs.values()),
                      **cfg_extra)
    rid = store.create_run(cfg, status="running" if status != "queued" else "queued", owner="test")
    if status == "queued":
        return rid
    store.update_run(rid, device="cpu", summary={"D": 15_468_290, "chance": chance, "majority": majority, "layers": 2})
    tid = store.start_trial(rid, "baseline", None, 0)
    store.add_points(tid, [{"step": s, "loss": 0.7 - 0.01 * s, "accuracy": 0.6 if s % 4 == 0 else None, "total": 8}
                           for s in range(1, 9)])
    store.finish_trial(tid, "done", accuracy=baseline, val_accuracy=baseline, steps=8, total_steps=8, seconds=4.0)
    for d, seeds in sorted(accs.items()):
        for seed, acc in enumerate(seeds):
            tid = store.start_trial(rid, "subspace", d, seed)
            store.add_points(tid, [{"step": s, "loss": 0.7, "accuracy": acc if s == 8 else None, "total": 8}
                                   for s in range(1, 9)])
            store.finish_trial(tid, "done", accuracy=acc, val_accuracy=acc, steps=8, total_steps=8, seconds=5.0)
    for d in diverged:
        tid = store.start_trial(rid, "subspace", d, 0)
        store.finish_trial(tid, "diverged", steps=3, total_steps=8, seconds=1.0, error="non-finite loss")
    if status == "done":
        store.end_run(rid, "done")
        store.update_run(rid, summary={**result(store, rid)})
    elif status in ("failed", "cancelled"):
        store.end_run(rid, status, "boom" if status == "failed" else None)
    elif status == "interrupted":
        store.update_run(rid, heartbeat=0)
    return rid


def app(query: dict | None = None, page: str | None = None) -> AppTest:
    at = AppTest.from_file(APP, default_timeout=TIMEOUT)
    if not page:
        at.query_params.update(query or {})
    at.run()
    if page:  # switch_page needs one run first (st.navigation registers the pages)
        at.query_params.clear()
        at.query_params.update(query or {})
        at.switch_page(page).run()
    assert not at.exception, [e.value for e in at.exception]
    return at


def figures(at: AppTest) -> list[dict]:
    return [json.loads(el.proto.spec) for el in at.get("plotly_chart")]


def by_role(fig: dict) -> dict[str, dict]:
    return {(t.get("meta") or {}).get("role"): t for t in fig["data"] if isinstance(t.get("meta"), dict)}


def confirm_csv(at: AppTest) -> AppTest:
    """A link's csv: path is read only once the user confirms it (tests/test_served.py): press the button."""
    if any(b.key == "explore:button:csv_confirm" for b in at.button):
        at.button(key="explore:button:csv_confirm").click().run()
        assert not at.exception, [e.value for e in at.exception]
    return at


def errors(at: AppTest) -> list[str]:
    return [e.value for e in at.error]


# ---------------------------------------------------------------------------
# Explore
# ---------------------------------------------------------------------------
def test_explore_renders_with_estimate(store):
    at = app()
    assert at.title[0].value.startswith("Intrinsic dimension")
    assert at.selectbox(key="explore:model").value == "minilm-l6"
    info = " ".join(i.value for i in at.info)
    assert "Rough estimate" in info and "cpu" in info
    assert at.button(key="explore:button:start")
    assert any("Device" in m.value for m in at.sidebar.markdown)


def submit(at: AppTest) -> AppTest:
    at.button(key="explore:button:start").click().run()
    assert not at.exception, [e.value for e in at.exception]
    return at


def test_explore_empty_custom_dims_is_an_error_and_queues_nothing(store):
    at = app()
    at.radio(key="explore:dims_mode:lm").set_value("custom list").run()
    at.text_input(key="explore:dims_custom:lm").set_value("").run()
    submit(at)
    assert any("empty" in e for e in errors(at)), errors(at)
    assert store.list_runs() == []


def test_explore_d_larger_than_D_is_an_error(store):
    at = app({"model": "minilm-l1", "dims": "10,100000000"})
    assert at.radio(key="explore:dims_mode:lm").value == "custom list"
    submit(at)
    assert any("larger than the model's D" in e for e in errors(at)), errors(at)
    assert store.list_runs() == []


def test_explore_unreachable_hub_model_is_an_error(store, monkeypatch):
    monkeypatch.setenv("HF_HUB_OFFLINE", "1")
    at = app()
    at.selectbox(key="explore:model").set_value(at.selectbox(key="explore:model").options[-1]).run()
    at.text_input(key="explore:model_other").set_value("idim-tests/no-such-model").run()
    submit(at)
    assert any("no-such-model" in e and "HF_HUB_OFFLINE" in e for e in errors(at)), errors(at)
    assert store.list_runs() == []


def test_explore_bad_number_in_list(store):
    at = app({"dims": "10,abc"})
    submit(at)
    assert any("not a number" in e for e in errors(at)), errors(at)
    assert store.list_runs() == []


def test_explore_valid_submit_queues_exactly_one_run_and_opens_it(store):
    q = {"model": "minilm-l1", "task": "mr", "dims": "20,200,2000", "max_train": "48", "max_eval": "32",
         "epochs": "1", "max_length": "32", "method": "did", "projection": "sparse"}
    at = app(q)
    assert at.selectbox(key="explore:model").value == "minilm-l1"
    assert at.selectbox(key="explore:method:lm").value == "did"
    submit(at)
    assert errors(at) == []
    runs = store.list_runs()
    assert len(runs) == 1
    run = runs[0]
    assert run["status"] == "queued"
    cfg = run["config"]
    assert (cfg["model"], cfg["method"], cfg["projection"], cfg["dims"]) == ("minilm-l1", "did", "sparse",
                                                                            [20, 200, 2000])
    assert (cfg["max_train"], cfg["max_eval"], cfg["epochs"], cfg["max_length"]) == (48, 32, 1.0, 32)
    # switched to the live page of that run
    assert at.query_params.get("run") == run["id"]
    assert at.title[0].value == "Live run"


def test_explore_prefill_from_learn_links(store):
    at = app({"model": "minilm-l6-untrained", "method": "did", "dims": "auto"})
    assert at.selectbox(key="explore:model").value == "minilm-l6-untrained"
    assert at.selectbox(key="explore:method:lm").value == "did"
    assert at.radio(key="explore:dims_mode:lm").value == "automatic d90 search"


def test_explore_default_grid_is_the_cli_default(store):
    at = app()
    assert at.radio(key="explore:dims_mode:lm").value == "default grid"
    assert any("d = 10, 100, 300, 1,000, 3,000, 10,000" in c.value for c in at.caption)
    submit(at)
    assert store.list_runs()[0]["config"]["dims"] == DEFAULTS["dims"]


@pytest.mark.parametrize("query,key,expected", [
    ({"epochs": "-5"}, "explore:epochs:lm", 2.0), ({"seeds": "999"}, "explore:seeds", 1),
    ({"lr_full": "1e31"}, "explore:lr_full:lm", DEFAULTS["lr_full"]),
    ({"batch_size": "0"}, "explore:batch_size:lm", 32), ({"max_train": "3"}, "explore:max_train", 1024),
    ({"epochs": "nan"}, "explore:epochs:lm", 2.0), ({"seeds": "two"}, "explore:seeds", 1),
    ({"threads": "-2"}, "explore:threads", 0),
    ({"seeds": "٣"}, "explore:seeds", 1), ({"seeds": "1_0"}, "explore:seeds", 1),  # as the CLI: ASCII digits only
])
def test_explore_out_of_range_link_keeps_the_form(store, query, key, expected):
    at = app(query)
    assert not at.exception, [e.value for e in at.exception]
    warnings = [w.value for w in at.warning]
    assert len(warnings) == 1 and list(query)[0] in warnings[0] and "default" in warnings[0], warnings
    assert at.number_input(key=key).value == expected
    assert at.button(key="explore:button:start")  # the form, Start included, is still there


def test_explore_estimate_says_when_the_baseline_is_reused(store):
    at = app({"model": "minilm-l2", "task": "mr"})
    alone = " ".join(i.value for i in at.info)
    assert "1 full fine-tuning trial and 1 linear probe +" in alone
    rid = seed_run(store, {10: [0.6]}, model="minilm-l2")  # finished, same budget, device cpu
    at = app({"model": "minilm-l2", "task": "mr"})
    info = " ".join(i.value for i in at.info)
    assert f"full fine-tuning of run {rid}" in info and "reused" in info
    secs = lambda text: re.search(r"Rough estimate: [^*]+\*\* \(about ([^)]+)\)", text).group(1)  # noqa: E731
    assert secs(info) != secs(alone)
    at = app({"model": "minilm-l2", "task": "mr", "seeds": "2"})  # seed 1's baseline does not exist yet
    assert "2 full fine-tuning trials and 2 linear probes +" in " ".join(i.value for i in at.info)


def test_explore_threads_from_the_link_reach_the_run(store):
    at = app({"model": "mlp", "task": "digits", "threads": "1"})
    assert at.number_input(key="explore:threads").value == 1
    submit(at)
    assert store.list_runs()[0]["config"]["threads"] == 1
    at = app({"model": "mlp", "task": "digits"})
    submit(at)
    assert store.list_runs()[0]["config"]["threads"] is None  # automatic: the engine decides (prep.threads_for)


def test_explore_preset_grid(store):
    at = app()
    at.radio(key="explore:dims_mode:lm").set_value("preset log grid").run()
    at.select_slider(key="explore:grid_range").set_value((100, 10_000)).run()
    at.radio(key="explore:grid_per").set_value(2).run()
    assert any("d = 100, 300, 1,000, 3,000, 10,000" in c.value for c in at.caption)


def test_recorded_example_button_loads_once(store, tmp_path):
    at = app()
    assert at.button(key="explore:button:load_example")
    at.button(key="explore:button:load_example").click().run()
    assert not at.exception
    runs = store.list_runs()
    assert len(runs) == 1 and runs[0]["config"]["recorded"] and runs[0]["status"] == "done"
    assert "idim run --model" in runs[0]["config"]["recorded_command"]
    assert at.query_params.get("run") == runs[0]["id"]
    assert any("Recorded example" in i.value for i in at.info)
    # idempotent, and the offer is gone
    assert demo.import_recorded(store, ui.EXAMPLE_RUN) == runs[0]["id"]
    at2 = app()
    assert not [b for b in at2.button if b.key == "explore:button:load_example"]
    recorded = json.loads(ui.EXAMPLE_RUN.read_text())
    mine = result(store, runs[0]["id"])
    assert mine["baseline_accuracy"] == recorded["baseline_accuracy"]
    assert [(p["d"], p["accuracy"]) for p in mine["points"]] == [(p["d"], p["accuracy"]) for p in recorded["points"]]
    assert mine["d90"] == recorded["d90"]


# ---------------------------------------------------------------------------
# Live run
# ---------------------------------------------------------------------------
def test_live_chart_content(store):
    rid = seed_run(store, {10: [0.52, 0.56], 100: [0.6, 0.66], 1000: [0.74, 0.78], 10000: [0.8, 0.8]},
                   diverged=(30,), chance=0.5, majority=0.55)
    res = result(store, rid)
    at = app({"run": rid}, "pages/live.py")
    assert errors(at) == []
    fig = figures(at)[0]
    roles = by_role(fig)
    pts = roles["points"]
    # the diverged trial at d = 30 counts as chance accuracy in the mean (and is marked)
    assert pts["x"] == [10, 30, 100, 1000, 10000]
    assert [round(y, 3) for y in pts["y"]] == [0.54, 0.5, 0.63, 0.76, 0.8]
    assert pts["error_y"]["array"][0] == pytest.approx(0.02)
    assert roles["seeds"]["x"].count(10) == 2
    assert roles["diverged"]["x"] == [30] and roles["diverged"]["marker"]["symbol"] == "x"
    assert roles["baseline"]["y"][0] == pytest.approx(0.8)
    thr = roles["threshold"]
    assert thr["y"] == [pytest.approx(0.72)] * 2 and thr["line"]["dash"] == "dash" and "threshold" in thr["name"]
    assert roles["chance"]["y"][0] == 0.5 and roles["chance"]["line"]["dash"] == "dot"
    assert roles["majority"]["y"][0] == 0.55
    d90 = roles["d90"]
    assert res["d90"] == 1000
    assert d90["meta"]["value"] == pytest.approx(res["d90_interpolated"])
    assert d90["x"][0] == pytest.approx(res["d90_interpolated"])
    assert 100 < res["d90_interpolated"] < 1000
    assert any(f"{res['d90_interpolated']:,.0f}" in a["text"] for a in fig["layout"]["annotations"])
    assert fig["layout"]["xaxis"]["type"] == "log"
    assert fig["layout"]["uirevision"] == rid
    # a finished run shows its status and no progress bar
    assert any("done" in str(m.value) for m in at.metric)
    assert not at.get("progress")


def test_chart_due_rule():
    from idim_core.ui.views import chart_due

    last = {"fixed": ("running", False), "done": 3, "t": 100.0}
    assert chart_due(None, ("running", False), 0, 0.0)
    assert not chart_due(last, ("running", False), 3, 500.0)  # nothing new: the same chart, never redrawn
    assert not chart_due(last, ("running", False), 4, 101.0, every=4)  # new trial, but the last redraw is 1 s old
    assert chart_due(last, ("running", False), 4, 104.0, every=4)
    assert chart_due(last, ("done", False), 4, 100.5, every=4)  # the run ended: at once
    assert chart_due(last, ("running", True), 3, 100.5, every=4)  # presenter view: at once


def test_live_chart_waits_while_trials_finish_quickly(store, monkeypatch):
    from idim_core.ui import views

    rid = seed_run(store, {10: [0.55], 100: [0.7]}, status="running")
    monkeypatch.setattr(views, "CHART_SECONDS", 3600.0)
    at = app({"run": rid}, "pages/live.py")
    assert by_role(figures(at)[0])["points"]["x"] == [10, 100]
    tid = store.start_trial(rid, "subspace", 1000, 0)
    store.finish_trial(tid, "done", accuracy=0.78, steps=8, total_steps=8, seconds=1.0)
    at.run()
    assert by_role(figures(at)[0])["points"]["x"] == [10, 100]  # redrawn later, not at every trial
    monkeypatch.setattr(views, "CHART_SECONDS", 0.0)
    at.run()
    assert by_role(figures(at)[0])["points"]["x"] == [10, 100, 1000]
    monkeypatch.setattr(views, "CHART_SECONDS", 3600.0)
    tid = store.start_trial(rid, "subspace", 3000, 0)
    store.finish_trial(tid, "done", accuracy=0.8, steps=8, total_steps=8, seconds=1.0)
    store.end_run(rid, "done")
    at.run()
    assert by_role(figures(at)[0])["points"]["x"] == [10, 100, 1000, 3000]  # an ended run is drawn whole at once


def test_live_chart_waits_when_the_worker_takes_up_a_queued_run(store, monkeypatch):
    """queued -> running changes nothing the chart shows: a trial finished by then waits for CHART_SECONDS
    like any other, and the run's end is drawn at once."""
    from idim_core.ui import views

    rid = seed_run(store, {10: [0.55], 100: [0.7]}, status="queued")
    monkeypatch.setattr(views, "CHART_SECONDS", 3600.0)
    at = app({"run": rid}, "pages/live.py")
    assert by_role(figures(at)[0])["points"]["x"] == []
    assert store.claim(rid, "test", "cpu")
    tid = store.start_trial(rid, "subspace", 10, 0)
    store.finish_trial(tid, "done", accuracy=0.6, steps=8, total_steps=8, seconds=1.0)
    at.run()
    assert any("running" in str(m.value) for m in at.metric)
    assert by_role(figures(at)[0])["points"]["x"] == []  # not redrawn for the status alone
    store.end_run(rid, "done")
    at.run()
    assert by_role(figures(at)[0])["points"]["x"] == [10]


def test_live_d90_not_reached_says_so(store):
    rid = seed_run(store, {10: [0.5], 100: [0.55]}, baseline=0.9)
    at = app({"run": rid}, "pages/live.py")
    fig = figures(at)[0]
    assert "d90" not in by_role(fig)
    assert any("d90 > max d" in a["text"] for a in fig["layout"]["annotations"])
    assert any("d90 > max d (100)" in c.value for c in at.caption)


def test_live_shows_pre_training_progress_before_the_first_trial(store):
    cfg = make_config(model="mlp", task="digits:5-9", pretrain="digits:0-4", pretrain_epochs=10, dims=[10, 100])
    rid = store.create_run(cfg, status="running", owner="test")
    store.update_run(rid, device="cpu", summary={"pretraining": {"epoch": 4, "epochs": 10, "source": "digits:0-4",
                                                                 "loss": 0.1234}})
    at = app({"run": rid}, "pages/live.py")
    assert errors(at) == []
    assert any("Pre-training" in m.value and "digits:0-4" in m.value for m in at.markdown)
    bar = at.get("progress")[0]
    assert bar.proto.value == 40 and "epoch 4 of 10" in bar.proto.text and "0.1234" in bar.proto.text
    # once the state is made (the run's summary holds its facts) the bar gives way to the trials
    store.update_run(rid, summary={"pretraining": {"epoch": 10, "epochs": 10}, "pretrain": {"epochs": 10}})
    at = app({"run": rid}, "pages/live.py")
    assert not any("Pre-training" in m.value for m in at.markdown)


def test_live_running_run_shows_current_trial_progress_and_eta(store):
    cfg = make_config(model="minilm-l2", task="mr", dims=[10, 100, 1000], seeds=1)
    rid = store.create_run(cfg, status="running", owner="test")
    store.update_run(rid, device="cpu", summary={"D": 15_468_290, "chance": 0.5, "majority": 0.5})
    tid = store.start_trial(rid, "baseline", None, 0)
    store.finish_trial(tid, "done", accuracy=0.8, steps=64, total_steps=64, seconds=30.0)
    tid = store.start_trial(rid, "subspace", 10, 0)
    store.finish_trial(tid, "done", accuracy=0.6, steps=64, total_steps=64, seconds=40.0)
    tid = store.start_trial(rid, "subspace", 100, 0)
    store.add_points(tid, [{"step": s, "loss": 0.69 - s / 100, "accuracy": 0.6 if s == 10 else None, "total": 64}
                           for s in range(1, 17)])
    at = app({"run": rid}, "pages/live.py")
    assert errors(at) == []
    assert any("d = 100, seed 0" in m.value for m in at.markdown)
    bar = at.get("progress")[0]
    assert bar.proto.value == 25  # 16 of 64 steps
    assert "left for the whole run" in bar.proto.text
    charts = figures(at)
    assert len(charts) == 2  # the sweep and the current trial's curve
    curve = charts[1]
    assert [t["name"] for t in curve["data"]] == ["training loss", "validation accuracy"]
    assert curve["data"][0]["x"][-1] == 16
    assert at.button(key="live:button:cancel")
    # time left: 48 steps of this trial + 3 more trials of 64 steps at 40/64 s per step (d = 1,000 and the
    # 2 values of d the refinement usually adds), + the linear probe, half a baseline trial per rate its search
    # tries (3, and half a fourth past an end on average)
    left = ui.time_left(store.get_run(rid), store.trials(rid))
    # 1.1, or 1.04 where Fastfood's C passes run
    r = step_ratio(RunConfig.from_stored(store.get_run(rid)["config"]), "cpu")
    assert left == pytest.approx((48 + 3 * 64) * 40 / 64 + 64 * 40 / 64 / r * 0.5 * 3.5)
    # more steps: the progress line follows at once, the curve at most every CHART_SECONDS
    from idim_core.ui import views

    tid = [t for t in store.trials(rid) if t["status"] == "running"][0]["id"]
    store.add_points(tid, [{"step": s, "loss": 0.5, "accuracy": None, "total": 64} for s in range(17, 33)])
    old, views.CHART_SECONDS = views.CHART_SECONDS, 3600.0
    try:
        at.run()
        assert at.get("progress")[0].proto.value == 50
        assert figures(at)[1]["data"][0]["x"][-1] == 16
        views.CHART_SECONDS = 0.0
        at.run()
        assert figures(at)[1]["data"][0]["x"][-1] == 32
    finally:
        views.CHART_SECONDS = old


def test_live_shows_every_trial_training_side_by_side(store):
    """--processes 2: two trials train at once; Live names both, a bar each, keeps the device metric and says
    how they train; the time left counts two at a time."""
    cfg = make_config(model="mlp", task="mnist5k", dims=[10, 100, 1000], seeds=2, processes=2)
    rid = store.create_run(cfg, status="running", owner="test")
    store.update_run(rid, device="cpu", summary={"D": 199_210, "chance": 0.1, "majority": 0.1, "executor": "local",
                                                 "slots": 2})
    for kind, d, seed in (("subspace", 10, 0), ("baseline", None, 0), ("baseline", None, 1)):
        tid = store.start_trial(rid, kind, d, seed)
        store.finish_trial(tid, "done", accuracy=0.5, steps=630, total_steps=630, seconds=4.0)
    for seed, steps in ((0, 63), (1, 315)):
        tid = store.start_trial(rid, "subspace", 100, seed)
        store.add_points(tid, [{"step": s, "loss": 1.0, "accuracy": None, "total": 630} for s in range(1, steps + 1)])
    at = app({"run": rid}, "pages/live.py")
    assert errors(at) == []
    assert any("Training now, 2 side by side" in m.value and "d = 100, seed 0" in m.value
               and "d = 100, seed 1" in m.value for m in at.markdown)
    bars = at.get("progress")
    assert [b.proto.value for b in bars] == [10, 50]
    assert "left for the whole run" in bars[-1].proto.text and "left" not in bars[0].proto.text
    assert any("2 at a time" in c.value for c in at.caption)
    assert any(m.label == "Device" for m in at.metric)
    run = store.get_run(rid)
    one = ui.time_left({**run, "summary": {**run["summary"], "slots": 1}}, store.trials(rid))
    assert ui.time_left(run, store.trials(rid)) == pytest.approx(one / 2)


def test_live_cancel_button(store):
    cfg = make_config(**TINY, dims=[20, 200])
    rid = store.create_run(cfg, status="queued")
    at = app({"run": rid}, "pages/live.py")
    assert any("Waiting for the background worker" in i.value for i in at.info)
    at.button(key="live:button:cancel").click().run()
    assert store.get_run(rid)["status"] == "cancelled"
    # a running one is asked to stop (the worker honours it between steps)
    rid2 = store.create_run(cfg, status="running", owner="test")
    at = app({"run": rid2}, "pages/live.py")
    at.button(key="live:button:cancel").click().run()
    assert store.cancel_requested(rid2)


@pytest.mark.parametrize("bad", ["nothex", "0123456789ab", "../../etc"])
def test_live_bad_or_unknown_run_id(store, bad):
    seed_run(store, {10: [0.6]})
    at = app({"run": bad}, "pages/live.py")
    assert len(errors(at)) == 1
    assert "run" in errors(at)[0]
    assert at.get("page_link"), "a list of recent runs to open instead"


def test_live_without_run_lists_recent_runs(store):
    rid = seed_run(store, {10: [0.6]})
    at = app({}, "pages/live.py")
    links = at.get("page_link")
    assert any(rid in link.proto.label for link in links)


def test_live_failed_run_shows_error(store):
    rid = seed_run(store, {10: [0.6]}, status="failed")
    at = app({"run": rid}, "pages/live.py")
    assert any("boom" in e for e in errors(at))


# ---------------------------------------------------------------------------
# Runs
# ---------------------------------------------------------------------------
def test_runs_table_and_actions(store):
    a = seed_run(store, {10: [0.5], 100: [0.75], 1000: [0.8]})
    b = seed_run(store, {10: [0.5]}, status="cancelled", method="did")
    at = app({}, "pages/runs.py")
    df = at.dataframe[0].value
    # d90 early, so it is on screen at 1280 px; a series run's pre-training beside it
    assert list(df.columns[:7]) == ["run", "status", "model", "task", "d90", "pre-training", "method"]
    assert set(df["run"]) == {a, b}
    row = df[df["run"] == a].iloc[0]
    assert row["status"] == "done" and row["d90"].startswith("≈ ") and row["baseline"] == pytest.approx(0.8)
    assert "None" not in df.astype(str).to_string()  # empty cells are blank
    assert df[df["run"] == b].iloc[0]["status"] == "cancelled"
    # downloads are there for the selected run
    keys = {d.key for d in at.get("download_button")} if at.get("download_button") else set()
    assert ({"runs:download:csv", "runs:download:json", "runs:download:html"} <= keys
            or len(at.get("download_button")) == 3)
    # resume the cancelled run: queued again, finished trials kept
    at.selectbox(key="runs:select:run").set_value(b).run()
    at.button(key="runs:button:resume").click().run()
    assert store.get_run(b)["status"] == "queued"
    assert len([t for t in store.trials(b) if t["status"] == "done"]) == 2
    # delete needs a confirmation
    at = app({}, "pages/runs.py")
    at.selectbox(key="runs:select:run").set_value(a).run()
    at.button(key="runs:button:delete").click().run()
    assert store.get_run(a) is not None
    assert any("cannot be undone" in w.value for w in at.warning)
    at.button(key="runs:button:delete_no").click().run()
    assert store.get_run(a) is not None
    at.button(key="runs:button:delete").click().run()
    at.button(key="runs:button:delete_yes").click().run()
    assert store.get_run(a) is None
    assert not at.exception


def test_exports_match_cli(store):
    rid = seed_run(store, {10: [0.5, 0.6], 100: [0.75, 0.7]})
    res = result(store, rid)
    csv_text = ui.export_csv(res)
    header = csv_text.splitlines()[0]
    assert header.startswith("d,seed,accuracy,") and "baseline_accuracy,threshold,d90" in header
    assert len(csv_text.splitlines()) == 5
    from tests.conftest import run_cli

    out = run_cli("export", rid, home=store.home)
    assert out.returncode == 0 and out.stdout == csv_text
    assert json.loads(ui.export_json(res))["d90"] == res["d90"]
    html = ui.figure_html(ui.run_figure(res))
    # plotly.js embedded
    assert html.lstrip().lower().startswith("<!doctype html>") and "plotly" in html and len(html) > 1_000_000
    assert not re.findall(r"<script[^>]*\bsrc=", html)  # nothing loaded from the network


# ---------------------------------------------------------------------------
# Compare and Learn
# ---------------------------------------------------------------------------
def test_compare_overlays_runs_and_shows_published_figures(store):
    a = seed_run(store, {10: [0.5], 100: [0.75], 1000: [0.8]}, model="minilm-l6")
    b = seed_run(store, {10: [0.5], 100: [0.55], 1000: [0.7], 10000: [0.78]}, model="minilm-l6-untrained")
    at = app({"runs": f"{a},{b}"}, "pages/compare.py")
    assert errors(at) == []
    fig = figures(at)[0]
    point_traces = [t for t in fig["data"] if t["meta"]["role"] == "points"]
    assert {t["meta"]["run_id"] for t in point_traces} == {a, b}
    table = at.dataframe[0].value
    assert set(table["run"]) == {a, b}
    assert table[table["run"] == a].iloc[0]["d90"].startswith("≈ ")
    assert any("not measured here" in s.value for s in at.subheader)
    ref = at.dataframe[1].value
    assert ref.iloc[0].tolist() == ["BERT-Base", 1608, 8030, 1861, 9295]
    assert "RoBERTa-Large" in set(ref["model"])
    at.toggle(key="compare:toggle:normalise").set_value(True).run()
    fig = figures(at)[0]
    pts = [t for t in fig["data"] if t["meta"]["role"] == "points"]
    assert max(max(t["y"]) for t in pts) == pytest.approx(1.0)
    assert any(t["meta"]["role"] == "threshold" and t["y"][0] == 0.9 for t in fig["data"])


def test_learn_renders_formulas_references_and_links(store):
    at = app({}, "pages/learn.py")
    assert errors(at) == []
    latex = " ".join(x.value for x in at.latex)
    assert r"\theta_0 + P\,z" in latex and r"\lambda_{\ell(i)}" in latex
    text = " ".join(m.value for m in at.markdown)
    assert "Measuring the Intrinsic Dimension of Objective Landscapes" in text
    assert "Intrinsic Dimensionality Explains the Effectiveness" in text
    assert "O(D log d)" in text
    assert "hidden_size" in " ".join(w.value for w in at.warning)
    links = at.get("page_link")
    assert len(links) >= 8
    hrefs = " ".join(link.proto.query_string for link in links if hasattr(link.proto, "query_string"))
    assert "minilm-l6-untrained" in hrefs and "method=did" in hrefs


# ---------------------------------------------------------------------------
# lightness: no torch in the UI process
# ---------------------------------------------------------------------------
def test_pages_never_import_torch(store, tmp_path):
    """Render every page (and submit a run) in a fresh interpreter; torch must stay unloaded."""
    rid = seed_run(store, {10: [0.5], 100: [0.75]})
    script = textwrap.dedent(f"""
        import sys
        from streamlit.testing.v1 import AppTest
        at = AppTest.from_file({APP!r}, default_timeout=60).run()
        for page, q in [("pages/live.py", {{"run": {rid!r}}}), ("pages/compare.py", {{}}),
                        ("pages/runs.py", {{}}), ("pages/learn.py", {{}}),
                        ("pages/explore.py", {{"model": "mlp", "task": "digits"}}), ("pages/explore.py", {{}})]:
            at.query_params.clear(); at.query_params.update(q)
            at.switch_page(page).run()
            assert not at.exception, (page, [e.value for e in at.exception])
        at.button(key="explore:button:start").click().run()
        assert not at.exception
        heavy = [m for m in ("torch", "transformers", "idim_core.train", "idim_core.subspace",
                             "idim_core.projection") if m in sys.modules]
        print("HEAVY", heavy)
    """)
    out = subprocess.run([sys.executable, "-c", script], capture_output=True, text=True, timeout=180, cwd=ROOT,
                         env=dict(os.environ))
    assert out.returncode == 0, out.stderr[-3000:]
    assert "HEAVY []" in out.stdout, out.stdout + out.stderr[-2000:]
    assert len(store.list_runs()) == 2  # the submit queued one


def test_server_config_keeps_an_open_tab_cheap():
    """What bench/tab_cost.py measured: the file watcher over a project holding a .venv, and a full garbage
    collection after every script run (Live refreshes every 2 s), each cost the CPU that training needs."""
    import tomllib

    cfg = tomllib.loads((Path(ROOT) / ".streamlit" / "config.toml").read_text())
    assert cfg["server"]["fileWatcherType"] == "none"
    assert cfg["runner"]["postScriptGC"] is False


def test_image_task_facts_without_torch_match_the_loaded_task():
    from idim_core.classic import image_stats, load_images

    for name in ("digits", "mnist5k"):
        st_, t = image_stats(name, 3), load_images(name, 3)
        assert st_["splits"] == {"train": len(t.train), "val": len(t.val), "test": len(t.test)}
        assert st_["majority"] == pytest.approx(t.majority()) and st_["side"] == t.side


# ---------------------------------------------------------------------------
# helpers
# ---------------------------------------------------------------------------
def test_estimate_and_grid_helpers():
    cfg = make_config(**TINY, dims=[20, 200, 2000], baseline_lr_search=False)  # the baseline at one rate
    steps = ui.steps_per_trial(cfg)
    assert steps == math.ceil(48 / 32)
    per = ui.seconds_per_step(cfg)
    assert per == pytest.approx((0.13 * 1 + 0.05) * (32 * 32) / (32 * 64))
    # 1 validation pass per epoch + 1 test pass of 32 examples + 1 pass over the 48 training examples (at most
    # 512 of them), a third of a step each; nothing quantised unless --claims-facts
    work = work_sub = steps + (2 * 32 / 32 + 48 / 32) / 3
    # --claims-facts: subspace trials also 3 test passes with z quantised, 2 training passes at 4 and 8 bits
    assert ui.eval_steps_per_trial(cfg.but(claims_facts=True), subspace=True) == pytest.approx(
        (5 * 32 / 32 + 3 * 48 / 32) / 3)
    # 1 baseline and half a trial's worth of linear probe per seed, the probe searching its rate (3 rates and,
    # one seed in two, a fourth past an end); 3 grid values + 2 the refinement usually adds
    assert ui.planned_trials(cfg) == 5
    r = step_ratio(cfg, "cpu")  # a subspace step against a full one: 1.1, or 1.04 with Fastfood's C passes
    assert ui.estimate_seconds(cfg) == pytest.approx(ui.LOAD_SECONDS + (1 + 0.5 * 3.5) * work * per
                                                     + 5 * work_sub * per * r)
    # by default the baseline searches its rate as the probe does (3 rates and, one seed in two, a fourth)
    assert ui.estimate_seconds(make_config(**TINY, dims=[20, 200, 2000])) == pytest.approx(
        ui.LOAD_SECONDS + (3.5 + 0.5 * 3.5) * work * per + 5 * work_sub * per * r)
    fixed_probe = cfg.but(probe_fixed_rate=True)
    assert ui.estimate_seconds(fixed_probe) == pytest.approx(ui.LOAD_SECONDS + 1.5 * work * per
                                                             + 5 * work_sub * per * r)
    searched = cfg.but(baseline_lr_search=True, lr_search=True, lr_search_beyond=0)  # 3 rates each, no more
    assert ui.estimate_seconds(searched) == pytest.approx(ui.LOAD_SECONDS + (3 + 0.5 * 3) * work * per
                                                          + 3 * 5 * work_sub * per * r)
    no_extras = cfg.but(refine=0, no_probe=True)
    assert ui.estimate_seconds(no_extras) == pytest.approx(ui.LOAD_SECONDS + work * per + 3 * work_sub * per * r)
    assert ui.estimate_seconds(cfg, "cuda (H100)") < ui.estimate_seconds(cfg, "cpu")
    # trials side by side in worker processes (--processes; the classic preset's default on 2 cores): the
    # trials' time over the measured gain, after the processes start
    preset = make_config(model="mlp", task="mnist5k")
    alone = ui.estimate_seconds(preset.but(processes=1))
    gain = 1 + json.loads((Path(ROOT) / "bench" / "parallel.json").read_text())["gain"]  # python bench/parallel_gain.py
    if (os.cpu_count() or 1) >= 2:
        assert ui.slots_of(preset) == 2 and ui.parallel_speedup(2) == pytest.approx(gain)
        assert ui.estimate_seconds(preset) == pytest.approx(
            ui.load_seconds(preset) + ui.PROCESS_START + (alone - ui.load_seconds(preset)) / gain)
    assert ui.slots_of(cfg) == 1 and ui.slots_of(preset.but(processes=1)) == 1
    # a calibrated step (whole steps on real batches, as a trial takes them) is compared with the formula's step
    # inside a trial: a classic net's loop overhead is counted once
    entry = {"model": "mlp", "task": "mnist5k", "batch_size": 64, "max_length": 64, "seconds_per_step": 0.002}
    assert ui.calibration_factor(entry) == pytest.approx(
        0.002 / (ui.seconds_per_step(preset) * ui.CLASSIC_LOOP))
    assert ui.log_grid(10, 10_000, 1) == [10, 100, 1000, 10000]
    assert ui.log_grid(10, 1000, 3) == [10, 20, 50, 100, 200, 500, 1000]
    assert ui.fmt_seconds(42) == "42 s" and ui.fmt_seconds(125) == "2 min 05 s"
    assert ui.detect_device().startswith(("cpu", "cuda", "mps"))


def test_import_recorded_is_idempotent(store, tmp_path):
    path = tmp_path / "rec.json"
    rid = seed_run(store, {10: [0.5], 100: [0.75], 1000: [0.8]})
    path.write_text(json.dumps(result(store, rid)))
    (tmp_path / "rec.md").write_text("Made with:\n\n```\nidim run --model minilm-l2 --dims 10,100,1000\n```\n")
    other = Store(tmp_path / "other")
    new = demo.import_recorded(other, path)
    assert demo.import_recorded(other, path) == new
    assert len(other.list_runs()) == 1
    run = other.get_run(new)
    assert run["status"] == "done" and run["config"]["recorded"]
    assert run["config"]["recorded_command"] == "idim run --model minilm-l2 --dims 10,100,1000"
    a, b = result(store, rid), result(other, new)
    for k in ("baseline_accuracy", "d90", "d90_interpolated", "by_d", "points", "D", "chance", "majority"):
        assert a[k] == b[k], k
    other.close()


def test_runs_delete_waits_for_a_running_run_to_stop(store):
    cfg = make_config(**TINY, dims=[20])
    rid = store.create_run(cfg, status="running", owner="test")
    at = app({"run": rid}, "pages/runs.py")
    assert at.selectbox(key="runs:select:run").value == rid
    assert at.button(key="runs:button:delete").disabled
    at.button(key="runs:button:cancel").click().run()
    assert store.cancel_requested(rid)


def roles_of(at):
    return by_role(figures(at)[0])


def test_live_warns_when_full_fine_tuning_did_not_learn(store):
    rid = seed_run(store, {10: [0.5], 100: [0.52]}, baseline=0.51, chance=0.5, majority=0.5)
    at = app({"run": rid}, "pages/live.py")
    assert any("did not learn this task" in w.value for w in at.warning)
    assert roles_of(at).get("d90") is None  # no d90 marker for a trivial threshold
    ok = seed_run(store, {10: [0.5], 100: [0.75]}, baseline=0.8)
    at = app({"run": ok}, "pages/live.py")
    assert not any("did not learn" in w.value for w in at.warning)


# Bad input typed into the form (or arriving in a shared link): an inline message, nothing queued.
APP_BAD = [
    ({"dims": ""}, "empty"),
    ({"dims": "0"}, "at least 1"),
    ({"dims": "-5"}, "at least 1"),
    ({"dims": "1e3, 500, -4"}, "at least 1"),
    ({"dims": "abc"}, "not a number"),
    ({"dims": "1.5"}, "whole number"),
    ({"dims": "10,,100"}, "empty entry"),
    ({"dims": "100000000"}, "larger than the model"),
    ({"model": "idim-tests/no-such-model"}, "HF_HUB_OFFLINE"),
    ({"model": "./no/such/dir"}, "does not exist"),
    ({"model": "{dir:notamodel}"}, "not a model directory"),
    ({"task": "csv:/no/such.csv"}, "does not exist"),
    ({"task": "{csv:empty}"}, "empty"),
    ({"task": "{csv:nolabel}"}, "usable rows"),  # the picker chooses 'other' as the label; 2 rows are too few
    ({"task": "{csv:oneclass}"}, "only one class"),
    ({"task": "{csv:latin1}"}, "not UTF-8"),
    ({"task": "{csv:binary}"}, "not a CSV"),
    ({"task": "{csv:huge}"}, "rows"),
]


@pytest.mark.parametrize("query,msg", APP_BAD, ids=[f"{k}={v}" for q, _ in APP_BAD for k, v in q.items()])
def test_explore_bad_input_is_answered_in_the_form(store, tmp_path, monkeypatch, query, msg):
    from test_cli import _materialise

    monkeypatch.setenv("HF_HUB_OFFLINE", "1")
    query = {k: _materialise(v, tmp_path) for k, v in query.items()}
    if "dims" in query and query["dims"] == "":
        at = app({"dims": "10"})
        at.text_input(key="explore:dims_custom:lm").set_value("").run()
    else:
        at = app({"model": "minilm-l1", **query} if "model" not in query else query)
        confirm_csv(at)
    submit(at)
    assert any(msg.lower() in e.lower() for e in errors(at)), errors(at)
    assert store.list_runs() == []


# ---------------------------------------------------------------------------
# the classic experiment
# ---------------------------------------------------------------------------
def test_classic_preset_fills_the_form_and_queues_a_classic_run(store):
    from idim_core.runconfig import CLASSIC_DEFAULTS

    at = app()
    at.button(key="explore:button:classic_preset").click().run()
    assert not at.exception, [e.value for e in at.exception]
    assert at.selectbox(key="explore:model").value == "mlp"
    assert at.selectbox(key="explore:task").value == "mnist5k"
    assert "mr" not in at.selectbox(key="explore:task").options  # images only for the classic nets
    assert at.selectbox(key="explore:method:classic").value == "did"
    assert any("from scratch" in c.value for c in at.caption)
    info = " ".join(i.value for i in at.info)
    m = re.search(r"about (?:(\d+) min )?(\d+) s\b", info)
    assert m and 10 <= int(m.group(1) or 0) * 60 + int(m.group(2)) <= 300, info  # 3 seeds: minutes, not tens of
    assert "3 full training trials" in info
    at.toggle(key="explore:shuffle_pixels").set_value(True).run()
    submit(at)
    runs = store.list_runs()
    assert len(runs) == 1
    cfg = runs[0]["config"]
    assert (cfg["model"], cfg["task"], cfg["method"], cfg["dims"]) == ("mlp", "mnist5k", "did",
                                                                        CLASSIC_DEFAULTS["dims"])
    assert cfg["shuffle_pixels"] is True and cfg["shuffle_labels"] is False
    assert cfg["lr_subspace"] == CLASSIC_DEFAULTS["lr_subspace"] and cfg["max_train"] is None


def test_classic_model_with_the_digits_task(store):
    at = app({"model": "lenet", "task": "digits"})
    assert at.selectbox(key="explore:task").value == "digits"
    at.toggle(key="explore:shuffle_labels").set_value(True).run()
    submit(at)
    cfg = store.list_runs()[0]["config"]
    assert (cfg["model"], cfg["task"], cfg["shuffle_labels"]) == ("lenet", "digits", True)


# ---------------------------------------------------------------------------
# your own CSV: column picker, preview, statistics
# ---------------------------------------------------------------------------
def _csv(tmp_path, name="reviews.csv", n=40):
    rows = ["id,sentence,sentence_b,category"]
    for i in range(n):
        rows.append(f"{i},this is review number {i} and it is {'good' if i % 2 else 'bad'},second part {i},"
                    f"{'pos' if i % 2 else 'neg'}")
    p = tmp_path / name
    p.write_text("\n".join(rows) + "\n", encoding="utf-8")
    return p


def test_csv_columns_are_picked_previewed_and_stored_in_the_run(store, tmp_path):
    p = _csv(tmp_path)
    at = confirm_csv(app({"model": "minilm-l1", "task": f"csv:{p}", "dims": "10,100"}))
    assert at.selectbox(key="explore:csv_text").value == "sentence"  # guessed from the header
    assert at.selectbox(key="explore:csv_label").value == "category"
    assert at.selectbox(key="explore:csv_pair").value == "(none)"
    assert len(at.dataframe) >= 1  # the preview
    facts = " ".join(c.value for c in at.caption)
    assert "2 classes" in facts and "majority class 0.50" in facts and "tokens on average" in facts, facts
    at.selectbox(key="explore:csv_pair").set_value("sentence_b").run()
    submit(at)
    cfg = store.list_runs()[0]["config"]
    assert (cfg["text_column"], cfg["text_pair_column"], cfg["label_column"]) == ("sentence", "sentence_b", "category")


def test_csv_same_column_for_text_and_label_is_an_error(store, tmp_path):
    p = _csv(tmp_path)
    at = confirm_csv(app({"model": "minilm-l1", "task": f"csv:{p}"}))
    at.selectbox(key="explore:csv_label").set_value("sentence").run()
    submit(at)
    assert any("same column" in e for e in errors(at)), errors(at)
    assert store.list_runs() == []


def test_uploads_are_kept_once_in_the_store(store, tmp_path):
    data = _csv(tmp_path).read_bytes()
    a = ui.save_upload(store.home, "my reviews.csv", data)
    b = ui.save_upload(store.home, "my reviews.csv", data)
    assert a == b and a.parent == store.home / "uploads" and a.read_bytes() == data
    assert " " not in a.name
    with pytest.raises(Exception, match="empty"):
        ui.save_upload(store.home, "e.csv", b"  ")
    header, df = ui.csv_preview(a)
    assert header == ["id", "sentence", "sentence_b", "category"] and len(df) == 5


def test_explore_shows_task_facts(store):
    from idim_core.tasks import load_task

    t = load_task("sms-spam")
    majority = t.majority()  # on its whole test split (texts also in training or validation left out)
    at = app({"task": "sms-spam"})
    facts = " ".join(c.value for c in at.caption)
    assert f"majority class {majority:.2f}" in facts and "Imbalanced" in facts, facts


# ---------------------------------------------------------------------------
# ready-made comparisons (assets/recorded/, recorded with the CLI)
# ---------------------------------------------------------------------------
def test_every_comparison_is_shipped_with_its_command():
    assert set(demo.available_comparisons()) == set(demo.COMPARISONS)
    for _title, names in demo.COMPARISONS.values():
        for n in names:
            res = demo.recorded_result(n)
            assert res["status"] == "done" and res["baseline_accuracy"] is not None and res["points"]
            cmd = demo.recorded_command(demo.RECORDED_DIR / f"{n}.json")
            assert cmd and cmd.startswith("idim run") and f"--model {res['model']}" in cmd


def test_compare_loads_a_ready_made_comparison_once(store):
    at = app(page="pages/compare.py")
    at.button(key="compare:button:pretraining").click().run()
    assert not at.exception, [e.value for e in at.exception]
    runs = store.list_runs()
    assert {r["config"]["model"] for r in runs} == {"minilm-l6", "minilm-l6-untrained"}
    assert all(r["config"]["recorded"] for r in runs)
    assert set(at.multiselect[0].value) == {r["id"] for r in runs}
    at = app({"comparison": "pretraining"}, "pages/compare.py")  # the Learn page's link: nothing imported twice
    assert len(store.list_runs()) == 2
    table = at.dataframe[0].value
    untrained = table[table["model"] == "minilm-l6-untrained"].iloc[0]
    assert "did not learn" in untrained["note"] and untrained["d90"] == "did not learn"


def test_learn_draws_the_recorded_comparisons(store):
    at = app(page="pages/learn.py")
    assert not at.exception, [e.value for e in at.exception]
    text = " ".join(m.value for m in at.markdown)
    assert "Measured here: Pre-training" in text and "Classic" in text and "shuffled labels" in text
    assert store.list_runs() == []  # drawn from the files, nothing imported


def test_switching_between_language_and_classic_models_keeps_the_form_valid(store):
    at = app()
    at.selectbox(key="explore:model").set_value("lenet").run()
    assert not at.exception, [e.value for e in at.exception]
    task = next(s for s in at.selectbox if s.label == "Task")
    assert task.value in ("digits", "mnist5k", "fashion-mnist") and "mr" not in task.options
    at.selectbox(key="explore:model").set_value("minilm-l2").run()
    assert not at.exception, [e.value for e in at.exception]
    task = next(s for s in at.selectbox if s.label == "Task")
    assert task.value == "trec6"
    submit(at)
    cfg = store.list_runs()[0]["config"]
    assert (cfg["model"], cfg["task"], cfg["method"], cfg["epochs"]) == ("minilm-l2", "trec6", "said", 2.0)


# ---------------------------------------------------------------------------
# parameter-efficient methods: the form, Live and Compare on the parameter axis
# ---------------------------------------------------------------------------
def seed_adapter_run(store: Store, method: str, levels: dict[int, tuple[int, list[float]]], baseline: float = 0.8,
                     **cfg_extra) -> str:
    """A finished lora/vera/bitfit/head run: level -> (trainable parameters, accuracy per seed)."""
    cfg = make_config(model="minilm-l2", task="mr", method=method, seeds=max(len(v[1]) for v in levels.values()),
                      **({"ranks": ",".join(map(str, levels))} if method in ("lora", "vera") else {}), **cfg_extra)
    rid = store.create_run(cfg, status="running", owner="test")
    store.update_run(rid, device="cpu", summary={"D": 15_468_290, "chance": 0.5, "majority": 0.55, "layers": 2})
    tid = store.start_trial(rid, "baseline", None, 0)
    store.finish_trial(tid, "done", accuracy=baseline, val_accuracy=baseline, steps=8, total_steps=8, seconds=4.0,
                       trainable=15_468_290, peak_mb=900.0)
    for level, (params, accs) in levels.items():
        for seed, acc in enumerate(accs):
            tid = store.start_trial(rid, "subspace", level, seed)
            store.finish_trial(tid, "done", accuracy=acc, val_accuracy=acc, steps=8, total_steps=8, seconds=3.0,
                               trainable=params, peak_mb=700.0)
    store.end_run(rid, "done")
    return rid


def test_explore_lora_asks_for_ranks_and_refuses_bad_ones(store):
    at = app({"method": "lora"})
    assert at.selectbox(key="explore:method:lm").value == "lora"
    assert at.text_input(key="explore:ranks:lora").value == "1,2,4,8,16"
    assert not [r for r in at.radio if r.key == "explore:dims_mode:lm"]  # no d for LoRA
    at.text_input(key="explore:ranks:lora").set_value("0,4").run()
    submit(at)
    assert any("ranks entry '0'" in e for e in errors(at)), errors(at)
    at.text_input(key="explore:ranks:lora").set_value("4,999").run()
    submit(at)
    assert any("larger than the layers' width" in e for e in errors(at)), errors(at)
    assert store.list_runs() == []
    assert at.button(key="explore:button:start")  # the form stays


def test_explore_queues_a_lora_run_with_its_ranks(store):
    at = app({**{k: str(v) for k, v in TINY.items()}, "method": "lora", "ranks": "1,4"})
    submit(at)
    assert errors(at) == []
    (run,) = store.list_runs()
    assert (run["config"]["method"], run["config"]["ranks"], run["config"]["dims"]) == ("lora", [1, 4], [1, 4])


def test_compare_puts_every_method_on_one_parameter_axis(store):
    said = seed_run(store, {100: [0.6, 0.62], 1000: [0.74, 0.75], 10_000: [0.78, 0.79]})
    lora = seed_adapter_run(store, "lora", {1: (9_986, [0.70, 0.71]), 4: (37_634, [0.76, 0.77])})
    head = seed_adapter_run(store, "head", {0: (770, [0.62, 0.63])})
    at = app({"runs": ",".join([said, lora, head])}, page="pages/compare.py")
    assert at.toggle(key="compare:toggle:by_params:1").value is True  # adapters present: the parameter axis by default
    fig = next(f for f in figures(at) if f["layout"]["xaxis"]["title"]["text"].startswith("trainable parameters"))
    pts = [t for t in fig["data"] if (t.get("meta") or {}).get("role") == "points"]
    assert {t["meta"]["method"] for t in pts} == {"said", "lora", "head"}
    lora_trace = next(t for t in pts if t["meta"]["method"] == "lora")
    assert lora_trace["x"] == [9_986, 37_634] and lora_trace["text"] == ["r = 1", "r = 4"]
    roles = [(t.get("meta") or {}).get("role") for t in fig["data"]]
    assert "full" in roles and "threshold" in roles and roles.count("p90") >= 2
    table = next(df.value for df in at.dataframe if "parameters at 90 %" in df.value.columns)
    row = table[table["method"] == "LoRA"].iloc[0]
    assert row["parameters at 90 %"].startswith("≈") and row["× d90"] != ""
    assert table[table["method"] == "head only"].iloc[0]["parameters at 90 %"] == "not reached"


def test_live_draws_a_lora_run_against_trainable_parameters(store):
    rid = seed_adapter_run(store, "lora", {1: (9_986, [0.70]), 4: (37_634, [0.76])})
    at = app({"run": rid}, page="pages/live.py")
    fig = figures(at)[0]
    assert fig["layout"]["xaxis"]["title"]["text"].startswith("trainable parameters")
    text = " ".join(m.value for m in at.markdown) + " ".join(str(m.value) for m in at.metric)
    assert "90 % point" in text or "params" in text, text


def test_explore_ray_choice_is_checked_in_the_form(store):
    at = app({**{k: str(v) for k, v in TINY.items()}, "dims": "10,100"})
    at.radio(key="explore:executor").set_value("Ray cluster").run()
    at.text_input(key="explore:ray_address").set_value("127.0.0.1:9").run()
    submit(at)
    assert any("cannot be reached" in e for e in errors(at)), errors(at)
    assert store.list_runs() == [] and at.button(key="explore:button:start")


def test_live_says_a_run_trains_on_ray(store):
    rid = seed_run(store, {10: [0.6], 100: [0.7]}, executor="ray", cpus_per_trial=1.0)
    store.update_run(rid, summary={**store.get_run(rid)["summary"], "cluster": "10.0.0.5:6379", "slots": 8})
    at = app({"run": rid}, page="pages/live.py")
    assert any("10.0.0.5:6379" in c.value and "8 at a time" in c.value for c in at.caption)  # the cluster, its slots
    assert any(m.label == "Executor" and m.value == "Ray" for m in at.metric)


def test_live_shows_the_gap_the_bound_the_bits_and_said_scales(store):
    cfg = make_config(model="minilm-l2", task="mr", method="said", dims=[100, 1000], seeds=1)
    rid = store.create_run(cfg, status="running", owner="test")
    store.update_run(rid, device="cpu", summary={"D": 15_468_290, "chance": 0.5, "majority": 0.55, "layers": 2,
                                                 "splits": {"train": 1024, "val": 256, "test": 256}})
    tid = store.start_trial(rid, "baseline", None, 0)
    store.finish_trial(tid, "done", accuracy=0.8, seconds=10.0, train_accuracy=0.95)
    for d, acc, tr in ((100, 0.66, 0.70), (1000, 0.74, 0.83)):
        tid = store.start_trial(rid, "subspace", d, 0)
        store.finish_trial(tid, "done", accuracy=acc, seconds=12.0, steps=64, trainable=d, train_accuracy=tr,
                           extra={"lam": [1.0, 1.2, 0.8, 1.1],
                                  "lam_names": ["embeddings", "layer.0", "layer.1", "head"],
                                  "lam_history": [[32, [1.0, 1.1, 0.9, 1.0]]],
                                  "quantised": {"2": 0.5, "4": acc - 0.01, "8": acc}})
    store.end_run(rid, "done")
    at = app({"run": rid}, page="pages/live.py")
    at.toggle(key="live:toggle:claims").set_value(True).run()
    assert not at.exception, [e.value for e in at.exception]
    table = next(df.value for df in at.dataframe if "gap (train − test)" in df.value.columns)
    assert list(table["gap (train − test)"]) == ["+0.040", "+0.090"]
    assert table.iloc[0]["ε at 32 bits"] != "" and table.iloc[1]["expected test ≥ (32 bits, 95 %)"] == "vacuous"
    kinds = [(f["data"][0].get("meta") or {}).get("role") for f in figures(at)]
    assert "lambda" in kinds and "bits" in kinds
    assert any("compression argument" in m.value for m in at.markdown)


def test_learn_draws_each_claim_from_the_shipped_records(store):
    if "claims" not in demo.available_comparisons():
        pytest.fail("assets/recorded lacks the claims records (bash scripts/record_comparisons.sh claims)")
    at = app(page="pages/learn.py")
    subs = " ".join(h.value for h in at.subheader)
    for claim in ("lowers the model's dimension", "trains faster", "reducing overfitting", "more stable"):
        assert claim in subs
    metas = [((f["data"] or [{}])[0].get("meta") or {}) for f in figures(at)]
    keys = {m.get("key") for m in metas if m.get("role") == "claim"}
    assert {"gap_mean", "mean"} <= keys
    assert "seconds_mean" not in keys  # trial times with extra evaluation passes are never set against the baseline's
    text = " ".join(m.value for m in at.markdown)
    # verdicts from idim_core/claims.py, with the numbers and intervals they rest on
    assert "a full fine-tuning step" in text and "beyond the test set's sampling" in text
    assert "**Depends: on the model.**" in text and "**Not shown.**" in text and "**Contradicted.**" in text
    assert len(at.dataframe) >= 3  # the numbers each verdict rests on, as tables
    assert store.list_runs() == []  # drawn from the files, nothing imported


def test_the_methods_comparison_loads_with_one_click_on_the_parameter_axis(store):
    at = app({"comparison": "methods"}, page="pages/compare.py")
    runs = store.list_runs()
    everyone = ["bitfit", "fourierft", "head", "ia3", "lora", "said", "tinylora", "unilora"]
    assert sorted(r["config"]["method"] for r in runs) == sorted(everyone + ["lora"])  # LoRA: all layers, the last
    assert sorted(r["config"].get("lora_layers") or 0 for r in runs if r["config"]["method"] == "lora") == [0, 1]
    assert at.toggle(key="compare:toggle:by_params:1").value is True
    fig = next(f for f in figures(at) if f["layout"]["xaxis"]["title"]["text"].startswith("trainable parameters"))
    methods_drawn = {(t.get("meta") or {}).get("method") for t in fig["data"]}
    assert set(everyone) <= methods_drawn  # the whole frontier, from a few numbers to D
    lora = sorted((t for t in fig["data"] if (t.get("meta") or {}).get("method") == "lora"
                   and (t.get("meta") or {}).get("role") == "points"), key=lambda t: t["x"][0])
    assert [t["x"][0] for t in lora] == [2_306, 9_986] and all(t["text"][0] == "r = 1" for t in lora)
    assert lora[0]["name"].startswith("LoRA (last layer)")


def test_explore_bitfit_needs_no_levels(store):
    at = app({**{k: str(v) for k, v in TINY.items()}, "method": "bitfit"})
    assert not [t for t in at.text_input if t.key and t.key.startswith("explore:ranks:")]
    submit(at)
    assert errors(at) == []
    (run,) = store.list_runs()
    assert run["config"]["method"] == "bitfit" and run["config"]["dims"] == [0]


def test_a_weak_ruler_is_said_on_live_and_compare(store):
    """A baseline barely above always guessing (0.66 against a majority of 0.55 on 256 test examples: the floor sets
    the threshold) gives a d90, but Live and Compare say in words that the ruler is weak."""
    rid = seed_run(store, {10: [0.5], 100: [0.58], 1000: [0.64]}, baseline=0.66, max_eval=256)
    res = result(store, rid)
    assert res["ruler"] == "weak" and res["d90_status"] in ("found", "below_grid")
    at = app({"run": rid}, "pages/live.py")
    assert any("weak ruler" in w.value.lower() for w in at.warning)
    assert any("weak ruler" in c.value for c in at.caption)
    other = seed_run(store, {10: [0.5], 100: [0.75], 1000: [0.8]}, baseline=0.85, max_eval=256)
    assert result(store, other)["ruler"] == "ok"
    at = app({"runs": f"{rid},{other}"}, "pages/compare.py")
    table = at.dataframe[0].value
    assert "weak ruler" in table[table["run"] == rid].iloc[0]["note"]
    assert "weak ruler" not in table[table["run"] == other].iloc[0]["note"]
    assert any("Which needs fewer dimensions" in s.value for s in at.subheader)


def test_the_quick_language_model_demo_queues_the_preset_in_one_click(store):
    from idim_core.runconfig import PRESETS

    at = app()
    assert any("Quick language-model demo" in m.value for m in at.markdown)
    at.button(key="explore:button:quick_lm").click().run()
    assert not at.exception, [e.value for e in at.exception]
    (run,) = store.list_runs()
    cfg, want = run["config"], PRESETS["quick-lm"]
    assert run["status"] == "queued"
    assert all(cfg[k] == v for k, v in want.items()), {k: (cfg[k], v) for k, v in want.items()}
    assert cfg["baseline_lr_search"] is True  # the ruler tuned, as every run's
