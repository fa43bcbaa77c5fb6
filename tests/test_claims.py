"""What Learn's claims need: the bound against hand-computed values, and the training accuracy,
gap, steps, seconds, lambdas and quantised accuracy stored per trial and exported."""
import csv
import io
import json
import math

import pytest
from conftest import run_cli

from idim_core import bound


def test_bound_matches_hand_computed_values():
    # sqrt((200 * 32 ln 2 + ln 20) / (2 * 3668)) = sqrt(4439.14 / 7336)
    assert bound.epsilon(200, 3668, 32, 0.05) == pytest.approx(math.sqrt((200 * 32 * math.log(2) + math.log(20))
                                                                         / 7336))
    assert bound.epsilon(200, 3668, 32, 0.05) == pytest.approx(0.778, abs=0.001)
    # at 4 bits the quantiser's stored range (two float32 numbers, 64 bits) counts too: 0.276 without it
    assert bound.epsilon(200, 3668, 4, 0.05) == pytest.approx(
        math.sqrt(((200 * 4 + 64) * math.log(2) + math.log(20)) / 7336))
    assert bound.epsilon(200, 3668, 4, 0.05) == pytest.approx(0.286, abs=0.001)
    # SAID's scales are a second quantised vector: 64 bits more
    assert bound.epsilon(200, 3668, 4, 0.05, vectors=2) == pytest.approx(
        math.sqrt(((200 * 4 + 128) * math.log(2) + math.log(20)) / 7336))
    # choosing d among K grid values and the seed among S costs ln (K S)
    assert bound.epsilon(10, 1000, 8, 0.05, grid=6) == pytest.approx(
        math.sqrt(((10 * 8 + 64) * math.log(2) + math.log(20) + math.log(6)) / 2000))
    assert bound.epsilon(10, 1000, 32, 0.05, grid=6, seeds=3) == pytest.approx(
        math.sqrt((10 * 32 * math.log(2) + math.log(20) + math.log(18)) / 2000))
    # the case: d = 10 at 4 bits moves from about 0.126 to about 0.19 once the range is counted
    m = 1022
    without = math.sqrt((10 * 4 * math.log(2) + math.log(20) + math.log(6)) / (2 * m))
    assert without == pytest.approx(0.126, abs=0.001)
    assert bound.epsilon(10, m, 4, 0.05, grid=6) == pytest.approx(0.19, abs=0.01)
    assert bound.test_accuracy_floor(0.7, 200, 3668, 32) == 0.0  # vacuous: says so, never negative
    assert bound.test_accuracy_floor(0.9, 10, 100_000, 4) == pytest.approx(0.9 - bound.epsilon(10, 100_000, 4))
    with pytest.raises(ValueError):
        bound.epsilon(0, 100)


def test_a_guarantee_at_or_below_chance_reads_vacuous():
    # a binary task at d = 10: training accuracy 0.6 minus epsilon is 0.18, below chance (0.5)
    stats = [{"d": 10, "train_mean": 0.6, "quantised_train_mean": {"4": 0.6, "8": 0.6}},
             {"d": 10_000, "train_mean": 0.99}]
    b = bound.summary(stats, 1000, grid=2, chance=0.5)
    row = b["by_d"][0]
    assert 0 < row["guaranteed"]["32"] < 0.5 and "32" in row["vacuous"]
    assert set(row["guaranteed"]) == {"32", "4", "8"}  # at 4 and 8 bits from the quantised model's own accuracy
    assert bound.guarantee_text(row["guaranteed"]["32"], 0.5) == "vacuous"
    assert bound.guarantee_text(0.71, 0.5) == "0.710" and bound.guarantee_text(None, 0.5) == "not measured"
    assert "expected test accuracy" in b["reads"]


def test_said_trials_store_train_accuracy_gap_lambdas_and_quantised_z(home):
    p = run_cli("run", "--model", "mlp", "--task", "digits", "--method", "said", "--dims", "50,500", "--seeds", "2",
                "--claims-facts", "--json", "--quiet", home=home)
    assert p.returncode == 0, p.stderr
    res = json.loads(p.stdout)
    for pt in res["points"]:
        assert 0 <= pt["train_accuracy"] <= 1 and pt["gap"] == pytest.approx(pt["train_accuracy"] - pt["accuracy"])
        assert pt["steps"] > 0 and pt["seconds"] > 0
        assert len(pt["lam"]) == len(pt["lam_names"]) == 3  # one scale per layer of the MLP
        assert pt["lam_history"] and all(len(h[1]) == 3 for h in pt["lam_history"])
        assert set(pt["quantised"]) == {"2", "4", "8"}
    assert len(res["baseline_seconds"]) == 2 and len(res["baseline_train_accuracies"]) == 2
    b = res["bound"]
    assert b["formula"].startswith("epsilon = sqrt(") and b["m"] == res["n_train"]
    assert b["grid"] == len(res["by_d"]) >= 2  # K counts every d tried: the grid and the refinement's
    row = b["by_d"][0]
    assert row["epsilon"]["32"] == pytest.approx(bound.epsilon(50, res["n_train"], 32, 0.05, b["grid"], seeds=2,
                                                             vectors=2))
    for pt in res["points"]:  # the quantised model's own training accuracy, on a fixed training subset
        assert set(pt["quantised_train"]) == {"4", "8"} and pt["quantised_train_n"] > 0
    assert set(row["guaranteed"]) == {"32", "4", "8"}
    stats = {s["d"]: s for s in res["stats"]}
    assert stats[50]["train_mean"] == pytest.approx(sum(q["train_accuracy"] for q in res["points"]
                                                        if q["d"] == 50) / 2)
    shown = json.loads(run_cli("show", res["run_id"], "--json", home=home).stdout)
    assert shown["points"] == res["points"] and shown["bound"] == res["bound"]
    rows = list(csv.DictReader(io.StringIO(run_cli("export", res["run_id"], "--format", "csv", home=home).stdout)))
    assert float(rows[0]["gap"]) == pytest.approx(res["points"][0]["gap"])
    assert len(rows[0]["lam"].split()) == 3 and float(rows[0]["train_accuracy"]) == res["points"][0]["train_accuracy"]
