import pytest

from idim_core.errors import UserError
from idim_core.sweep import adaptive_search, estimate_d90, parse_dims, summarize


def pts(pairs):
    return [{"d": d, "seed": s, "accuracy": a, "status": "done"} for d, s, a in pairs]


def test_never_reached_is_null():
    assert estimate_d90(pts([(10, 0, 0.5), (100, 0, 0.6)]), baseline=0.9) == (None, None)


def test_reached_at_first_d():
    assert estimate_d90(pts([(10, 0, 0.85), (100, 0, 0.9)]), baseline=0.9) == (10, 10.0)


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
    rows = summarize(p)
    assert rows[0]["mean"] == pytest.approx(0.65) and rows[0]["n"] == 2


def test_non_monotone_takes_smallest_reaching_d():
    g, _ = estimate_d90(pts([(10, 0, 0.5), (100, 0, 0.75), (1000, 0, 0.70), (10000, 0, 0.8)]), baseline=0.8)
    assert g == 100


def test_diverged_trials_are_excluded_but_counted():
    p = pts([(100, 0, 0.7)]) + [{"d": 100, "seed": 1, "accuracy": None, "status": "diverged"}]
    rows = summarize(p)
    assert rows[0]["n"] == 1 and rows[0]["diverged"] == 1
    assert estimate_d90(p, 0.7) == (100, 100.0)


def test_no_baseline_no_d90():
    assert estimate_d90(pts([(10, 0, 0.9)]), None) == (None, None)


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
