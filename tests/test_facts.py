"""What a trial measures besides its accuracy: by default training accuracy on a fixed subset and nothing
quantised (cheap), with --claims-facts every training example and z quantised (what Learn's claims and
the bound at 4 bits use).  Real runs of the MLP on the 8x8 digits (1,438 training images)."""
import json

import pytest
from conftest import run_cli

from idim_core import claims
from idim_core.runconfig import TRAIN_ACCURACY_N, baseline_key, make_config
from idim_core.ui import estimates, views

RUN = ("run", "--model", "mlp", "--task", "digits", "--dims", "10,300", "--seeds", "1", "--refine", "0",
       "--epochs", "1", "--json", "--quiet")


def _run(home, *more):
    r = run_cli(*RUN, *more, home=home)
    assert r.returncode == 0, r.stderr
    return json.loads(r.stdout)


def test_by_default_training_accuracy_on_a_subset_and_nothing_quantised(home):
    res = _run(home)
    assert res["n_train"] == 1438 and res["points"]
    for p in res["points"]:
        assert p["train_accuracy_n"] == TRAIN_ACCURACY_N == 512
        assert 0 <= p["train_accuracy"] <= 1 and "gap" in p
        assert "quantised" not in p and "quantised_train" not in p
    assert res["baseline_train_n"] == 512
    rows = res["bound"]["by_d"]
    assert all(r["train_n"] == 512 for r in rows) and not any(r.get("quantised_train_accuracy") for r in rows)
    missing = views.bound_missing(res)
    assert "512 of its 1,438" in missing and "--claims-facts" in missing and "not measured" in missing
    assert all(r["expected test ≥ (4 bits, 95 %)"] == "not measured" for r in views.bound_rows(res))


def test_claims_facts_reads_every_training_example_and_quantises_z(home):
    res = _run(home, "--claims-facts")
    assert res["config"]["claims_facts"] is True
    for p in res["points"]:
        assert "train_accuracy_n" not in p
        assert set(p["quantised"]) == {"2", "4", "8"} and set(p["quantised_train"]) == {"4", "8"}
    assert res["baseline_train_n"] == 1438
    assert views.bound_missing(res) is None
    assert all(r.get("train_n") is None for r in res["bound"]["by_d"])


def test_claims_facts_has_its_own_baseline_and_costs_more_in_the_estimate():
    plain = make_config(model="mlp", task="digits")
    full = make_config(model="mlp", task="digits", claims_facts=True)
    assert baseline_key(plain) != baseline_key(full)  # the baseline's training accuracy differs in kind
    assert estimates.estimate_seconds(full) > estimates.estimate_seconds(plain)
    lm = make_config(model="minilm-l6", task="mr")
    assert estimates.eval_steps_per_trial(lm.but(claims_facts=True), subspace=True) > \
        estimates.eval_steps_per_trial(lm, subspace=True)


def test_the_gap_interval_resamples_training_accuracy_over_the_examples_it_was_read_on():
    def res(n_sub):
        pts = [{"d": 100, "seed": s, "accuracy": 0.80, "status": "done", "train_accuracy": 0.90,
                **({"train_accuracy_n": n_sub} if n_sub else {})} for s in range(3)]
        return {"points": pts, "n_test": 1000, "n_train": 100_000, "chance": 0.1, "majority": 0.1,
                "by_d": [{"d": 100, "mean": 0.8}], "baseline_accuracies": [], "axis": "d",
                "threshold": 0.5, "baseline_accuracy": 0.85}

    wide = claims.gap_replicates(res(64))[100]["gap"]
    narrow = claims.gap_replicates(res(None))[100]["gap"]
    assert wide.std() > 1.5 * narrow.std()
    assert wide.mean() == pytest.approx(0.10, abs=0.02)
