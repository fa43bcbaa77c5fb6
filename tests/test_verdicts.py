"""Learn's claim verdicts (idim_core/claims.py) on the shipped claims records: each from intervals,
only where the model learned, in the fixed vocabulary; each fails on the wording the page had before."""
import re
from pathlib import Path

import pytest

from idim_core import claims, demo

ROOT = Path(__file__).resolve().parents[1]


@pytest.fixture(scope="module")
def runs():
    if "claims" not in demo.available_comparisons():
        pytest.fail("assets/recorded lacks the claims records (bash scripts/record_comparisons.sh claims)")
    return {r["model"]: r for r in (demo.recorded_result(n) for n in demo.COMPARISONS["claims"][1])}


def test_the_vocabulary_is_fixed():
    with pytest.raises(ValueError):
        claims.Verdict("x", "partly supported", "")
    assert claims.Verdict("x", "depends", "why", on="on the model").label == "Depends: on the model"
    assert claims.Verdict("x", "not shown", "why").text().startswith("**Not shown.**")


def test_only_the_d_where_the_model_learned_count(runs):
    # minilm-l6 at d = 10 scores 0.526, near the majority class 0.516: the old verdict's "the gap shrinks" rested on it
    assert 10 not in [r["d"] for r in claims.learned_rows(runs["minilm-l6"])]
    assert [r["d"] for r in claims.reaching_rows(runs["minilm-l6"])] == [300, 405, 548, 1000, 3000, 10000]
    assert [r["d"] for r in claims.reaching_rows(runs["mlp"])] == [173, 300, 1000, 3000, 10000, 30000]


def test_overfitting_says_which_way_each_model_goes(runs):
    v = claims.overfitting(list(runs.values()))
    # before: "Depends: the gap shrinks, the accuracy does not improve", from the smallest and largest d only
    assert "the gap shrinks" not in v.text()
    assert v.word == "depends" and v.on == "on the model"
    lm, mlp = claims.gap_direction(runs["minilm-l6"]), claims.gap_direction(runs["mlp"])
    # the language model's gap rises with d: full fine-tuning 0.134 against 0.051 where the subspace reaches 90 %
    assert lm["direction"] == "rises" and lm["full"]["gap"] == pytest.approx(0.134, abs=0.001)
    assert lm["sub_gap"] == pytest.approx(0.051, abs=0.001)
    assert lm["diff_ci"][0] > 0
    # the MLP's means fall (0.036 at d = 300, 0.027 at 30,000, full training 0.017) but its interval holds 0
    assert mlp["direction"] != "rises" and mlp["diff"] < 0 and mlp["slope"] < 0
    assert mlp["full"]["gap"] == pytest.approx(0.017, abs=0.001)
    # every number comes with its interval, and the page prints both
    assert all(f["ci"] and f["ci"][0] <= f["value"] <= f["ci"][1] for f in v.facts)
    assert all(re.search(r"\(-?\d\.\d{3} – -?\d\.\d{3}\)", ln) for ln in v.lines)


def test_stability_is_not_shown(runs):
    v = claims.stability(list(runs.values()))
    # before: "Contradicted by these runs", from one MLP seed at d = 10 (0.422 against 0.22 – 0.28)
    assert v.word == "not shown" and "Contradicted" not in v.text()
    assert "0 of 74 trials diverged" in v.summary
    mlp = claims.excess_spread(runs["mlp"])
    assert mlp[0]["d"] == 10 and mlp[0]["std"] > 0.07  # the outlier is there, and its interval still overlaps
    assert claims._apart(mlp[0]["ci"], mlp[-1]["ci"]) == 0


def test_the_spread_beyond_the_test_set_leaves_the_accuracy_out():
    # seeds that differ only by the test set's binomial sampling: no spread beyond it, at any accuracy
    import numpy as np

    rng = np.random.default_rng(1)
    n = 400
    pts = [{"d": d, "seed": s, "accuracy": rng.binomial(n, p) / n, "status": "done"}
           for d, p in ((100, 0.6), (1000, 0.95)) for s in range(40)]
    res = {"model": "m", "points": pts, "n_test": n, "chance": 0.5, "majority": 0.5,
           "by_d": [{"d": 100, "mean": 0.6, "n": 40}, {"d": 1000, "mean": 0.95, "n": 40}]}
    rows = claims.excess_spread(res)
    assert rows[0]["std"] > 2 * rows[1]["std"]  # the raw spread differs by p(1 - p) alone
    assert claims._apart(rows[0]["ci"], rows[1]["ci"]) == 0  # the spread beyond it does not


