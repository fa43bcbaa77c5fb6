"""A searched rate never stops at an end of its range by default: when the best attempt on validation is the
smallest or largest rate tried, the search goes on a factor 3 past it (--lr-search-beyond), and the run's log
says every rate tried and whether the kept one is still an end (real trials of the classic MLP)."""
import json

import pytest
from conftest import run_cli

from idim_core.store import Store

pytestmark = pytest.mark.slow


@pytest.fixture(scope="module")
def digits():
    from idim_core.prep import prepare
    from idim_core.runconfig import make_config

    cfg = make_config(model="mlp", task="digits", baseline_lr_search=True, lr_full=1e-6)
    prep, _, _ = prepare(cfg, "cpu")
    return cfg, prep


def test_a_best_rate_at_the_top_of_the_range_goes_on_past_it(digits):
    from idim_core.train import run_trial

    cfg, prep = digits
    res = run_trial(prep, cfg, d=None, seed=0)  # 1e-6 is far too small: every larger rate does better
    rates = list(res.lr_tried)
    assert len(rates) == 3 + cfg.lr_search_beyond == 5
    assert rates == sorted(rates) and rates[0] == pytest.approx(1e-6 / 3) and rates[-1] == pytest.approx(2.7e-5)
    assert res.lr == pytest.approx(rates[-1]) and res.lr_at_end  # the limit was reached: still the top
    assert res.val_accuracy == max(v for v in res.lr_tried.values() if v is not None)
    only = run_trial(prep, cfg.but(lr_search_beyond=0), d=None, seed=0)  # the old search: 1/3, 1, 3 only
    assert len(only.lr_tried) == 3 and only.lr == pytest.approx(3e-6) and only.lr_at_end
    assert only.val_accuracy < res.val_accuracy  # the rate past the end was the better ruler


def test_the_search_goes_past_an_end_only_when_that_end_is_the_best(digits):
    from idim_core.train import run_trial

    cfg, prep = digits
    res = run_trial(prep, cfg.but(lr_full=1e-2), d=None, seed=0)
    vals = {round(lr / 1e-2, 6): v if v is not None else -1.0 for lr, v in res.lr_tried.items()}
    first = [vals[round(1 / 3, 6)], vals[1.0], vals[3.0]]  # the first three attempts, in the order tried
    best_first = first.index(max(first))  # the search keeps the first of equals
    if len(vals) == 3:
        assert best_first == 1  # the middle rate won: nothing to go on to
    else:
        assert best_first in (0, 2)  # it went on only past the end that was best
        extra = len(vals) - 3  # one direction only: past the end that was best, and on while it stays best
        past = 3.0 ** (1 + extra) if best_first == 2 else (1 / 3) ** (1 + extra)
        assert round(past, 6) == (max(vals) if best_first == 2 else min(vals))


def test_the_log_names_every_rate_tried_and_the_limit(home):
    p = run_cli("run", "--model", "mlp", "--task", "digits", "--dims", "100", "--refine", "0", "--seeds", "1",
                "--baseline-lr-search", "--lr-full", "1e-6", "--json", "--quiet", home=home)
    assert p.returncode == 0, p.stderr
    res = json.loads(p.stdout)
    msg = next(e["message"] for e in Store().events(res["run_id"]) if e["message"].startswith("baseline seed 0:"))
    assert "rate 2.7e-05 chosen on validation (tried 3.33e-07, 1e-06, 3e-06, 9e-06, 2.7e-05" in msg, msg
    assert "still the largest tried" in msg


def test_lr_search_beyond_is_checked_and_is_part_of_the_searched_baselines_key(home):
    from idim_core.runconfig import baseline_key, make_config

    for bad in ("-1", "6", "two"):
        q = run_cli("run", "--model", "mlp", "--task", "digits", "--lr-search-beyond", bad, home=home)
        assert q.returncode == 2 and len(q.stderr.strip().splitlines()) == 1, q.stderr
    a = make_config(model="mlp", task="digits", baseline_lr_search=True)
    b = make_config(model="mlp", task="digits", baseline_lr_search=True, lr_search_beyond=0)
    assert baseline_key(a) != baseline_key(b)  # a baseline searched past its ends is not one that stopped there
    c = make_config(model="mlp", task="digits", baseline_lr_search=False)
    d = make_config(model="mlp", task="digits", baseline_lr_search=False, lr_search_beyond=0)
    assert baseline_key(c) == baseline_key(d)  # without the search the option changes nothing
    assert baseline_key(make_config(model="mlp", task="digits")) == baseline_key(a)  # the default searches
