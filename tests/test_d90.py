import math
import subprocess
import sys
from pathlib import Path

import pytest

from idim_core import d90
from idim_core.errors import UserError
from idim_core.runconfig import parse_dims
from idim_core.search import adaptive_search

ROOT = Path(__file__).resolve().parent.parent


def pts(pairs):
    return [{"d": d, "seed": s, "accuracy": a, "status": "done"} for d, s, a in pairs]


def estimate_d90(points, baseline, **kw):
    e = d90.estimate(points, [] if baseline is None else [baseline], **kw)
    return e["d90"], e["d90_interpolated"]


def test_never_reached_is_null_and_not_reached():
    e = d90.estimate(pts([(10, 0, 0.5), (100, 0, 0.6)]), [0.9], chance=0.5)
    assert (e["d90"], e["d90_interpolated"], e["d90_status"]) == (None, None, "not_reached")
    assert "d90 > max d (100)" in d90.describe({**e, "status": "done"})


def test_reached_at_first_d_is_only_an_upper_bound():
    e = d90.estimate(pts([(10, 0, 0.85), (100, 0, 0.9)]), [0.9], chance=0.5)
    assert e["d90_status"] == "below_grid" and e["d90_upper"] == 10
    assert e["d90_interpolated"] is None  # no interpolated value is claimed
    assert d90.short(e) == "≤ 10"
    assert d90.describe({**e, "status": "done"}).startswith("d90 ≤ 10")


def test_interpolated_in_log_d():
    # threshold 0.72 halfway between 0.62 (d=100) and 0.82 (d=10000) -> d = 1000
    g, i = estimate_d90(pts([(100, 0, 0.62), (10000, 0, 0.82)]), baseline=0.8)
    assert g == 10000
    assert i == pytest.approx(1000.0, rel=1e-9)


def test_noisy_seeds_use_the_mean():
    p = pts([(100, 0, 0.80), (100, 1, 0.50), (1000, 0, 0.75), (1000, 1, 0.77)])
    # at d=100 one seed passes 0.72 but the mean (0.65) does not
    g, i = estimate_d90(p, baseline=0.8)
    assert g == 1000 and 100 < i < 1000
    rows = d90.summarize(p)
    assert rows[0]["mean"] == pytest.approx(0.65) and rows[0]["n"] == 2


def test_non_monotone_takes_smallest_reaching_d():
    g, _ = estimate_d90(pts([(10, 0, 0.5), (100, 0, 0.75), (1000, 0, 0.70), (10000, 0, 0.8)]), baseline=0.8)
    assert g == 100


def test_diverged_trials_count_as_chance_not_missing():
    # one good seed among two diverged ones must not decide d90
    p = pts([(100, 0, 0.9), (1000, 0, 0.9), (1000, 1, 0.9), (1000, 2, 0.9)]) + \
        [{"d": 100, "seed": s, "accuracy": None, "status": "diverged"} for s in (1, 2)]
    rows = d90.summarize(p, chance=0.5)
    assert rows[0]["n"] == 3 and rows[0]["diverged"] == 2
    assert rows[0]["mean"] == pytest.approx((0.9 + 0.5 + 0.5) / 3)
    e = d90.estimate(p, [0.9], chance=0.5)
    assert e["d90"] == 1000  # the old rule (diverged dropped) said 100


def test_no_baseline_no_d90():
    e = d90.estimate(pts([(10, 0, 0.9)]), [], chance=0.5)
    assert e["d90"] is None and e["d90_status"] == "unknown"


def test_threshold_is_09_of_the_mean_baseline_over_seeds():
    e = d90.estimate(pts([(10, 0, 0.7)]), [0.8, 0.9, 1.0], chance=0.1)
    assert e["baseline_accuracy"] == pytest.approx(0.9) and e["threshold"] == pytest.approx(0.81)
    assert e["baseline_accuracies"] == [0.8, 0.9, 1.0] and e["baseline_std"] > 0


