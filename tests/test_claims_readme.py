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
    from idim_core.d90 import interval_text

    return interval_text(r["p90_ci"])


def ratio(a: dict, b: dict) -> tuple[str, str]:
    """(the ratio a / b and its interval as printed, the verdict) from one bootstrap of both runs."""
    from idim_core.results import pair, ratio_text

    pr = pair(a, b)
    return ratio_text(pr), pr["verdict"]


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
    lp, mp, sl = (rec("lenet-mnist5k-shuffled-pixels"), rec("mlp-mnist5k-shuffled-pixels"),
                  rec("mlp-mnist5k-shuffled-labels"))
    # LeNet lower: the ratio's interval below 1 at every bootstrap seed 0-19
    txt, word = ratio(lenet, mlp)
    assert word == "a lower"
    has(f"MLP on `mnist5k` needs d90 ≈ {d90(mlp)} (95 % interval {ci(mlp)}), LeNet ≈ {d90(lenet)} ({ci(lenet)})",
        f"LeNet needs fewer, as in the paper: the ratio LeNet / MLP is {txt}",
        f"| LeNet needs fewer than the MLP on `mnist5k` | `lenet-mnist5k`, `mlp-mnist5k` | "
        f"{d90(lenet)} ({ci(lenet)}) against {d90(mlp)} ({ci(mlp)}); ratio {txt} | a lower: shown |")
    # shuffled pixels: LeNet rises (shown); the MLP (no spatial prior to lose) not shown
    txt_l, word_l = ratio(lp, lenet)
    txt_m, word_m = ratio(mp, mlp)
    assert word_l == "b lower" and word_m == "not shown"
    has(f"LeNet's estimate rises to ≈ {d90(lp)} ({ci(lp)}) against ≈ {d90(lenet)} ({ci(lenet)}) unshuffled, "
        f"ratio {txt_l}: **shown**",
        f"≈ {d90(mp)} ({ci(mp)}) against {d90(mlp)} ({ci(mlp)}), ratio {txt_m}: not shown",
        f"| {d90(lp)} ({ci(lp)}) against {d90(lenet)} ({ci(lenet)}); ratio {txt_l} | b lower: shown |",
        f"| {d90(mp)} ({ci(mp)}) against {d90(mlp)} ({ci(mlp)}); ratio {txt_m} | not shown |")
    # shuffled labels: several times more, shown by the ratio; both rates searched on the training images
    txt_s, word_s = ratio(sl, mlp)
    assert word_s == "b lower"
    times = round(sl["p90_interpolated"] / mlp["p90_interpolated"])
    assert sl["config"]["lr_search"] and sl["config"]["baseline_lr_search"]
    has(f"d90 ≈ {d90(sl)} ({ci(sl)}) to reach 90 % of that, against ≈ {d90(mlp)} ({ci(mlp)}) with the real labels: "
        f"about {times}× more, ratio {txt_s}, shown",
        f"| shuffled labels need about {times}× more |",
        f"| {d90(sl)} ({ci(sl)}) against {d90(mlp)} ({ci(mlp)}); ratio {txt_s} | b lower: shown |")
    means = [round(x["mean"], 3) for x in sl["by_d"]]
    # rises with d: any fall is within one s.e. of the 4,000 labels
    falls = [(a, b) for a, b in zip(means, means[1:]) if b < a]
    assert all(a - b < se(a, 4000) for a, b in falls) and means[-1] == max(means)
    printed = ", ".join(f"{m:.3f}" for m in means)
    has(f"With the searches the mean rises with d ({printed};", f"| {printed} | rises")
    top, base = at(sl, 30000), sl["baseline_accuracy"]
    assert top - base > 2 * se(base, sl["n_train"] or 4000)  # apart by more than two s.e. of the 4,000 labels
    has(f"more than full training did in its budget ({top:.3f} against {base:.3f}), both rates searched",
        f"| {top:.3f} against {base:.3f} (s.e. of 4,000 labels ≈ {se(base, 4000):.3f}; both rates searched")
    # lower than the paper's figures (Li et al. 2018: MLP 750, LeNet 290)
    assert mlp["p90_interpolated"] < 750 and lenet["p90_interpolated"] < 290
    has(f"| {d90(mlp)} < 750, {d90(lenet)} < 290 | lower |")


