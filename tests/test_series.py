"""Pre-training the classic nets and series of runs (d90 against the amount of pre-training)."""
import json
import os
import signal
import subprocess
import sys
import time

import pytest
from conftest import ROOT, run_cli

FAST = ["--model", "mlp", "--task", "digits:5-9", "--dims", "10,100", "--seeds", "1", "--epochs", "1",
        "--refine", "0", "--threads", "1"]


def _cfg(**kw):
    from idim_core.runconfig import make_config

    base = dict(model="mlp", task="digits:5-9", pretrain="digits:0-4", pretrain_epochs=2, dims=[10], seeds=1,
                epochs=1.0, refine=0)
    return make_config(**{**base, **kw})


def test_pretrained_state_is_reused_not_remade(home, monkeypatch):
    from idim_core import pretrain
    from idim_core.cli import main
    from idim_core.store import Store

    for dims in ("10", "10,100"):  # two runs that need the same (net, source, epochs, seed)
        assert main(["run", *FAST[:4], "--pretrain", "digits:0-4", "--pretrain-epochs", "2", "--dims", dims,
                     "--seeds", "1", "--epochs", "1", "--refine", "0", "--quiet", "--json"]) == 0
    store = Store(home)
    runs = list(reversed(store.list_runs()))
    said = [[e["message"] for e in store.events(r["id"]) if "pre-trained state" in e["message"]] for r in runs]
    assert "made" in said[0][0] and "reused" in said[1][0], said
    assert len(list((home / "pretrained").glob("*.pt"))) == 1
    assert runs[1]["summary"]["pretrain"]["made"] is False
    # the first run's pre-training went through Live's progress bar (the run's summary), epoch by epoch
    assert runs[0]["summary"]["pretraining"] == {"epoch": 2, "epochs": 2, "source": "digits:0-4",
                                                 "loss": runs[0]["summary"]["pretraining"]["loss"]}
    assert "pretraining" not in runs[1]["summary"]  # reused: nothing trained
    # the cache is read, the source never trained again
    monkeypatch.setattr(pretrain, "make_state", lambda *a, **k: pytest.fail("remade a cached state"))
    _, facts = pretrain.pretrained_state(_cfg(), "cpu", home)
    assert facts["made"] is False and facts["source"] == "digits:0-4"
    # another amount is another state
    assert pretrain.cache_path(home, _cfg(pretrain_epochs=3)) != pretrain.cache_path(home, _cfg())


def test_target_head_is_new_and_body_pretrained(home):
    import torch

    from idim_core import classic, pretrain
    from idim_core.prep import _prepare_classic

    cfg = _cfg()
    prep, _, task = _prepare_classic(cfg, "cpu", home)
    net = prep.module
    fresh = classic.build("mlp", 8, 5, 0)
    state, _ = pretrain.pretrained_state(cfg, "cpu", home)
    assert task.num_labels == 5 and net.layers[-1].out_features == 5
    # the head: exactly a freshly initialised, seeded one (the source had its own head, not kept)
    assert torch.equal(net.layers[-1].weight, fresh.layers[-1].weight)
    assert not any(k.startswith("layers.2.") for k in state)
    # the body: the pre-trained weights, not the fresh ones
    assert torch.equal(net.layers[0].weight, state["layers.0.weight"])
    assert not torch.equal(net.layers[0].weight, fresh.layers[0].weight)
    assert task.info["pretrain"]["source_train_accuracy"] > 0.5  # it learned the source
    # and the new head owes nothing to the source's: the source's head started elsewhere (same seed, same shape
    # would give the same numbers, so the body would learn features fitted to the target's "new" head)
    import torch.nn.functional as F

    halves = _cfg(task="digits:5-9@b", pretrain="digits:5-9@a", pretrain_epochs=3)  # the same classes
    prep2, _, task2 = _prepare_classic(halves, "cpu", home)
    with torch.no_grad():
        acc = (prep2.module(task2.test.x).argmax(1) == task2.test.labels).float().mean().item()
    assert task2.info["pretrain"]["source_train_accuracy"] > 0.8
    assert acc < 0.5, f"the target's untrained head already reads the pre-trained features ({acc:.2f})"
    del F


def test_shuffled_control_differs_from_the_source_only_in_its_labels():
    import torch

    from idim_core.pretrain import parse_source, source_data

    x, y, k = source_data(parse_source("digits:0-4"))
    xs, ys, ks = source_data(parse_source("digits:0-4:shuffled"))
    assert torch.equal(x, xs) and k == ks == 5  # the same images, in the same order, the same classes
    assert torch.equal(torch.bincount(y), torch.bincount(ys))  # the same number of each label
    assert (y != ys).float().mean() > 0.5  # but not on the same images
    xd, yd, out = source_data(parse_source("digits:denoise"))
    assert yd is None and out == 64 and len(xd) > len(x)  # self-supervised: every training image, no labels


