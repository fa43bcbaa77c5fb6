"""Explore's form: presets and family switches, the back button's ?run=ID, budget warnings, the estimate.

Rendered with streamlit.testing.v1.AppTest against a real SQLite store in tmp_path (IDIM_HOME), as
tests/test_app.py does; nothing trains here (IDIM_NO_AUTOSTART_WORKER=1).  The estimate's store
functions are checked on a real store holding finished trials.
"""
from __future__ import annotations

import json
import os
import re

import pytest
from streamlit.testing.v1 import AppTest

from idim_core import ui
from idim_core.runconfig import CLASSIC_DEFAULTS, DEFAULTS, make_config
from idim_core.store import Store
from idim_core.ui import estimates
from idim_core.ui.forms import prefill_from_config
from idim_core.ui.keys import keys_for

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
APP = os.path.join(ROOT, "app.py")
K = keys_for("explore")
TIMEOUT = 60


@pytest.fixture
def store(home, monkeypatch):
    monkeypatch.setenv(ui.NO_AUTOSTART_ENV, "1")
    s = Store(home)
    yield s
    s.close()


def app(query: dict | None = None) -> AppTest:
    at = AppTest.from_file(APP, default_timeout=TIMEOUT)
    at.query_params.update(query or {})
    at.run()
    ok(at)
    return at


def ok(at: AppTest) -> AppTest:
    assert not at.exception, [e.value for e in at.exception]
    return at


def errors(at: AppTest) -> list[str]:
    return [e.value for e in at.error]


def warnings(at: AppTest) -> list[str]:
    return [w.value for w in at.warning]


def info(at: AppTest) -> str:
    return " ".join(i.value for i in at.info)


def task_box(at: AppTest):
    return at.selectbox(key=K("task"))


# ---------------------------------------------------------------------------
# item 3: the classic preset and back, and links that pair a model with the other family's task
# ---------------------------------------------------------------------------
def test_back_from_the_classic_preset_to_a_language_model_resets_task_and_method(store):
    at = app()
    at.button(key=K("button", "classic_preset")).click().run()
    ok(at)
    assert at.selectbox(key=K("model")).value == "mlp"
    assert task_box(at).value == CLASSIC_DEFAULTS["task"]
    assert at.selectbox(key=K("method", "classic")).value == "did"
    at.selectbox(key=K("model")).set_value("minilm-l6").run()
    ok(at)
    assert task_box(at).value == DEFAULTS["task"] == "trec6"
    assert at.selectbox(key=K("method", "lm")).value == DEFAULTS["method"] == "said"
    assert errors(at) == [] and warnings(at) == []
    assert not [t for t in at.text_input if t.key == K("task_csv")]  # no CSV path asked for
    assert dict(at.query_params) == {}  # the preset's link no longer describes the form
    assert "Rough estimate" in info(at)
    # and the same session goes back to the classic preset and to a language model again
    at.button(key=K("button", "classic_preset")).click().run()
    ok(at)
    assert (at.selectbox(key=K("model")).value, task_box(at).value) == ("mlp", "mnist5k")
    at.selectbox(key=K("model")).set_value("minilm-l2").run()
    ok(at)
    assert (task_box(at).value, at.selectbox(key=K("method", "lm")).value) == ("trec6", "said")
    at.button(key=K("button", "start")).click().run()
    ok(at)
    cfg = store.list_runs()[0]["config"]
    assert (cfg["model"], cfg["task"], cfg["method"], cfg["dims"]) == ("minilm-l2", "trec6", "said", DEFAULTS["dims"])


def test_the_preset_after_changes_sets_every_classic_value(store):
    at = app({"model": "lenet", "task": "digits", "epochs": "3", "batch_size": "16", "method": "said"})
    at.toggle(key=K("shuffle_labels")).set_value(True).run()
    at.button(key=K("button", "classic_preset")).click().run()
    ok(at)
    assert (at.selectbox(key=K("model")).value, task_box(at).value) == ("mlp", "mnist5k")
    assert at.selectbox(key=K("method", "classic")).value == "did"
    assert at.number_input(key=K("epochs", "classic")).value == CLASSIC_DEFAULTS["epochs"]
    assert at.number_input(key=K("batch_size", "classic")).value == CLASSIC_DEFAULTS["batch_size"]
    assert at.toggle(key=K("shuffle_labels")).value is False
    assert at.radio(key=K("dims_mode", "classic")).value == "default grid"