def test_baseline_at_chance_has_no_d90():
    # the untrained control: baseline 0.520 on a balanced binary task with 256 test sentences
    e = d90.estimate(pts([(10, 0, 0.51), (100, 0, 0.5)]), [0.520], chance=0.5, majority=0.516, n_test=256)
    assert e["d90_status"] == "baseline_at_floor" and e["d90"] is None and e["d90_interpolated"] is None
    assert "did not learn" in d90.describe({**e, "status": "done"})


def test_baseline_at_the_majority_class_has_no_d90():
    # sms-spam-like: majority class 0.87; a 0.88 baseline is within two standard errors (n = 500)
    e = d90.estimate(pts([(10, 0, 0.87)]), [0.88], chance=0.5, majority=0.87, n_test=500)
    assert e["d90_status"] == "baseline_at_floor"
    e = d90.estimate(pts([(10, 0, 0.97)]), [0.98], chance=0.5, majority=0.87, n_test=500)
    assert e["d90_status"] == "below_grid"


def test_floor_margin_is_two_binomial_standard_errors():
    assert d90.floor_margin(0.5, 256) == pytest.approx(2 * math.sqrt(0.25 / 256))


def test_a_stopped_run_is_unknown_not_not_reached():
    e = d90.estimate(pts([(10, 0, 0.5), (30, 0, 0.55)]), [0.9], chance=0.5, run_status="cancelled")
    assert e["d90_status"] == "unknown"
    said = d90.describe({**e, "status": "cancelled"})
    assert "unknown" in said and "d = 30" in said and "\n" not in said, said  # where it stopped
    assert d90.short({**e, "status": "cancelled"}) == "unknown"


def _correct(acc, n, offset=0):
    k = round(acc * n)
    return "".join("1" if (i + offset) % n < k else "0" for i in range(n))


def test_bootstrap_interval_brackets_d90_and_shrinks_with_more_seeds():
    n = 400
    base = [{"accuracy": 0.8, "status": "done", "correct": _correct(0.8, n, s)} for s in range(3)]
    curve = {10: 0.55, 100: 0.65, 1000: 0.75, 10000: 0.79}
    subs = [{"d": d, "seed": s, "accuracy": a + 0.01 * (s - 1), "status": "done",
             "correct": _correct(a + 0.01 * (s - 1), n, 7 * s)} for d, a in curve.items() for s in range(3)]
    e = d90.estimate(subs, [b["accuracy"] for b in base], chance=0.5, n_test=n)
    ci = d90.bootstrap_ci(base, subs, 0.5, n)
    assert e["d90_status"] == "found"
    assert ci[0] is not None and ci[1] is not None
    assert ci[0] <= e["d90_interpolated"] <= ci[1]
    assert 100 <= ci[0] < ci[1] <= 10000
    # one seed is still an interval (over examples), and with counts only (no per-example data) too
    one = d90.bootstrap_ci(base[:1], [s for s in subs if s["seed"] == 1], 0.5, n)
    counts = d90.bootstrap_ci([{k: v for k, v in b.items() if k != "correct"} for b in base],
                              [{k: v for k, v in t.items() if k != "correct"} for t in subs], 0.5, n)
    assert one[0] < one[1] and counts[0] < counts[1]


def test_bootstrap_upper_end_open_when_often_not_reached():
    base = [{"accuracy": 0.8, "status": "done"}]
    subs = [{"d": 10, "seed": 0, "accuracy": 0.70, "status": "done"},
            {"d": 100, "seed": 0, "accuracy": 0.721, "status": "done"}]
    ci = d90.bootstrap_ci(base, subs, 0.5, 200)
    assert ci[1] is None  # "> max d"


def test_pages_never_import_the_sweep_runner():
    for page in (ROOT / "pages").glob("*.py"):
        text = page.read_text()
        assert "idim_core.runner" not in text and "from idim_core import runner" not in text, page.name
    code = ("import sys; import idim_core.results, idim_core.runconfig, idim_core.d90, idim_core.ui; "
            "assert 'idim_core.runner' not in sys.modules and 'torch' not in sys.modules, sorted(sys.modules)")
    subprocess.run([sys.executable, "-c", code], check=True, cwd=ROOT)


