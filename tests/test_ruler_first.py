"""The ruler from the first rate (issue 48): a baseline that searches its rate, trained one trial at a time, draws
the full-training line and the threshold from its first rate (the run's own), marked provisional, then the first
point trains, then the search's other rates; the final ruler, the threshold and d90 are those of the search trained
first.  Real store, real runner, the tiny bundled models."""
import re

import pytest

pytestmark = pytest.mark.slow

LM = dict(model="minilm-l1", task="mr", max_train=64, max_eval=32, epochs=2, max_length=32, threads=2,
          dims=[10, 100], refine=1, seeds=1)
DIGITS = dict(model="mlp", task="digits", dims=[10, 30, 300], refine=2, seeds=2, processes=1, threads=1)
TRIAL_FACTS = ("kind", "d", "seed", "status", "accuracy", "val_accuracy", "steps", "total_steps", "trainable",
               "correct", "train_accuracy")


class Watch:
    """The runner's progress events, with what the store and the chart say at the moments that matter."""

    def __init__(self, store, run_id):
        self.store, self.run_id = store, run_id
        self.events, self.seen = [], {}

    def look(self, when: str) -> None:
        from idim_core.results import result
        from idim_core.ui.figures import run_figure

        res = result(self.store, self.run_id, ci=False)
        self.seen[when] = {"trials": self.store.trials(self.run_id), "res": res, "fig": run_figure(res)}

    def __call__(self, e: dict) -> None:
        self.events.append(e)
        if e["type"] == "trial_start" and e["kind"] == "subspace" and "first point starts" not in self.seen:
            self.look("first point starts")
        elif e["type"] == "trial_end" and e["kind"] == "subspace" and "first point ended" not in self.seen:
            self.look("first point ended")
        elif e["type"] == "trial_start" and e["kind"] == "baseline" and "first point ended" in self.seen:
            self.look("other rates train")


def _run(home, first_rate: bool, base: dict = LM):
    from idim_core.runconfig import make_config
    from idim_core.runner import Runner
    from idim_core.store import Store

    store = Store(home)
    rid = store.create_run(make_config(**base), status="running", owner="test")
    watch = Watch(store, rid)
    runner = Runner(store, rid, watch, owner="test")
    runner.ruler_first_rate = first_rate
    runner.run()
    return store, rid, watch


@pytest.fixture(scope="module")
def both(tmp_path_factory):
    """The default sweep's order (the ruler from the first rate) and the search trained first, on the same run."""
    return (_run(tmp_path_factory.mktemp("split") / "home", True),
            _run(tmp_path_factory.mktemp("whole") / "home", False))


def _trace(fig, role):
    return next(t for t in fig.data if (t.meta or {}).get("role") == role)


def test_the_ruler_from_the_first_rate_is_stored_and_drawn_before_the_first_point(both):
    from idim_core.d90 import describe, short

    (store, rid, watch), _ = both
    assert [e["type"] for e in watch.events if e["type"] in ("ruler_provisional", "trial_end")][0] == \
        "ruler_provisional"  # the first thing to end is the ruler
    seen = watch.seen["first point starts"]
    base = [t for t in seen["trials"] if t["kind"] == "baseline"]
    assert len(base) == 1 and base[0]["status"] == "provisional" and base[0]["accuracy"] is not None
    assert base[0]["extra"]["provisional"] == {"tried": 1, "of": 3, "status": "done"}
    assert base[0]["correct"] and base[0]["val_accuracy"] is not None  # the first rate was tested: its line is real
    res = seen["res"]
    assert res["points"] == [] and res["ruler_provisional"] == {"tried": 1, "of": 3}
    assert res["baseline_accuracy"] == base[0]["accuracy"] and res["threshold"] is not None
    line = _trace(seen["fig"], "baseline")
    assert line.line.dash == "dash" and line.meta["provisional"]
    assert "ruler provisional: rate search 1 of 3" in line.name
    assert _trace(seen["fig"], "threshold").meta["provisional"]
    assert any(a.text == "ruler provisional: rate search 1 of 3" for a in seen["fig"].layout.annotations)
    # the first point on the provisional ruler: its d90 never reads as final
    after = watch.seen["first point ended"]["res"]
    assert [p["d"] for p in after["points"]] == [10] and after["ruler_provisional"]
    assert "(ruler provisional: rate search 1 of 3, full fine-tuning at its first rate" in describe(after)
    assert short(after) == "—" or short(after).endswith("(provisional)")
    # the other rates train the same trial again: still provisional, and still on the chart
    again = watch.seen["other rates train"]
    row = next(t for t in again["trials"] if t["kind"] == "baseline")
    assert row["id"] == base[0]["id"] and row["status"] == "running" and again["res"]["ruler_provisional"]
    assert again["res"]["baseline_accuracy"] == base[0]["accuracy"]
    msg = next(e["message"] for e in store.events(rid, 100) if "the ruler for now" in e["message"])
    assert "provisional: rate search 1 of 3; the other rates train after the first point" in msg