@pytest.mark.parametrize("query,model,task,method", [
    ({"model": "minilm-l6", "task": "digits"}, "minilm-l6", "trec6", "said"),
    ({"model": "minilm-l6", "task": "mnist5k", "method": "did"}, "minilm-l6", "trec6", "did"),
    ({"task": "digits"}, "minilm-l6", "trec6", "said"),
    ({"model": "mlp", "task": "mr"}, "mlp", "mnist5k", "did"),
    ({"model": "lenet", "task": "sms-spam"}, "lenet", "mnist5k", "did"),
])
def test_a_link_with_the_other_familys_task_gets_one_line_and_the_default_task(store, query, model, task, method):
    at = app(query)
    assert at.selectbox(key=K("model")).value == model
    assert task_box(at).value == task
    fam = "classic" if model in ("mlp", "lenet") else "lm"
    assert at.selectbox(key=K("method", fam)).value == method
    assert errors(at) == []
    lines = warnings(at)
    assert len(lines) == 1 and "\n" not in lines[0], lines
    assert query["task"] in lines[0] and f"uses {task}" in lines[0], lines
    assert not [t for t in at.text_input if t.key == K("task_csv")]


def test_a_matching_link_says_nothing(store):
    at = app({"model": "lenet", "task": "digits"})
    assert task_box(at).value == "digits" and warnings(at) == [] and errors(at) == []


# ---------------------------------------------------------------------------
# item 6: the back button from Live lands on /?run=ID: the form shows what was submitted
# ---------------------------------------------------------------------------
def test_back_from_live_shows_the_submitted_form(store):
    q = {"model": "minilm-l1", "task": "sms-spam", "method": "did", "projection": "sparse", "dims": "20,200",
         "seeds": "2", "epochs": "3", "max_train": "512", "batch_size": "16", "lr_full": "0.0001"}
    at = app(q)
    at.button(key=K("button", "start")).click().run()
    ok(at)
    (run,) = store.list_runs()
    assert at.query_params.get("run") == run["id"] and at.title[0].value == "Live run"
    back = app({"run": run["id"]})  # a fresh Explore with the address the back button lands on
    assert back.title[0].value.startswith("Intrinsic dimension")
    assert back.selectbox(key=K("model")).value == "minilm-l1"
    assert task_box(back).value == "sms-spam"
    assert back.selectbox(key=K("method", "lm")).value == "did"
    assert back.selectbox(key=K("projection")).value == "sparse"
    assert back.radio(key=K("dims_mode", "lm")).value == "custom list"
    assert back.text_input(key=K("dims_custom", "lm")).value == "20,200"
    assert back.number_input(key=K("seeds")).value == 2
    assert back.number_input(key=K("epochs", "lm")).value == 3.0
    assert back.number_input(key=K("max_train")).value == 512
    assert back.number_input(key=K("batch_size", "lm")).value == 16
    assert back.number_input(key=K("lr_full", "lm")).value == pytest.approx(1e-4)
    assert warnings(back) == [] and errors(back) == []
    # the same form submitted again is the same run
    back.button(key=K("button", "start")).click().run()
    ok(back)
    again = store.list_runs()[0]["config"]
    assert {k: again[k] for k in run["config"]} == run["config"]


def test_back_to_a_classic_run_and_a_lora_run(store):
    classic = store.create_run(make_config(model="lenet", task="digits", shuffle_pixels=True, seeds=2), status="queued")
    at = app({"run": classic})
    assert (at.selectbox(key=K("model")).value, task_box(at).value) == ("lenet", "digits")
    assert at.toggle(key=K("shuffle_pixels")).value is True
    assert at.radio(key=K("dims_mode", "classic")).value == "default grid"
    lora = store.create_run(make_config(model="minilm-l2", task="mr", method="lora", ranks="2,8"), status="queued")
    at = app({"run": lora})
    assert at.selectbox(key=K("method", "lm")).value == "lora"
    assert at.text_input(key=K("ranks", "lora")).value == "2,8"
    assert errors(at) == []


def test_an_unknown_run_in_the_address_leaves_the_defaults(store):
    for bad in ("0123456789ab", "../../etc", ""):
        at = app({"run": bad})
        assert at.selectbox(key=K("model")).value == DEFAULTS["model"] and errors(at) == []