@pytest.mark.parametrize("true_d90", [7, 150, 2345, 40000])
def test_adaptive_search_is_within_20_percent_with_fewer_trials(true_d90):
    import math

    calls = []

    def mean_at(d):  # a smooth sigmoid in log d, crossing 0.9 * 0.8 at true_d90
        calls.append(d)
        return 0.5 + 0.3 / (1 + math.exp(-(math.log(d) - math.log(true_d90)) * 3 - math.log(0.22 / 0.08)))

    thr = 0.9 * 0.8
    found = adaptive_search(mean_at, thr, max_d=1_000_000)
    grid, interp = estimate_d90(pts([(d, 0, mean_at(d)) for d in sorted(set(calls))]), baseline=0.8)
    assert found == grid
    if interp is None:  # below the first rung: only an upper bound
        assert grid >= true_d90
    else:
        assert abs(interp - true_d90) / true_d90 < 0.2
    assert len(set(calls)) < 10


def test_adaptive_search_gives_up_at_max_d():
    assert adaptive_search(lambda d: 0.1, 0.5, max_d=5000) is None


@pytest.mark.parametrize("text,expected", [("10,100,1000", [10, 100, 1000]), ("1e3, 10", [10, 1000]),
                                           ("100,10,100", [10, 100]), ("auto", "auto"), ([5, 50], [5, 50])])
def test_parse_dims(text, expected):
    assert parse_dims(text) == expected


@pytest.mark.parametrize("text", ["", " ", "0", "-4", "10,,100", "ten", "1.5", "nan", "inf"])
def test_parse_dims_rejects(text):
    with pytest.raises(UserError):
        parse_dims(text)


# --- the edges: a threshold a constant guess cannot pass, curves that fall back, one seed said ---

def test_constant_guess_cannot_pass_the_threshold():
    # sms-spam-like: majority class 0.866; a baseline of 0.93 gives 0.9 x = 0.837, below the majority.
    # A subspace that always answers the majority class scores 0.866 at every d: no d90 for it.
    e = d90.estimate(pts([(10, 0, 0.866), (100, 0, 0.866), (1000, 0, 0.866)]), [0.93],
                     chance=0.5, majority=0.866, n_test=1000)
    assert e["d90_status"] == "not_reached"
    assert e["threshold_rule"] == "floor"
    assert e["threshold"] > 0.866 and math.isclose(e["threshold_paper"], 0.837)
    assert "floor" in d90.threshold_note(e)


def test_floor_rule_keeps_the_papers_threshold_when_it_is_above_the_floor():
    e = d90.estimate(pts([(10, 0, 0.6), (100, 0, 0.85)]), [0.9], chance=0.5, majority=0.5, n_test=1000)
    assert e["threshold_rule"] == "paper" and math.isclose(e["threshold"], 0.81)
    assert d90.threshold_note(e) is None and "floor" not in d90.describe({**e, "status": "done"})


def test_a_real_signal_above_the_floor_still_finds_d90():
    e = d90.estimate(pts([(10, 0, 0.866), (100, 0, 0.90), (1000, 0, 0.95)]), [0.96],
                     chance=0.5, majority=0.866, n_test=1000)
    assert e["d90_status"] == "found" and e["threshold_rule"] == "floor" and e["d90"] == 100
    assert "set by the floor" in d90.describe({**e, "status": "done"})