def test_depth_and_pre_training():
    l6, l2, un = rec("minilm-l6-mr"), rec("minilm-l2-mr"), rec("minilm-l6-untrained-mr")
    txt, word = ratio(l2, l6)
    assert word == "not shown"
    has(f"d90 ≈ {d90(l2)} (grid {l2['p90']:,}), interval {ci(l2)}",
        f"The ratio 2-layer / 6-layer is {txt}: these runs do not show which depth needs fewer dimensions",
        f"| {d90(l2)} ({ci(l2)}) against {d90(l6)} ({ci(l6)}); ratio {txt} | not shown |")
    # both rulers searched; the 2-layer model's search chose the top of its range for two seeds: said
    assert l6["config"]["baseline_lr_search"] and l2["config"]["baseline_lr_search"] and l2["config"]["lr_full"] == 3e-4
    has(f"full fine-tuning {l2['baseline_accuracy']:.3f} ± {l2['baseline_std']:.3f}, its rate searched around 3e-4",
        "two seeds of three chose 9e-4, so the 2-layer model's best rate may lie higher still")
    # the deeper model's mean is higher at every d both tried from 100 on, by 1.0 - 2.0 s.e.; not at d = 10
    ds = [x["d"] for x in l6["by_d"] if x["d"] >= 100 and any(y["d"] == x["d"] for y in l2["by_d"])]
    assert ds == [100, 300, 1000, 3000, 10000]
    ratios = [(at(l6, d) - at(l2, d)) / se((at(l6, d) + at(l2, d)) / 2, l6["n_test"]) for d in ds]
    assert all(r > 0 for r in ratios)
    s = se(0.7, l6["n_test"])
    assert f"{s:.3f}" == "0.029"
    assert at(l6, 10) < at(l2, 10)
    has(f"higher at every d both tried from 100 on (at d = 1,000: {at(l6, 1000):.3f} against {at(l2, 1000):.3f}), by "
        f"{min(ratios):.1f} – {max(ratios):.1f} standard errors of 256 test sentences (≈ {s:.3f})",
        f"({at(l6, 10):.3f} against {at(l2, 10):.3f}, where neither has learned much)",
        f"| d = 1,000: {at(l6, 1000):.3f} against {at(l2, 1000):.3f}; {min(ratios):.1f} – {max(ratios):.1f} s.e. "
        f"from d = 100; d = 10: {at(l6, 10):.3f} against {at(l2, 10):.3f} |")
    # the 2-layer curve falls back under its threshold at d = 300 (flagged), and the interval is open above
    back = at(l2, 300)
    assert back < l2["threshold"] and l2["non_monotone"] and l2["non_monotone_at"] == 300 and l2["p90_ci"][1] is None
    has(f"the mean falls back under the threshold {l2['threshold']:.3f} at d = 300 ({back:.3f}, by",
        f"| {back:.3f} against {l2['threshold']:.3f} after {at(l2, 228):.3f} at d = 228 | marked non-monotone |")
    # the untrained model: not clearly above the floor
    assert un["d90_status"] == "baseline_at_floor" and un["baseline_accuracy"] < un["threshold"]
    assert un["config"]["baseline_lr_search"]
    has(f"full fine-tuning reaches {un['baseline_accuracy']:.3f} ± {un['baseline_std']:.3f}",
        f"the floor plus two standard errors of 256 test sentences is {un['threshold']:.3f}",
        f"a linear probe on its random features gets {un['probe_accuracy']:.3f}",
        f"| {un['baseline_accuracy']:.3f} against floor + 2 s.e. = {un['threshold']:.3f} | not above |")


