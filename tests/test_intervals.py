"""Issue 45: intervals that hold still, comparisons from one bootstrap of the ratio, a tuned ruler by default,
a weak ruler said, and records that keep per-example results."""
import json

import pytest
from conftest import run_cli

from idim_core import d90
from idim_core.demo import RECORDED_DIR, import_recorded, recorded_result
from idim_core.results import pack_correct, pair, result, unpack_correct
from idim_core.store import Store


def test_per_example_results_pack_and_unpack_exactly_and_a_damaged_one_is_one_error():
    bits = "".join("1" if (i * 7) % 3 else "0" for i in range(517))
    z = pack_correct(bits)
    assert z.startswith("517:") and len(z) < len(bits) and unpack_correct(z) == bits
    assert pack_correct(None) is None and unpack_correct("") is None
    for bad in ("517:not-base64!", "x:eJw=", "0:" + z.split(":", 1)[1], "99999:" + z.split(":", 1)[1]):
        with pytest.raises(ValueError, match="damaged"):
            unpack_correct(bad)


def _paired_run(rng, n, base_p, curve):
    def trial(p, d=None, seed=0):
        c = (rng.random(n) < p).astype(int)
        t = {"accuracy": float(c.mean()), "status": "done", "correct": "".join(map(str, c)), "seed": seed}
        return {**t, "d": d} if d else t

    return [trial(base_p, seed=s) for s in range(3)], [trial(p, d, s) for d, p in curve for s in range(3)]


def test_the_ratio_of_two_runs_on_the_same_examples_is_paired_and_its_verdict_can_go_either_way():
    import numpy as np

    rng = np.random.default_rng(5)
    n = 400
    low = _paired_run(rng, n, 0.9, [(10, 0.3), (100, 0.85), (1000, 0.88), (10000, 0.9)])
    high = _paired_run(rng, n, 0.9, [(10, 0.3), (100, 0.4), (1000, 0.6), (10000, 0.88)])
    a, b = d90.Boot(*low, 0.5, n), d90.Boot(*high, 0.5, n)
    assert a.paired and a.shares_examples(b)
    out = d90.compare_pair(a, b, reps=4000)
    assert out["verdict"] == "a lower" and out["ratio_ci"][1] < 1
    assert d90.compare_pair(b, a, reps=4000)["verdict"] == "b lower"
    same = d90.compare_pair(a, d90.Boot(*low, 0.5, n), reps=4000)  # a run against itself: never shown
    assert same["verdict"] == "not shown" and same["ratio_ci"][0] < 1 < same["ratio_ci"][1]


def test_a_verdict_that_a_seed_would_flip_reads_not_shown(monkeypatch):
    """The verdict holds at every bootstrap seed 0-19 or reads "not shown": make seed 7 disagree."""
    calls = []
    real = d90.ratio_interval

    def fake(a, b, reps=d90.BOOT, seed=0, level=0.95, shared=True):
        calls.append(seed)
        return [1.2, 3.0] if seed == 7 else real(a, b, reps, seed, level, shared)

    monkeypatch.setattr(d90, "ratio_interval", fake)
    lenet, mlp = recorded_result("lenet-mnist5k"), recorded_result("mlp-mnist5k")
    out = d90.compare_pair(d90.Boot([{"accuracy": a, "status": "done"} for a in lenet["baseline_accuracies"]],
                                    lenet["points"], lenet["chance"], lenet["n_test"], lenet["majority"]),
                           d90.Boot([{"accuracy": a, "status": "done"} for a in mlp["baseline_accuracies"]],
                                    mlp["points"], mlp["chance"], mlp["n_test"], mlp["majority"]), reps=4000)
    assert 7 in calls and out["verdict"] == "not shown"


