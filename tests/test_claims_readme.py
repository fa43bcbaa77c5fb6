"""Every comparison the results page (docs/results.md) states about the recorded runs, recomputed from
the records (``demo.recorded_result``, rounded as printed): the table under "Every comparison above, and what it
rests on" and the sentences it summarises.  A sentence edited without its numbers, or a record
re-made so that a sentence no longer holds, fails here."""
import math
from pathlib import Path

import pytest

from idim_core import demo

ROOT = Path(__file__).resolve().parents[1]
README = " ".join((ROOT / "docs" / "results.md").read_text(encoding="utf-8").split())  # whitespace-normalised


def rec(name: str) -> dict:
    return demo.recorded_result(name)


def d90(r: dict) -> str:
    return f"{r['p90_interpolated']:,.0f}"


def ci(r: dict) -> str:
    lo, hi = r["p90_ci"]
    return f"{lo:,.0f} – " + ("> max d" if hi is None else f"{hi:,.0f}")


def overlap(a: dict, b: dict) -> bool:
    (alo, ahi), (blo, bhi) = a["p90_ci"], b["p90_ci"]
    ahi, bhi = math.inf if ahi is None else ahi, math.inf if bhi is None else bhi
    return alo <= bhi and blo <= ahi


def at(r: dict, d: int) -> float:
    rows = r.get("by_params") if r.get("axis") != "d" else r["by_d"]
    return next(x["mean"] for x in rows if x["d"] == d)


def se(p: float, n: int) -> float:
    return math.sqrt(p * (1 - p) / n)


def has(*parts: str) -> None:
    for p in parts:
        assert p in README, p


def test_the_classic_comparisons():
    mlp, lenet = rec("mlp-mnist5k"), rec("lenet-mnist5k")
    lp, mp, sl = rec("lenet-mnist5k-shuffled-pixels"), rec("mlp-mnist5k-shuffled-pixels"), rec("mlp-mnist5k-shuffled-labels")
    # LeNet lower, intervals overlap
    assert lenet["p90_interpolated"] < mlp["p90_interpolated"] and overlap(lenet, mlp)
    has(f"MLP on `mnist5k` needs d90 ≈ {d90(mlp)} (95 % interval {ci(mlp)}), LeNet ≈ {d90(lenet)} ({ci(lenet)})",
        "LeNet's estimate is lower, as in the paper, but the intervals overlap",
        f"| LeNet's estimate is lower than the MLP's on `mnist5k` | `lenet-mnist5k`, `mlp-mnist5k` | "
        f"{d90(lenet)} ({ci(lenet)}) against {d90(mlp)} ({ci(mlp)}) | intervals overlap")
    # shuffled pixels: LeNet rises, overlap; the MLP overlaps
    assert lp["p90_interpolated"] > lenet["p90_interpolated"] and overlap(lp, lenet) and overlap(mp, mlp)
    has(f"LeNet's estimate rises to ≈ {d90(lp)} ({ci(lp)}) against ≈ {d90(lenet)} ({ci(lenet)}",
        f"≈ {d90(mp)} ({ci(mp)}), which overlaps its unshuffled {ci(mlp)}",
        f"| {d90(lp)} ({ci(lp)}) against {d90(lenet)} ({ci(lenet)}) | intervals overlap: not shown |",
        f"| {d90(mp)} ({ci(mp)}) against {d90(mlp)} ({ci(mlp)}) | overlap |")
    # shuffled labels: about 11x, intervals apart; both rates searched on the training images
    assert sl["p90_ci"][0] > mlp["p90_ci"][1]
    assert round(sl["p90_interpolated"] / mlp["p90_interpolated"]) == 11
    assert sl["config"]["lr_search"] and sl["config"]["baseline_lr_search"]
    has(f"d90 ≈ {d90(sl)} ({ci(sl)}) to reach 90 % of that, against ≈ {d90(mlp)} ({ci(mlp)}) with the real labels: "
        "about 11× more, the intervals far apart",
        f"| {d90(sl)} ({ci(sl)}) against {d90(mlp)} ({ci(mlp)}) | apart |")
    means = [round(x["mean"], 3) for x in sl["by_d"]]
    # rises with d: every fall is within one s.e. of the 4,000 labels (5,477 -> 10,000: 0.418 -> 0.413)
    falls = [(a, b) for a, b in zip(means, means[1:]) if b < a]
    assert falls and all(a - b < se(a, 4000) for a, b in falls) and means[-1] == max(means)
    printed = ", ".join(f"{m:.3f}" for m in means)
    has(f"With the searches the mean rises with d ({printed};", f"| {printed} | rises, flat within one s.e.")
    top, base = at(sl, 30000), sl["baseline_accuracy"]
    assert top - base > 2 * se(base, sl["n_train"] or 4000)  # apart by more than two s.e. of the 4,000 labels
    has(f"more than full training did in its budget ({top:.3f} against {base:.3f}), both rates searched",
        f"| {top:.3f} against {base:.3f} (s.e. of 4,000 labels ≈ {se(base, 4000):.3f}; both rates searched")
    # lower than the paper's figures (Li et al. 2018: MLP 750, LeNet 290)
    assert mlp["p90_interpolated"] < 750 and lenet["p90_interpolated"] < 290
    has(f"| {d90(mlp)} < 750, {d90(lenet)} < 290 | lower |")