def test_the_methods_and_said_groups():
    said, lora, bitfit, head = (rec(n) for n in ("minilm-l6-mr", "minilm-l6-mr-lora", "minilm-l6-mr-bitfit",
                                                   "minilm-l6-mr-head"))
    tensor = rec("minilm-l6-mr-said-tensor")
    txt, word = ratio(tensor, said)
    assert word == "not shown"
    has(f"It gave d90 ≈ {d90(tensor)} (grid {tensor['p90']:,}), interval {ci(tensor)}, against the block default's "
        f"≈ {d90(said)} ({ci(said)}, 3 seeds). The ratio, {txt}, shows neither lower",
        f"| {d90(tensor)} ({ci(tensor)}) against {d90(said)} ({ci(said)}); ratio {txt} | not shown |")
    # SAID against LoRA: LoRA passes at its smallest size in both records, so its 90 % point is an upper bound
    # and no ordering is claimed
    last = rec("minilm-l6-mr-lora-last")
    assert lora["lr_head"] == last["lr_head"] == bitfit["lr_head"] == 0.003
    has("trains the classifier head at head-only's own rate, 3e-3 (the JSON says `lr_head`)")
    for r, smallest in ((lora, 9_986), (last, 2_306)):
        assert r["p90_status"] == "below_grid" and r["p90_upper"] == smallest == min(x["d"] for x in r["by_params"])
        assert at(r, smallest) >= r["threshold"]
    assert lora["non_monotone"] and at(lora, 148_226) < lora["threshold"]
    has(f"rank 1 on every layer (9,986 numbers) gets {at(lora, 9_986):.3f}",
        f"(`minilm-l6-mr-lora-last`, `--lora-layers 1`: 2,306 numbers, the head's 770 included) {at(last, 2_306):.3f}",
        f"SAID's is ≈ {d90(said)} ({ci(said)}), and **no ordering is claimed**",
        f"| {d90(said)} ({ci(said)}) against ≤ 2,306 (LoRA passes at its smallest size) | no ordering claimed |",
        f"the mean falls to {at(lora, 148_226):.3f} and the record is marked non-monotone")
    # the points carry LoRA's rank as d
    collapsed = sorted((p["accuracy"] for p in lora["points"] if p["d"] == 16 and p["accuracy"] < 0.6), reverse=True)
    assert len(collapsed) == 2
    has(f"two seeds of three collapse ({collapsed[0]:.3f} and {collapsed[1]:.3f}, the majority class)")
    assert "the random subspace needs fewer trainable numbers than LoRA" not in README
    # LoRA at rank 4 (where its rate was chosen), BitFit, SAID at d = 3,000: within one s.e. of each other
    vals = [at(lora, 37_634), at(bitfit, 26_498), at(said, 3000)]
    s = se(statistics_mean(vals), said["n_test"])
    assert max(vals) - min(vals) < s and f"{s:.3f}" == "0.027"
    has(f"LoRA at rank 4, where its rate was chosen ({vals[0]:.3f}), BitFit ({vals[1]:.3f}) and SAID at d = 3,000 "
        f"({vals[2]:.3f}) are within one standard error of the test set (≈ {s:.3f})",
        f"| {vals[0]:.3f}, {vals[1]:.3f}, {vals[2]:.3f}, s.e. ≈ {s:.3f} | within one s.e. |")
    # head only: above the threshold, within sampling error of it, below full fine-tuning
    h = at(head, 770)
    assert head["threshold"] <= h < head["threshold"] + se(h, head["n_test"]) and h < head["baseline_accuracy"]
    has(f"(770 numbers) gets {h:.3f}, above {head['threshold']:.3f}",
        f"is below full fine-tuning, {h:.3f} against {head['baseline_accuracy']:.3f}, as it must be",
        f"about ± {se(h, head['n_test']):.3f})",
        f"| {h:.3f} against {head['threshold']:.3f} (s.e. ≈ {se(h, head['n_test']):.3f}) and "
        f"{head['baseline_accuracy']:.3f} |")