def test_prefill_from_config_gives_the_links_values():
    cfg = make_config(model="minilm-l2", task="mr", method="said", dims=[100, 1000], seeds=3, epochs=1.5,
                      said_groups="tensor", threads=2)
    pre = prefill_from_config(cfg.to_dict())  # a stored run's config, as Explore's ?run=ID reads it
    assert {k: pre[k] for k in ("dims", "seeds", "epochs", "said_groups", "threads")} == {
        "dims": "100,1000", "seeds": "3", "epochs": "1.5", "said_groups": "tensor", "threads": "2"}
    assert "lora_targets" not in pre and "shuffle_labels" not in pre and "ranks" not in pre
    lora = prefill_from_config(make_config(model="minilm-l2", task="mr", method="lora", ranks="2,8").to_dict())
    assert lora["ranks"] == "2,8" and "dims" not in lora and lora["lora_targets"] == "query-value"
    shuffled = make_config(model="mlp", task="digits", shuffle_labels=True).to_dict()
    assert prefill_from_config(shuffled)["shuffle_labels"] == "1"


# ---------------------------------------------------------------------------
# item 7: a budget too small to learn is warned about before Start (not refused)
# ---------------------------------------------------------------------------
def test_a_budget_too_small_to_learn_is_warned_about_before_start(store):
    at = app({"model": "minilm-l1", "max_train": "8", "epochs": "0.25"})
    lines = warnings(at)
    assert any("optimiser step" in w and "1 optimiser step" in w for w in lines), lines
    assert any("per class" in w for w in lines), lines
    assert not any("--" in w for w in lines), lines  # the form's words, not the CLI's flags
    at.button(key=K("button", "start")).click().run()  # a warning, not a refusal
    ok(at)
    assert errors(at) == [] and len(store.list_runs()) == 1


def test_the_default_budget_is_not_warned_about(store):
    at = app()
    assert not [w for w in warnings(at) if "optimiser step" in w or "per class" in w]
    at.selectbox(key=K("model")).set_value("mlp").run()
    ok(at)
    assert not [w for w in warnings(at) if "optimiser step" in w or "per class" in w]


# ---------------------------------------------------------------------------
# item 10: the estimate follows this machine's measured speed and says when the machine is busy
# ---------------------------------------------------------------------------
def classic(**kw) -> dict:
    """The classic preset's run (make_config fills in CLASSIC_DEFAULTS for a classic net)."""
    return make_config(**{"model": "mlp", "task": "mnist5k", **kw})


def finished_run(store: Store, cfg: dict, seconds: float, steps: int, device: str = "cpu", n: int = 3,
                 status: str = "done") -> str:
    rid = store.create_run(cfg, status="running", owner="test")
    store.update_run(rid, device=device)
    tid = store.start_trial(rid, "baseline", None, 0)
    store.finish_trial(tid, "done", accuracy=0.9, steps=steps, total_steps=steps, seconds=seconds)
    for d in cfg.grid[:n]:
        tid = store.start_trial(rid, "subspace", d, 0)
        sub = estimates.predicted_trial_seconds(cfg, "subspace", steps, device)
        base = estimates.predicted_trial_seconds(cfg, "baseline", steps, device)
        store.finish_trial(tid, "done", accuracy=0.8, steps=steps, total_steps=steps, seconds=seconds * sub / base)
    if status == "done":
        store.end_run(rid, "done")
    return rid


def test_estimate_is_the_formula_until_a_trial_has_run_here(store):
    cfg = classic()
    got = estimates.estimate(store, cfg, "cpu", load=(0.1, 2))
    assert got["measured"] is None and got["busy"] is None
    assert got["seconds"] == pytest.approx(estimates.estimate_seconds(cfg, "cpu"))


def test_estimate_follows_the_measured_speed_of_this_machine(store):
    cfg = classic()
    formula = estimates.estimate_seconds(cfg, "cpu")
    steps = estimates.steps_per_trial(cfg)
    predicted = estimates.predicted_trial_seconds(cfg, "baseline", steps)
    finished_run(store, cfg, seconds=6 * predicted, steps=steps)  # this machine: 6x slower than the formula
    got = estimates.estimate(store, cfg, "cpu", load=(0.1, 2))
    assert got["measured"] == {"factor": pytest.approx(6.0), "trials": 4, "task": True}
    load = estimates.load_seconds(cfg)
    assert got["seconds"] == pytest.approx(load + 6 * (formula - load))
    # another budget of the same model and task still calibrates it (each trial predicted from its own run)
    small = classic(batch_size=32, epochs=2.0)
    assert estimates.estimate(store, small, "cpu", load=(0.1, 2))["measured"]["factor"] == pytest.approx(6.0)
    # other devices, other models and recorded runs do not count
    assert estimates.measured_speed(store, cfg, "cuda (H100)") is None
    assert estimates.measured_speed(store, classic(model="lenet"), "cpu") is None
    # the most recent trials win: a later, faster run moves the estimate down
    finished_run(store, cfg, seconds=2 * predicted, steps=steps, n=10)
    assert estimates.measured_speed(store, cfg, "cpu")["factor"] == pytest.approx(2.0)