def test_the_final_ruler_and_d90_are_those_of_the_search_trained_first(both):
    from conftest import untimed

    from idim_core.results import result

    (s1, r1, _), (s2, r2, w2) = both
    assert "ruler_provisional" not in [e["type"] for e in w2.events]  # the other order: the whole search first
    t1, t2 = s1.trials(r1), s2.trials(r2)
    # the same trials, in the same order (the ruler's row first, then the first point, the probe, the rest)
    assert [(t["kind"], t["d"]) for t in t1] == [(t["kind"], t["d"]) for t in t2]
    assert [(t["kind"], t["d"]) for t in t1][:3] == [("baseline", None), ("subspace", 10), ("probe", None)]
    for a, b in zip(t1, t2):
        assert {k: a[k] for k in TRIAL_FACTS} == {k: b[k] for k in TRIAL_FACTS}, a["kind"]
    a, b = result(s1, r1), result(s2, r2)
    for key in ("baseline_accuracy", "threshold", "threshold_rule", "d90", "d90_interpolated", "d90_status",
                "d90_ci", "by_d", "probe_accuracy", "d90_val"):
        assert a[key] == b[key], key
    assert untimed(a["points"]) == untimed(b["points"])

    def rates(store, rid):  # the log's words for the search: every rate tried and the one kept (not the seconds)
        msg = next(e["message"] for e in store.events(rid, 100) if e["message"].startswith("baseline seed 0:")
                   and "chosen on validation" in e["message"])
        return re.sub(r" \(\d+ s.*\)$", "", msg)

    assert rates(s1, r1) == rates(s2, r2) and "(tried " in rates(s1, r1)


def test_a_found_d90_and_its_refinement_are_those_of_the_search_trained_first(tmp_path):
    """Two seeds of the classic MLP, a grid and its refinement: every choice of d waits for the final ruler, so
    the trials, the threshold and d90 (found, with its interval) are the same in both orders."""
    from idim_core.results import result

    s1, r1, w1 = _run(tmp_path / "split", True, DIGITS)
    s2, r2, _ = _run(tmp_path / "whole", False, DIGITS)
    assert [e["seed"] for e in w1.events if e["type"] == "ruler_provisional"] == [0, 1]  # both seeds' first rates
    t1, t2 = s1.trials(r1), s2.trials(r2)
    assert [(t["kind"], t["d"], t["seed"]) for t in t1][:3] == [("baseline", None, 0), ("baseline", None, 1),
                                                                ("subspace", DIGITS["dims"][0], 0)]
    assert sorted((t["kind"], t["d"] or 0, t["seed"]) for t in t1) == sorted((t["kind"], t["d"] or 0, t["seed"])
                                                                             for t in t2)
    key = lambda t: (t["kind"], t["d"] or 0, t["seed"])  # noqa: E731
    for a, b in zip(sorted(t1, key=key), sorted(t2, key=key)):
        assert {k: a[k] for k in TRIAL_FACTS} == {k: b[k] for k in TRIAL_FACTS}, (a["kind"], a["d"], a["seed"])
    a, b = result(s1, r1), result(s2, r2)
    assert a["d90_status"] == "found" and len(a["by_d"]) > len(DIGITS["dims"])  # found, after a refinement
    for k in ("baseline_accuracies", "threshold", "d90", "d90_interpolated", "d90_ci", "by_d"):
        assert a[k] == b[k], k


def test_the_provisional_mark_goes_when_the_search_ends(both):
    from idim_core.d90 import describe, short
    from idim_core.results import result
    from idim_core.ui.figures import run_figure

    (store, rid, _), _ = both
    trials = store.trials(rid)
    assert not [t for t in trials if t["status"] == "provisional"]
    base = next(t for t in trials if t["kind"] == "baseline")
    assert base["status"] == "done" and "provisional" not in (base.get("extra") or {})
    res = result(store, rid)
    assert res["status"] == "done" and res["ruler_provisional"] is None
    assert "provisional" not in describe(res) and "provisional" not in short(res)
    fig = run_figure(res)
    line = _trace(fig, "baseline")
    assert line.line.dash == "solid" and not line.meta["provisional"] and "provisional" not in line.name
    assert not any("provisional" in (a.text or "") for a in fig.layout.annotations)
    # the baseline's steps count every rate tried, both parts' (one row, honest about the search)
    assert base["steps"] == sum(p["step"] > 0 for p in store.points(base["id"]))


def test_a_split_search_keeps_what_one_search_keeps_past_an_end():
    """At the trainer: the first rate, then the others given it, keep the same attempt as one search, including
    the rates past an end (--lr-search-beyond) and the tie order of the search."""
    from idim_core.prep import prepare
    from idim_core.runconfig import make_config
    from idim_core.train import run_trial

    for lr in (1e-6, 1e-2):  # far too small: the search goes past its top; larger: another end or the middle
        cfg = make_config(model="mlp", task="digits", baseline_lr_search=True, lr_full=lr, threads=1)
        prep, _, _ = prepare(cfg, "cpu")
        whole = run_trial(prep, cfg, d=None, seed=0)
        first = run_trial(prep, cfg, d=None, seed=0, first_rate=True)
        assert first.lr == pytest.approx(lr) and first.accuracy is not None and first.lr_tried is None
        rest = run_trial(prep, cfg, d=None, seed=0, after=first)
        for key in ("status", "accuracy", "val_accuracy", "lr", "lr_tried", "lr_at_end", "correct", "steps",
                    "train_accuracy", "trainable"):
            assert getattr(rest, key) == getattr(whole, key), (lr, key)


def test_a_provisional_row_is_trained_again_on_resume(tmp_path):
    """A run stopped while its ruler is provisional: resume trains the baseline afresh (the row is not a result)."""
    from idim_core.runconfig import make_config
    from idim_core.store import Store

    store = Store(tmp_path / "home")
    rid = store.create_run(make_config(**LM), status="running", owner="test")
    store.fence(rid, "test")
    tid = store.start_trial(rid, "baseline", None, 0)
    store.finish_trial(tid, "provisional", 0.7, 0.7, 2, 6, 1.0, extra={"provisional": {"tried": 1, "of": 3}})
    again = store.start_trial(rid, "baseline", None, 0)
    assert [(t["id"], t["status"]) for t in store.trials(rid)] == [(again, "running")]