def test_depth_and_pre_training():
    l6, l2, un = rec("minilm-l6-mr"), rec("minilm-l2-mr"), rec("minilm-l6-untrained-mr")
    assert overlap(l2, l6)
    has(f"d90 ≈ {d90(l2)} (grid 300), interval {ci(l2)}. The interval overlaps the 6-layer model's",
        f"| {d90(l2)} ({ci(l2)}) against {d90(l6)} ({ci(l6)}) | overlap |")
    # the deeper model's mean is higher at every d from 100 on, by 0.8 - 2.0 s.e.; not at d = 10
    ds = [d for d in (x["d"] for x in l6["by_d"]) if d >= 100]
    ratios = [(at(l6, d) - at(l2, d)) / se((at(l6, d) + at(l2, d)) / 2, l6["n_test"]) for d in ds]
    assert all(r > 0 for r in ratios)
    assert f"{min(ratios):.1f} – {max(ratios):.1f}" == "0.8 – 2.0"
    s = se(0.7, l6["n_test"])
    assert f"{s:.3f}" == "0.029"
    assert at(l6, 10) < at(l2, 10)
    has(f"mean is higher from d = 100 on (at d = 1,000: {at(l6, 1000):.3f} against {at(l2, 1000):.3f}), by 0.8 – 2.0 "
        f"standard errors of 256 test sentences (≈ {s:.3f})",
        f"({at(l6, 10):.3f} against {at(l2, 10):.3f}, where neither has learned much)")
    # level: 6 layers at d = 300 against 2 layers fully fine-tuned, within one s.e.
    a, b = at(l6, 300), l2["baseline_accuracy"]
    assert abs(a - b) < se(b, l6["n_test"]) and round(se(b, l6["n_test"]), 2) == 0.03
    has(f"d = 300 ({a:.3f}) is level with the 2-layer model fully fine-tuned ({b:.3f})",
        f"| {a:.3f} against {b:.3f}, s.e. ≈ 0.03 | within one s.e. |")
    # the untrained model: not clearly above the floor
    assert un["d90_status"] == "baseline_at_floor" and un["baseline_accuracy"] < un["threshold"]
    has(f"full fine-tuning reaches {un['baseline_accuracy']:.3f} ± {un['baseline_std']:.3f}",
        f"the floor plus two standard errors of 256 test sentences is {un['threshold']:.3f}",
        f"| {un['baseline_accuracy']:.3f} against floor + 2 s.e. = {un['threshold']:.3f} | not above |")


def test_the_methods_and_said_groups():
    said, lora, bitfit, head = (rec(n) for n in ("minilm-l6-mr", "minilm-l6-mr-lora", "minilm-l6-mr-bitfit",
                                                   "minilm-l6-mr-head"))
    tensor = rec("minilm-l6-mr-said-tensor")
    assert overlap(tensor, said)
    has(f"It gave d90 ≈ {d90(tensor)} (grid 1,000), interval {ci(tensor)}, against the block default's ≈ {d90(said)} "
        f"({ci(said)}, 3 seeds). The intervals overlap",
        f"| {d90(tensor)} ({ci(tensor)}) against {d90(said)} ({ci(said)}) | overlap |")
    # SAID against LoRA: LoRA passes at its smallest size in both records, so its 90 % point is an upper bound
    # and no ordering is claimed
    last = rec("minilm-l6-mr-lora-last")
    assert lora["lr_head"] == last["lr_head"] == bitfit["lr_head"] == 0.01
    for r, smallest in ((lora, 9_986), (last, 2_306)):
        assert r["p90_status"] == "below_grid" and r["p90_upper"] == smallest == min(x["d"] for x in r["by_params"])
        assert at(r, smallest) >= r["threshold"]
    assert lora["non_monotone"] and at(lora, 148_226) < lora["threshold"]
    has(f"rank 1 on every layer (9,986 numbers) gets {at(lora, 9_986):.3f}",
        f"(`minilm-l6-mr-lora-last`, `--lora-layers 1`: 2,306 numbers, the head's 770 included) {at(last, 2_306):.3f}",
        f"SAID's is ≈ {d90(said)} ({ci(said)}), and **no ordering is claimed**",
        f"| {d90(said)} ({ci(said)}) against ≤ 2,306 (LoRA passes at its smallest size) | no ordering claimed |",
        f"the mean falls to {at(lora, 148_226):.3f} and the record is marked non-monotone")
    assert "the random subspace needs fewer trainable numbers than LoRA" not in README
    # LoRA r = 8, BitFit, SAID at d = 3,000: within one s.e. of each other
    vals = [at(lora, 74_498), at(bitfit, 26_498), at(said, 3000)]
    s = se(statistics_mean(vals), said["n_test"])
    assert max(vals) - min(vals) < s and f"{s:.3f}" == "0.027"
    has(f"LoRA's rank 8 ({vals[0]:.3f}), BitFit ({vals[1]:.3f}) and SAID at d = 3,000 ({vals[2]:.3f}) are within one "
        f"standard error of the test set (≈ {s:.3f})",
        f"| {vals[0]:.3f}, {vals[1]:.3f}, {vals[2]:.3f}, s.e. ≈ {s:.3f} | within one s.e. |")
    # head only: above the threshold, within sampling error of it, below full fine-tuning
    h = at(head, 770)
    assert head["threshold"] <= h < head["threshold"] + se(h, head["n_test"]) and h < head["baseline_accuracy"]
    has(f"(770 numbers) gets {h:.3f}, above {head['threshold']:.3f}",
        f"is below full fine-tuning, {h:.3f} against {head['baseline_accuracy']:.3f}, as it must be",
        f"| {h:.3f} against {head['threshold']:.3f} (s.e. ≈ {se(h, head['n_test']):.3f}) and "
        f"{head['baseline_accuracy']:.3f} |")