def test_bootstrap_uses_the_floor_rule_too():
    base = [{"accuracy": 0.93, "status": "done"}]
    subs = [{"d": d, "seed": 0, "accuracy": 0.866, "status": "done"} for d in (10, 100, 1000)]
    ci = d90.bootstrap_ci(base, subs, chance=0.5, n_test=1000, majority=0.866, reps=200)
    assert ci[1] is None  # most replicates never reach a floor-set threshold with all-majority points
    # without the floor, 0.9 x 0.93 = 0.837 and every replicate passes at the smallest d
    # (the lower end is unknown then: below the smallest d nothing was measured)
    assert d90.bootstrap_ci(base, subs, chance=0.5, n_test=1000, reps=200) == [None, 10.0]


def test_a_curve_that_falls_back_is_flagged():
    # found at 1000 (0.738), then 3000 falls back to 0.676 under a 0.703 threshold (seeds agree)
    p = pts([(100, s, 0.65) for s in range(3)] + [(1000, s, 0.738 + 0.002 * s) for s in range(3)]
            + [(3000, s, 0.676 + 0.002 * s) for s in range(3)])
    e = d90.estimate(p, [0.781], chance=0.5, majority=0.5, n_test=1000)
    assert e["d90_status"] == "found" and e["non_monotone"] and e["non_monotone_at"] == 3000
    assert "falls back" in d90.describe({**e, "status": "done"}) and "3,000" in d90.describe({**e, "status": "done"})
    held = d90.estimate(pts([(100, 0, 0.65), (1000, 0, 0.74), (3000, 0, 0.75)]), [0.781], chance=0.5, n_test=1000)
    assert held["non_monotone"] is False and held["non_monotone_at"] is None


def test_one_seed_interval_says_what_it_leaves_out():
    one = d90.estimate(pts([(10, 0, 0.6), (100, 0, 0.85)]), [0.9], chance=0.5)
    assert one["d90_ci_over"] == "examples"
    text = d90.describe({**one, "d90_ci": [20.0, 90.0], "status": "done"})
    assert "1 seed" in text and "spread" in text, text
    three = d90.estimate(pts([(d, s, a) for s in range(3) for d, a in ((10, 0.6), (100, 0.85))]), [0.9], chance=0.5)
    assert three["d90_ci_over"] == "seeds+examples"
    assert "1 seed" not in d90.describe({**three, "d90_ci": [20.0, 90.0], "status": "done"})


def test_refine_bisects_the_bracket_on_the_means_it_is_given():
    from idim_core.search import refine_grid

    truth = lambda d: 0.3 + 0.6 * min(1.0, math.log10(d) / 3)  # noqa: E731  (0.9 at d = 1000)
    means = {10: truth(10), 100: truth(100), 10_000: truth(10_000)}
    asked = []

    def means_at(ds):
        asked.extend(ds)
        return {d: truth(d) for d in ds}

    added = refine_grid(means, 0.85, means_at, budget=3)
    assert [d for d, _ in added] == asked == [1000, 316, 562]  # bisection in log d inside 100 - 10,000
    assert all("bracket the threshold 0.850" in why for _, why in added)
    # stops once the bracket is within 1.4x, whatever the budget
    means2 = {100: 0.5, 130: 0.9}
    assert refine_grid(means2, 0.85, means_at, budget=5) == []
    # nothing to refine below the grid or when never reached; budget 0 is off
    assert refine_grid({10: 0.9, 100: 0.95}, 0.85, means_at, 3) == []
    assert refine_grid({10: 0.1, 100: 0.2}, 0.85, means_at, 3) == []
    assert refine_grid({10: 0.1, 1000: 0.95}, 0.85, means_at, 0) == []