def test_the_four_peft_methods():
    ia3, ff, uni, tiny = (rec(f"minilm-l6-mr-{m}") for m in ("ia3", "fourierft", "unilora", "tinylora"))
    for r, smallest in ((tiny, 771), (ff, 890), (ia3, 5_378)):  # the smallest size clears: an upper bound
        assert r["p90_status"] == "below_grid" and r["p90_upper"] == smallest and at(r, smallest) >= r["threshold"]
    has(f"TinyLoRA's single tied number (771 in all) reaches {at(tiny, 771):.3f}, FourierFT's 10 coefficients per "
        f"layer (890) {at(ff, 890):.3f} and IA3 (5,378) {at(ia3, 5_378):.3f}, all above the threshold")
    gap = uni["threshold"] - at(uni, 834)
    assert uni["p90_status"] == "found" and 0 < gap < se(at(uni, 834), uni["n_test"])
    has(f"gets {at(uni, 834):.3f}, under the threshold by {gap:.3f}, far inside one standard error",
        f"its ≈ {d90(uni)} ({ci(uni)}) is an interpolation across noise")
    means = [x["mean"] for x in tiny["by_params"]]
    assert tiny["non_monotone"] and means == sorted(means, reverse=True)
    has("grows (" + ", ".join(f"{m:.3f}" for m in means) + ": the record is marked non-monotone)")
    every = [x["mean"] for r in (ia3, ff, uni, tiny) for x in r["by_params"]]
    has(f"Their means span {min(every):.3f} – {max(every):.3f}, against SAID's {at(rec('minilm-l6-mr'), 1000):.3f}")
    for r in (ia3, ff, uni, tiny):
        assert r["lr_head"] == 0.003


def statistics_mean(xs):
    return sum(xs) / len(xs)


@pytest.mark.parametrize("word", ["beats", "at least as good"])
def test_no_sentence_the_records_contradict(word):
    # the two: "at least as good at every d" (false at d = 10) and "beats" within one s.e.
    assert word not in README.lower()


def test_tiny_language_model_table_recomputes_from_its_runs():
    """The tiny-BERT table (pre-training series, the language-model attempt) and bench/tiny_mlm's table:
    every figure from the two runs' JSON, and the verdict "not shown" only while neither has a d90."""
    import json

    readme = README  # docs/results.md, where the README's measurements now live
    bench = " ".join((ROOT / "bench" / "tiny_mlm" / "README.md").read_text(encoding="utf-8").split())
    for name, label in (("scratch", "from scratch"), ("pretrained", "pre-trained 25 min")):
        r = json.loads((ROOT / "bench" / "tiny_mlm" / f"{name}.json").read_text())
        assert r["d90_status"] == "not_reached" and max(b["mean"] for b in r["by_d"]) < r["threshold"]
        cells = ([f"{r['baseline_accuracy']:.3f}", f"{r['probe_accuracy']:.3f}"]
                 + [f"{b['mean']:.3f}" for b in r["by_d"]])
        row = f"| {label} | " + " | ".join(cells) + " | > 100,000 |"
        assert row in readme, row
        full = (f"{r['baseline_accuracy']:.3f} ± {r['baseline_std']:.3f} | {r['threshold']:.3f} | "
                f"{r['probe_accuracy']:.3f}")
        assert full in bench, full
        for b in r["by_d"]:
            assert f"{b['mean']:.3f} ± {b['std']:.3f}" in bench
        assert f"{r['threshold']:.3f}" in readme
    log = json.loads((ROOT / "bench" / "tiny_mlm" / "pretrain-log.json").read_text())
    assert f"{log['steps']:,} steps" in readme and f"{log['loss'][-1]['dev_loss']:.2f}" in readme


def _series_pair(name: str, source: str, epochs: int):
    """(the recorded series' entries by (source, epochs), the ratio text and verdict of epochs against scratch)."""
    from idim_core import series
    from idim_core.results import pair, ratio_text

    rec = series.recorded(name)
    res = series.recorded_results(rec)
    by = {(e["pretrain"], e["pretrain_epochs"]): e for e in rec["series"]["entries"]}
    scratch = next(e for e in rec["series"]["entries"] if not e["pretrain_epochs"])
    pr = pair(res[by[(source, epochs)]["run_id"]], res[scratch["run_id"]])
    return by, scratch, ratio_text(pr), pr["verdict"]