def test_estimate_of_another_task_uses_the_same_models_trials(store):
    cfg = classic()
    steps = estimates.steps_per_trial(cfg)
    finished_run(store, cfg, seconds=3 * estimates.predicted_trial_seconds(cfg, "baseline", steps), steps=steps)
    digits = classic(task="digits")
    got = estimates.measured_speed(store, digits, "cpu")
    assert got["factor"] == pytest.approx(3.0) and got["task"] is False


def test_estimate_says_when_the_machine_is_busy(store):
    cfg = classic()
    assert estimates.busy_reason(store, load=(0.5, 2)) is None
    assert estimates.busy_reason(store, load=(5.0, 2)) == "the load is 5.0 on 2 cores"
    finished_run(store, make_config(model="minilm-l1", task="mr", dims=[10]), seconds=5, steps=4, status="running")
    assert estimates.busy_reason(store, load=(0.5, 2)) == "another run is training"
    assert estimates.estimate(store, cfg, "cpu", load=(0.5, 2))["busy"] == "another run is training"


def test_the_form_shows_the_measured_estimate_and_the_busy_machine(store):
    cfg = classic()
    steps = estimates.steps_per_trial(cfg)
    finished_run(store, cfg, seconds=6 * estimates.predicted_trial_seconds(cfg, "baseline", steps), steps=steps)
    at = app({"model": "mlp", "task": "mnist5k", "seeds": "2"})  # seed 1 has no baseline: 1 full training
    text = info(at)
    assert "last 4 finished trials" in text, text  # the measured speed, and how many trials it rests on
    expected = estimates.estimate(store, classic(seeds=2), "cpu")["seconds"]
    assert f"about {estimates.fmt_seconds(expected)}" in text, text
    finished_run(store, make_config(model="minilm-l1", task="mr", dims=[10]), seconds=5, steps=4, status="running")
    text = info(app({"model": "mlp", "task": "mnist5k"}))
    assert "busy" in text, text


def test_the_form_says_the_formula_is_a_guess_before_any_trial(store):
    text = info(app())
    assert "2-core CPU" in text and "refines" in text, text  # a guess, and what replaces it
    assert re.search(r"about \d", text), text


def test_the_form_uses_the_workers_calibration_before_any_trial(store):
    """The worker times a few steps when it starts (calibration.json beside the store): the form's estimate
    then speaks of this machine, and says so."""
    from idim_core.runconfig import make_config
    from idim_core.ui import estimates

    cfg = make_config()
    formula = estimates.seconds_per_step(cfg)
    (store.home / "calibration.json").write_text(json.dumps({"minilm-l6|cpu": {
        "model": "minilm-l6", "task": "mr", "device": "cpu", "seconds_per_step": 2 * formula, "batch_size": 32,
        "max_length": 64, "at": 1.0}}), encoding="utf-8")
    text = info(app())
    assert "timed when the worker started" in text and f"{2 * formula:.2f} s per full fine-tuning step" in text, text
    guess = estimates.estimate(store, cfg, "cpu")
    assert guess["calibration"]["factor"] == pytest.approx(2.0)