def statistics_mean(xs):
    return sum(xs) / len(xs)


def test_the_claims_record_repeats_the_default_run():
    a, b = rec("minilm-l6-mr-claims"), rec("minilm-l6-mr")
    key = lambda r: sorted((p["d"], p["seed"], p["accuracy"]) for p in r["points"])  # noqa: E731
    assert key(a) == key(b) and a["baseline_accuracies"] == b["baseline_accuracies"]
    has("The second repeats `minilm-l6-mr` with the same seeds and gives the same accuracies.",
        "| the same accuracy in every trial | equal |")


@pytest.mark.parametrize("word", ["beats", "at least as good"])
def test_no_sentence_the_records_contradict(word):
    # the two: "at least as good at every d" (false at d = 10) and "beats" within one s.e.
    assert word not in README.lower()


def test_tiny_language_model_table_recomputes_from_its_runs():
    """README's tiny-BERT table (pre-training series, the language-model attempt) and bench/tiny_mlm's table:
    every figure from the two runs' JSON, and the verdict "not shown" only while neither has a d90."""
    import json

    readme = " ".join((ROOT / "README.md").read_text(encoding="utf-8").split())
    bench = " ".join((ROOT / "bench" / "tiny_mlm" / "README.md").read_text(encoding="utf-8").split())
    for name, label in (("scratch", "from scratch"), ("pretrained", "pre-trained 25 min")):
        r = json.loads((ROOT / "bench" / "tiny_mlm" / f"{name}.json").read_text())
        assert r["d90_status"] == "not_reached" and max(b["mean"] for b in r["by_d"]) < r["threshold"]
        cells = [f"{r['baseline_accuracy']:.3f}", f"{r['probe_accuracy']:.3f}"] + [f"{b['mean']:.3f}" for b in r["by_d"]]
        row = f"| {label} | " + " | ".join(cells) + " | > 100,000 |"
        assert row in readme, row
        full = f"{r['baseline_accuracy']:.3f} ± {r['baseline_std']:.3f} | {r['threshold']:.3f} | {r['probe_accuracy']:.3f}"
        assert full in bench, full
        for b in r["by_d"]:
            assert f"{b['mean']:.3f} ± {b['std']:.3f}" in bench
        assert f"{r['threshold']:.3f}" in readme
    log = json.loads((ROOT / "bench" / "tiny_mlm" / "pretrain-log.json").read_text())
    assert f"{log['steps']:,} steps" in readme and f"{log['loss'][-1]['dev_loss']:.2f}" in readme


def test_the_self_supervised_pairing_row_recomputes_from_its_series():
    from idim_core import series

    out = series.recorded("mlp-digit-ge5-denoise")["series"]
    by = {e["pretrain_epochs"]: e for e in out["entries"]}
    cell = lambda e: f"≈ {e['d90_interpolated']:,.0f} ({e['d90_ci'][0]:,.0f}–{e['d90_ci'][1]:,.0f})"  # noqa: E731
    readme = " ".join((ROOT / "README.md").read_text(encoding="utf-8").split())
    row = (f"| {cell(by[0])} | {cell(by[10])}; after 30 epochs {cell(by[30])} | lower, intervals overlap: not shown")
    assert row in readme, row
    lo0 = by[0]["d90_ci"][0]
    assert all(by[a]["d90_ci"][1] >= lo0 for a in (10, 30))  # overlapping: "not shown" is the right word
    assert any("no change is shown" in line for line in series.verdict(out))