def _series_args(home):
    return ["series", *FAST, "--pretrain", "digits:0-4", "--pretrain-epochs", "0,1,2", "--json", "--home", str(home)]


def test_series_resumes_after_a_kill(home):
    from idim_core import series
    from idim_core.store import Store

    env = dict(os.environ, IDIM_HOME=str(home))
    p = subprocess.Popen([sys.executable, "-m", "idim_core.cli", *_series_args(home)], cwd=ROOT, env=env,
                         stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    t0 = time.time()
    before, store = None, None
    while time.time() - t0 < 120 and p.poll() is None:
        time.sleep(0.05)  # a fast machine trains an amount in about a second: look often, with one connection
        if store is None:
            if not (home / "idim.db").exists():
                continue
            store = Store(home)
        runs = [r for r in store.list_runs() if r["config"].get("series")]
        if len(runs) >= 2:  # the first amount finished, the second started
            os.kill(p.pid, signal.SIGKILL)
            p.wait()
            before = {r["id"]: (r["status"], [t["id"] for t in store.trials(r["id"])]) for r in runs}
            break
    if store is not None:
        store.close()
    assert before is not None, "the series ended before it could be killed"
    done_before = {rid for rid, (st, _) in before.items() if st == "done"}
    # at least one amount finished and one not (on a fast machine the poll may land after the second ended)
    assert done_before and len(done_before) < len(before)
    r = run_cli(*_series_args(home), home=home)
    assert r.returncode == 0, r.stderr
    out = json.loads(r.stdout)
    assert [e["pretrain_epochs"] for e in out["entries"]] == [0, 1, 2]
    assert all(e["status"] == "done" and e["d90_status"] for e in out["entries"])
    ids = [e["run_id"] for e in out["entries"]]
    assert set(before) <= set(ids) and len(set(ids)) == 3  # the killed run resumed, not started anew
    store = Store(home)
    for rid in done_before:  # finished amounts kept: their trials were not trained again
        assert [t["id"] for t in store.trials(rid)] == before[rid][1]
    assert "finished earlier, kept" in r.stderr and "resuming run" in r.stderr
    assert len(series.runs_of(store, out["series"])) == 3
    # and `idim resume SERIES_ID` finds it whole
    r2 = run_cli("resume", out["series"], "--json", "--home", str(home), home=home)
    assert r2.returncode == 0 and json.loads(r2.stdout)["entries"] == out["entries"], r2.stderr


@pytest.mark.parametrize("extra,msg", [
    (["--pretrain", "nope:0-4", "--pretrain-epochs", "1"], "unknown --pretrain source"),
    (["--pretrain", "digits:3-6", "--pretrain-epochs", "1"], "share the classes"),
    (["--pretrain", "mnist5k:0-4", "--pretrain-epochs", "1"], "input size"),
    (["--pretrain", "digits:0-4", "--pretrain-epochs", "-1"], "--pretrain-epochs"),
    (["--pretrain", "digits:0-4", "--pretrain-epochs", "1.5"], "invalid int"),
    (["--pretrain-epochs", "3"], "needs --pretrain"),
    (["--width", "0"], "--width"),
])
def test_bad_pretrain_input_run(home, extra, msg):
    r = run_cli("run", *FAST, *extra, home=home)
    _refused(r, msg, home)


@pytest.mark.parametrize("extra,msg", [
    (["--pretrain", "digits:0-4", "--pretrain-epochs", "0,-3"], "at least 0"),
    (["--pretrain", "digits:0-4", "--pretrain-epochs", "0,2.5"], "whole number"),
    (["--pretrain", "digits:0-4", "--widths", "50,0"], "at least 1"),
    (["--pretrain", "digits:5-9"], "share the classes"),
    (["--pretrain", "mnist5k:0-4"], "input size"),
    (["--pretrain", "nope"], "unknown --pretrain source"),
    ([], "needs --pretrain"),
])
def test_bad_series_input(home, extra, msg):
    r = run_cli("series", *FAST, *extra, home=home)
    _refused(r, msg, home)


def _refused(r, msg, home):
    assert r.returncode == 2, r.stderr
    assert len(r.stderr.strip().splitlines()) == 1 and msg in r.stderr and "Traceback" not in r.stderr, r.stderr
    if (home / "idim.db").exists():
        from idim_core.store import Store

        assert Store(home).list_runs() == []
    assert not (home / "pretrained").exists()


def test_series_page_draws_a_series_and_queues_one(home, monkeypatch):
    """The Series page: a finished series drawn (d90 against epochs, the control beside it); the form queues a
    new series' runs for the worker (nothing trains in the page)."""
    from streamlit.testing.v1 import AppTest

    from idim_core import series
    from idim_core.cli import main
    from idim_core.store import Store

    monkeypatch.setenv("IDIM_NO_AUTOSTART_WORKER", "1")
    assert main(["series", *FAST, "--pretrain", "digits:0-4", "--control", "--pretrain-epochs", "0,1",
                 "--quiet", "--json"]) == 0
    at = AppTest.from_file(str(ROOT / "app.py"), default_timeout=60)
    at.run()
    at.switch_page("pages/series.py").run()
    assert not at.exception, [e.value for e in at.exception]
    figs = [json.loads(el.proto.spec) for el in at.get("plotly_chart")]
    roles = [t["meta"]["role"] for t in figs[0]["data"] if isinstance(t.get("meta"), dict)]
    assert "series" in roles and "control" in roles
    at.text_input(key="series:text:task").set_value("digits:ge5@b")
    at.text_input(key="series:text:source").set_value("digits@a")
    at.text_input(key="series:text:amounts").set_value("0,2")
    at.button[0].click().run()
    assert not at.exception, [e.value for e in at.exception]
    store = Store(home)
    queued = [r for r in store.list_runs() if r["status"] == "queued"]
    assert len(queued) == 3 and {r["config"]["task"] for r in queued} == {"digits:ge5@b"}  # 0, 2, control 2
    assert len(series.list_series(store)) == 2


def test_learn_tells_a_recorded_series(home, monkeypatch, tmp_path):
    """Learn's pre-training section: the recorded series drawn, its verdict worded from the intervals."""
    from streamlit.testing.v1 import AppTest

    from idim_core import series
    from idim_core.cli import main
    from idim_core.store import Store

    monkeypatch.setenv("IDIM_NO_AUTOSTART_WORKER", "1")
    assert main(["series", *FAST, "--pretrain", "digits:0-4", "--pretrain-epochs", "0,1", "--quiet", "--json"]) == 0
    store = Store(home)
    sid = series.list_series(store)[0]["id"]
    rec = tmp_path / "series"
    rec.mkdir()
    (rec / "digits.json").write_text(json.dumps(series.export(store, sid, "idim series ...")))
    monkeypatch.setattr(series, "RECORDED_SERIES", rec)
    at = AppTest.from_file(str(ROOT / "app.py"), default_timeout=60)
    at.run()
    at.switch_page("pages/learn.py").run()
    assert not at.exception, [e.value for e in at.exception]
    words = " ".join(m.value for m in at.markdown)
    assert "Does pre-training shrink d90?" in " ".join(h.value for h in at.header)
    out = series.summary(store, sid)
    assert series.verdict(out, series.store_results(store, out))[0].split(":")[0] in words


def test_the_verdict_states_the_estimates_direction_across_amounts_but_decides_from_the_ratio():
    """The direction over amounts is said as a direction; whether the largest amount changes d90 is read from one
    bootstrap of the ratio of the two runs (the recorded series' own runs), and a run without its result says so."""
    from idim_core import series

    rec = series.recorded("mlp-digit-ge5-amounts")
    out, results = rec["series"], series.recorded_results(rec)
    lines = series.verdict(out, results)
    trend = next(x for x in lines if x.startswith("mnist5k@a, the estimates"))
    assert "falls at every amount" in trend and "the ratio above says" in trend
    assert any(x.startswith("mnist5k@a: ") and ": lower (ratio after / from scratch " in x and x.endswith(": shown")
               for x in lines)
    assert any(x.startswith("mnist5k@a:shuffled: ") and x.endswith("no change shown") for x in lines)
    assert all("intervals apart" not in x and "intervals overlap" not in x for x in lines)
    # without the runs' results there is nothing to bootstrap: no verdict is made up
    assert any("no comparison" in x for x in series.verdict(out))


def test_learn_tells_the_shipped_series_over_amounts_and_widths(home, monkeypatch):
    """The earlier records (over five amounts, at 1e-2, over widths) stay on Learn below the recorded pairings,
    each line worded from the bootstrap of the ratio."""
    from streamlit.testing.v1 import AppTest

    from idim_core import series

    monkeypatch.setenv("IDIM_NO_AUTOSTART_WORKER", "1")
    amounts, widths = series.recorded("mlp-digit-ge5-amounts"), series.recorded("mlp-digit-ge5-widths")
    assert amounts["series"]["amounts"] == [0, 1, 3, 10, 30] and len(amounts["runs"]) == 9
    assert widths["series"]["widths"] == [50, 100, 200, 400] and len(widths["runs"]) == 8
    at = AppTest.from_file(str(ROOT / "app.py"), default_timeout=60)
    at.run()
    at.switch_page("pages/learn.py").run()
    assert not at.exception, [e.value for e in at.exception]
    words = " ".join(m.value for m in at.markdown)
    other = series.recorded("mlp-digit-ge5-amounts-lr-1e-2")  # the same series pre-trained at 1e-2
    lines = [line for rec in (amounts, widths, other) for line in series.verdict(rec["series"],
                                                                               series.recorded_results(rec))]
    for line in lines:
        assert line in words, line
    assert "falls at every amount" in words and ": shown" in words  # the earlier recordings, below the pairings