def test_a_record_imported_gives_the_same_interval_at_every_ci_seed_within_five_percent(home):
    store = Store()
    rid = import_recorded(store, RECORDED_DIR / "minilm-l6-trec6.json")
    cis = [result(store, rid, ci_seed=s)["d90_ci"] for s in (0, 3, 9)]
    assert cis[0] == json.loads((RECORDED_DIR / "minilm-l6-trec6.json").read_text())["d90_ci"]
    for j in (0, 1):
        ends = [c[j] for c in cis]
        assert max(ends) / min(ends) <= 1.05
    res = result(store, rid)
    assert res["d90_ci"][0] <= res["d90_interpolated"] <= res["d90_ci"][1]
    assert res["d90_ci"][1] / res["d90_ci"][0] <= 5  # the default record's interval spans at most 5x


def test_compare_json_has_pairs_and_show_takes_a_ci_seed(home):
    store = Store()
    a = import_recorded(store, RECORDED_DIR / "lenet-mnist5k.json")
    b = import_recorded(store, RECORDED_DIR / "mlp-mnist5k.json")
    out = run_cli("compare", a, b, "--json", home=home)
    assert out.returncode == 0, out.stderr
    pairs = json.loads(out.stdout)["pairs"]
    assert len(pairs) == 1 and set(pairs[0]) >= {"a", "b", "ratio", "ratio_ci", "verdict"}
    expected = pair(recorded_result("lenet-mnist5k"), recorded_result("mlp-mnist5k"))
    assert pairs[0]["verdict"] == expected["verdict"] == "a lower" and pairs[0]["a"] == a
    assert pairs[0]["ratio_ci"] == pytest.approx(expected["ratio_ci"])
    shown = run_cli("show", a, "--json", "--ci-seed", "4", home=home)
    assert shown.returncode == 0 and json.loads(shown.stdout)["d90_ci"] != result(store, a)["d90_ci"]
    for bad in ("-1", "x", "1e3"):
        r = run_cli("show", a, "--ci-seed", bad, home=home)
        assert r.returncode == 2 and len(r.stderr.strip().splitlines()) == 1


@pytest.mark.slow
def test_a_plain_run_searches_the_ruler_and_a_rerun_reuses_it(home):
    args = ("run", "--model", "mlp", "--task", "digits", "--dims", "10,100", "--seeds", "1", "--json")
    first = run_cli(*args, home=home)
    assert first.returncode == 0, first.stderr
    res = json.loads(first.stdout)
    assert res["baseline_rate_searched"] is True and res["ruler"] in ("ok", "weak")
    assert all(p.get("correct_z") for p in res["points"]) and res["baseline_correct_z"]
    again = run_cli(*args, home=home)
    assert again.returncode == 0 and "baseline shared with run " + res["run_id"] in again.stderr
    plain = run_cli(*args[:-1], "--no-baseline-lr-search", "--json", home=home)
    assert json.loads(plain.stdout)["baseline_rate_searched"] is False


@pytest.mark.slow
def test_a_barely_learned_baseline_is_a_weak_ruler_on_every_face(home):
    out = run_cli("run", "--model", "mlp", "--task", "digits", "--max-train", "20", "--epochs", "1", "--lr-full",
                  "1e-3", "--seeds", "3", "--dims", "10,100,1000", "--no-baseline-lr-search", home=home)
    assert out.returncode == 0, out.stderr
    assert "weak ruler" in out.stdout
    store = Store()
    rid = store.list_runs()[0]["id"]
    res = result(store, rid)
    assert res["ruler"] == "weak" and "weak ruler" in d90.describe(res)


@pytest.mark.slow
def test_a_coarse_digits_sweep_holds_its_own_estimate_and_the_dense_records(home):
    """`idim run --model mlp --task digits --dims 10,100,1000 --seeds 3`: its interval (widened over the coarse
    grid) holds its own estimate and the dense record's (`mlp-digits`)."""
    out = run_cli("run", "--model", "mlp", "--task", "digits", "--dims", "10,100,1000", "--seeds", "3", "--json",
                  home=home)
    assert out.returncode == 0, out.stderr
    res = json.loads(out.stdout)
    lo, hi = res["d90_ci"]
    dense = recorded_result("mlp-digits")["d90_interpolated"]
    assert res["d90_status"] == "found" and lo <= res["d90_interpolated"] <= hi
    assert lo <= dense <= hi, (res["d90_ci"], dense)