def test_interval_ends_inside_an_untried_stretch_move_out_by_their_distance_to_the_d_tried():
    import math

    # 137 sits 1.37x above 100 (nearer than 1000): the lower end moves out by sqrt(1.37); 217 sits 2.17x above
    # 100 and 4.6x below 1000: the upper end moves out by sqrt(2.17)
    lo, hi = d90.widen_to_tried([137.0, 217.0], [10, 100, 1000])
    assert math.isclose(lo, 137 / math.sqrt(1.37)) and math.isclose(hi, 217 * math.sqrt(2.17))
    # inside a stretch within 1.4x the interpolation is kept; an end on a tried d does not move
    assert d90.widen_to_tried([137.0, 217.0], [10, 100, 130, 160, 200, 400]) == [137.0, 217.0 * math.sqrt(217 / 200)]
    assert d90.widen_to_tried([135.0, 190.0], [100, 130, 160, 200]) == [135.0, 190.0]
    assert d90.widen_to_tried([100.0, None], [10, 100, 1000]) == [100.0, None]  # "> max d" stays open
    assert d90.widen_to_tried(None, [10]) is None
    # continuous: an end a hair either side of a tried d moves the widened end by about as little
    a, b = d90.widen_to_tried([99.9, 1000.1], [10, 100, 1000, 10000]), d90.widen_to_tried([100.1, 999.9],
                                                                                          [10, 100, 1000, 10000])
    assert abs(a[0] / b[0] - 1) < 0.01 and abs(a[1] / b[1] - 1) < 0.01


def test_interval_holds_its_estimate_and_holds_still_across_bootstrap_seeds():
    """The adaptive bootstrap: ends within 5 % across seeds 0-9 on a sparse, 3-seed run; the estimate inside."""
    rows = {10: [0.30, 0.35, 0.28], 100: [0.55, 0.62, 0.50], 1000: [0.80, 0.71, 0.76], 10000: [0.86, 0.84, 0.85]}
    base = [{"accuracy": a, "status": "done"} for a in (0.88, 0.90, 0.87)]
    subs = [{"d": d, "seed": s, "accuracy": a, "status": "done"}
            for d, accs in rows.items() for s, a in enumerate(accs)]
    est = d90.estimate(subs, [b["accuracy"] for b in base], chance=0.5, n_test=500)
    assert est["d90_status"] == "found"
    cis = [d90.interval(base, subs, 0.5, 500, None, list(rows), est["d90_interpolated"], seed=s)[0]
           for s in range(10)]
    for j in (0, 1):
        ends = [c[j] for c in cis if c[j] is not None]
        assert len(ends) == 10 and max(ends) / min(ends) - 1 <= 0.05
    assert all(c[0] <= est["d90_interpolated"] <= c[1] for c in cis)


def _stored_run(home, val_at_1000: float):
    """A finished run in a real store: the baseline 0.80 on test and validation (threshold 0.72 both), test
    means under 0.72 at every d, the validation mean at d = 1,000 set by the caller."""
    from idim_core.results import result
    from idim_core.runconfig import make_config
    from idim_core.store import Store

    s = Store(home)
    rid = s.create_run(make_config(model="mlp", task="digits", dims="10,100,1000", seeds=2), status="done")
    s.update_run(rid, summary={"chance": 0.1, "majority": 0.11, "splits": {"train": 1000, "val": 400, "test": 400}})
    for seed in (0, 1):
        t = s.start_trial(rid, "baseline", None, seed)
        s.finish_trial(t, "done", accuracy=0.80, val_accuracy=0.80)
        for d, test, val in ((10, 0.30, 0.31), (100, 0.60, 0.62), (1000, 0.70, val_at_1000)):
            t = s.start_trial(rid, "subspace", d, seed)
            s.finish_trial(t, "done", accuracy=test, val_accuracy=val)
    return result(s, rid)


def test_a_test_curve_under_the_threshold_says_where_validation_crossed(tmp_path):
    # the search chooses on validation; when validation crosses and the test curve does not, the d90 sentence
    # says so instead of a bare "> max d" (before: nothing said the splits disagree)
    res = _stored_run(tmp_path / "a", val_at_1000=0.74)
    assert res["d90_status"] == "not_reached" and res["d90_val"] == 1000
    text = d90.describe(res)
    assert text.startswith("d90 > max d (1,000)") and "on validation d = 1,000 reaches it" in text
    quiet = _stored_run(tmp_path / "b", val_at_1000=0.71)
    assert quiet["d90_val"] is None and "validation" not in d90.describe(quiet)