def _cell(e):
    lo, hi = e["d90_ci"]
    return f"≈ {e['d90_interpolated']:,.0f} ({lo:,.0f}–{hi:,.0f})" if hi is not None else \
        f"≈ {e['d90_interpolated']:,.0f} ({lo:,.0f} – > max d)"


WORD = {"a lower": "lower", "b lower": "higher", "not shown": "not shown"}


def test_the_pairing_rows_recompute_from_their_series_by_the_ratio():
    """The rows for the recorded pairings (docs/results.md): every figure from the records, every verdict from one
    bootstrap of the ratio d90 pre-trained / from scratch (the Series page's and Learn's own rule)."""
    from idim_core import series

    readme = README  # docs/results.md
    by, scratch, txt, word = _series_pair("mlp-digit-ge5-amounts", "mnist5k@a", 10)
    _, _, ctxt, cword = _series_pair("mlp-digit-ge5-amounts", "mnist5k@a:shuffled", 10)
    assert (word, cword) == ("a lower", "not shown")
    row = (f"| {_cell(scratch)} | {_cell(by[('mnist5k@a', 10)])}; control {_cell(by[('mnist5k@a:shuffled', 10)])} | "
           f"lower, ratio {txt}: shown; the control's {ctxt.split(' (')[0]} ({ctxt.split(' (')[1]}: not shown")
    assert row in readme, row
    by, scratch, txt, word = _series_pair("mlp-digit-ge5-amounts-lr-1e-2", "mnist5k@a", 10)
    assert word == "a lower"
    row = (f"| {_cell(scratch)} | {_cell(by[('mnist5k@a', 10)])}; control {_cell(by[('mnist5k@a:shuffled', 10)])} | "
           f"lower, ratio {txt}: shown")
    assert row in readme, row
    by, scratch, txt, word = _series_pair("mlp-digit-ge5-denoise", "mnist5k@a:denoise", 10)
    _, _, txt30, word30 = _series_pair("mlp-digit-ge5-denoise", "mnist5k@a:denoise", 30)
    assert (word, word30) == ("a lower", "not shown")
    row = (f"| {_cell(scratch)} | {_cell(by[('mnist5k@a:denoise', 10)])}; after 30 epochs "
           f"{_cell(by[('mnist5k@a:denoise', 30)])} | lower, ratio {txt}: shown; after 30 epochs {txt30}: not shown")
    assert row in readme, row
    by, scratch, txt, word = _series_pair("mlp-digit-ge5-denoise-lr-1e-2", "mnist5k@a:denoise", 10)
    assert word == "b lower" and by[("mnist5k@a:denoise", 30)]["d90_status"] == "not_reached"
    row = (f"| {_cell(scratch)} | {_cell(by[('mnist5k@a:denoise', 10)])}; after 30 epochs > max d | higher, ratio "
           f"{txt}: shown")
    assert row in readme, row
    # the paragraph's ratios after 30 epochs, and the series' own verdict lines agree
    for name, src, words in (("mlp-digit-ge5-amounts", "mnist5k@a", "after 30 epochs it is {t}, **shown**"),
                             ("mlp-digit-ge5-amounts", "mnist5k@a:shuffled", "(after 30 epochs {r})"),
                             ("mlp-digit-ge5-amounts-lr-1e-2", "mnist5k@a", "(after 30 epochs {r}: shown)")):
        _, _, txt, _ = _series_pair(name, src, 30)
        r = txt.replace(" (", ", ").rstrip(")")
        assert words.format(r=r, t=txt) in readme, words.format(r=r, t=txt)
    rec = series.recorded("mlp-digit-ge5-amounts")
    lines = series.verdict(rec["series"], series.recorded_results(rec))
    assert any(line.startswith("mnist5k@a:") and line.endswith(": shown") for line in lines)
    assert any(line.startswith("mnist5k@a:shuffled:") and "no change shown" in line for line in lines)