def test_speed_rests_on_the_quiet_step_benchmark(runs):
    v = claims.speed(list(runs.values()))
    # before: 0.43x and 0.35x of full fine-tuning per trial, from trial times on shared cores
    assert "0.43" not in v.text() + " ".join(v.lines) and "per trial at d" not in " ".join(v.lines)
    assert v.word == "contradicted"
    ratios = sorted(f["value"] for f in v.facts if f["what"].startswith("subspace step"))
    assert ratios == sorted(b["ratio"] for b in claims.BENCH_STEP) and len(ratios) == 2
    t = claims.time_to_90(runs["minilm-l6"])
    row = next(b for b in claims.BENCH_STEP if b["d"] == 1000)
    assert t["ds"] == [10, 100, 300] and t["sub_steps"] == 192 and t["full_steps"] == 64
    assert t["ratio"] == pytest.approx(192 * row["subspace_s"] / (64 * row["full_s"]))
    assert claims.time_to_90(runs["mlp"]) is None  # no quiet benchmark for the MLP: no time compared


def test_the_benchmark_figures_are_read_from_the_bench_output(tmp_path):
    """bench/step.json (what `python bench/step_ratio.py` writes) is what Learn says; bench/RESULTS.md's table of the
    sitting agrees with it."""
    import json

    text = (ROOT / "bench" / "RESULTS.md").read_text(encoding="utf-8")
    assert {b["d"] for b in claims.BENCH_STEP} == {1000, 10000}
    for b in claims.BENCH_STEP:
        row = f"| {b['d']:,} | {b['full_s']:.3f} s | {b['subspace_s']:.3f} s | **{b['ratio']:.3f}** |"
        assert row in text, row
    # a new reading in the file is what Learn says next (nothing typed in the code)
    doc = json.loads(claims.STEP_JSON.read_text(encoding="utf-8"))
    doc["readings"][0]["ratio"] = 1.234
    copy = tmp_path / "step.json"
    copy.write_text(json.dumps(doc), encoding="utf-8")
    first = doc["readings"][0]["dim"]
    assert next(b for b in claims.bench_step(copy) if b["d"] == first)["ratio"] == 1.234
    assert claims.bench_step(tmp_path / "missing.json") == []


def test_said_against_lora_claims_no_ordering_built_into_the_sizes_tried():
    said, lora = demo.recorded_result("minilm-l6-mr"), demo.recorded_result("minilm-l6-mr-lora-last")
    # LoRA on the last layer alone reaches the threshold at its smallest size (2,306 numbers, the head's 770
    # included): its 90 % point is only bounded above, so no ranking is claimed, whichever way it would go
    assert lora["p90_status"] == "below_grid" and lora["p90_upper"] == 2_306 < 9_986
    v = claims.p90_order(("SAID", said), ("LoRA", lora))
    assert v.word == "not shown" and "needs fewer (95 % intervals apart)" not in v.summary  # the old sentence
    assert "smallest size tried (2,306 trainable parameters)" in v.summary and "No ranking is claimed" in v.summary
    # where both have a 90 % point, the order comes from one bootstrap of the ratio, stable over seeds 0-19
    lenet, mlp = demo.recorded_result("lenet-mnist5k"), demo.recorded_result("mlp-mnist5k")
    v = claims.p90_order(("LeNet", lenet), ("MLP", mlp))
    assert v.word == "supported" and "LeNet needs fewer (ratio 0." in v.summary
    assert claims.p90_order(("MLP", mlp), ("LeNet", lenet)).word == "contradicted"
    shuffled = demo.recorded_result("mlp-mnist5k-shuffled-pixels")
    v = claims.p90_order(("MLP", mlp), ("shuffled", shuffled))
    assert v.word == "not shown" and "interval holds 1" in v.summary