def test_a_one_thread_calibration_prices_trials_side_by_side(store):
    """The classic preset trains two one-thread trials side by side: a calibration timed on one thread gives each
    process that speed (no PARALLEL_GAIN guessed); one timed on two threads keeps the guess."""
    from idim_core.ui import estimates

    cfg = classic()
    n = estimates.slots_of(cfg, "cpu")
    if n < 2:
        pytest.skip("one core: the classic preset trains one trial at a time here")
    step = estimates.seconds_per_step(cfg) * estimates.loop_overhead(cfg)
    load, plain = estimates.load_seconds(cfg), estimates.estimate_seconds(cfg, "cpu")
    train = (plain - load - estimates.PROCESS_START) * estimates.parallel_speedup(n)  # the trials one after another

    def entry(threads):
        return {"model": "mlp", "task": "mnist5k", "device": "cpu", "seconds_per_step": 0.5 * step, "batch_size": 64,
                "max_length": 64, "at": 1.0, "threads": threads}

    (store.home / "calibration.json").write_text(json.dumps({"mlp|cpu": entry(1)}), encoding="utf-8")
    got = estimates.estimate(store, cfg, "cpu", load=(0.1, 2))
    assert got["calibration"]["factor"] == pytest.approx(0.5)
    assert got["seconds"] == pytest.approx(load + estimates.PROCESS_START + 0.5 * train / n)
    (store.home / "calibration.json").write_text(json.dumps({"mlp|cpu": entry(2)}), encoding="utf-8")
    got = estimates.estimate(store, cfg, "cpu", load=(0.1, 2))
    assert got["seconds"] == pytest.approx(load + 0.5 * (plain - load))


def test_the_calibration_times_the_trial_loop_on_the_threads_its_trials_use(store):
    """A real calibration of the classic preset (the MLP on 8x8 digits, so it is quick): the trial loop's own
    steps, on one thread where its trials train side by side in one-thread processes, and torch's threads back
    as they were."""
    import torch

    from idim_core import calibrate
    from idim_core.ui import estimates

    cfg = classic(task="digits")
    before = torch.get_num_threads()
    e = calibrate.calibrate_run(store.home, cfg, "cpu")
    assert torch.get_num_threads() == before
    assert e["threads"] == (1 if estimates.slots_of(cfg, "cpu") > 1 else before)
    assert 1e-5 < e["seconds_per_step"] < 1.0
    assert calibrate.lookup(store.home, cfg, "cpu")["seconds_per_step"] == e["seconds_per_step"]


def test_the_form_says_what_three_seeds_would_cost_for_a_one_seed_run(store):
    at = app()
    cap = " ".join(c.value for c in at.caption)
    assert "1 seed" in cap and "test examples" in cap and re.search(r"3 seeds[^.]* about \d", cap), cap


def test_an_estimate_is_shown_as_a_range_as_wide_as_its_basis(home, monkeypatch):
    monkeypatch.setenv("IDIM_NO_AUTOSTART_WORKER", "1")
    from idim_core.ui import estimates

    formula = estimates.estimate_range({"seconds": 300})
    measured = estimates.estimate_range({"seconds": 300, "measured": {"trials": 3}})
    busy = estimates.estimate_range({"seconds": 300, "busy": "load 5"})
    assert formula[0] < measured[0] < 300 < measured[1] < formula[1] < busy[1]
    assert estimates.fmt_range(40, 70) == "40 – 70 s" and estimates.fmt_range(360, 540) == "6 – 9 min"
    assert estimates.fmt_range(170, 190) == "about 3 min"
    assert estimates.fmt_range(4000, 9000) == "1.1 – 2.5 h"
    at = AppTest.from_file(os.path.join(ROOT, "app.py"), default_timeout=60).run()
    text = " ".join(i.value for i in at.info)
    assert re.search(r"Rough estimate: (\d+ – \d+ (s|min)|[\d.]+ – [\d.]+ h|about \d+ min)\*\*", text), text


def test_the_form_s_number_ranges_are_the_config_s(store):
    """A range exists once: each of Explore's number inputs takes its bounds from the RunConfig field that
    make_config checks (runconfig.bounds), so the form can neither offer a value the CLI refuses nor refuse one
    it takes."""
    from idim_core.runconfig import bounds

    at = app()
    by_key = {n.key: n for n in at.number_input}
    checked = 0
    for name in ("seeds", "max_train", "lr_full", "lr_subspace", "max_length", "max_eval", "batch_size", "threads",
                 "epochs"):
        key = next((k for k in by_key if k and k.split(":")[1] == name), None)
        assert key is not None, (name, sorted(k for k in by_key if k))
        lo, hi = bounds(name)
        proto = by_key[key].proto
        assert (proto.min, proto.max) == (pytest.approx(lo), pytest.approx(hi)), name
        checked += 1
    assert checked == 9
    # and the edges are what make_config takes: the top accepted, one past it refused
    from idim_core.errors import UserError

    assert make_config(seeds=bounds("seeds")[1]).seeds == bounds("seeds")[1]
    with pytest.raises(UserError, match="--seeds"):
        make_config(seeds=bounds("seeds")[1] + 1)
