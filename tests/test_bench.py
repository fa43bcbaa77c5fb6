"""The benchmarks print their figures (never asserted as speed here): check they run and say what they promise."""
import json
import subprocess
from pathlib import Path

import pytest
from conftest import run_cli

ROOT = Path(__file__).resolve().parent.parent
pytestmark = pytest.mark.slow  # end to end: real processes, real training (bash scripts/test.sh runs them)


def test_bench_step_prints_the_promised_keys(home):
    r = run_cli("bench", "step", "--model", "minilm-l1", "--method", "said", "--projection", "fastfood", "--dim", "100",
                "--batch", "4", "--seq", "16", "--pairs", "2", "--json", home=home)
    assert r.returncode == 0, r.stderr
    out = json.loads(r.stdout)
    for key in ("full_step_s", "subspace_step_s", "ratio", "full_peak_mib", "subspace_peak_mib", "device", "threads"):
        assert key in out, key
    committed = json.loads((ROOT / "bench" / "step.json").read_text(encoding="utf-8"))["readings"]
    assert all(set(r) == set(out) for r in committed)  # the file claims.py reads holds what this bench prints
    assert out["full_step_s"] > 0 and out["subspace_step_s"] > 0 and out["ratio"] > 0
    # two pairs bound no median at 90 %: the verdict says so instead of met or missed
    assert out["ratio_interval"] == [None, None] and out["ratio_verdict"].startswith("too few repeats")
    assert 0 <= out["steal_share"] < 1  # how much of the CPUs the hypervisor took meanwhile (Linux)
    assert out["full_peak_mib"] > 100 and out["subspace_peak_mib"] > 100  # the model alone is ~50 MB
    r = run_cli("bench", "step", "--model", "minilm-l1", "--projection", "sparse", "--method", "did", "--dim", "50",
                "--batch", "2", "--seq", "8", "--pairs", "1", "--no-memory", "--json", home=home)
    assert r.returncode == 0, r.stderr
    assert "full_peak_mib" not in json.loads(r.stdout)


def test_bench_sweep_reports_times_and_d90(home):
    # one seed: trials one after another in this process (with more, the digits train on two processes)
    # with one busy process beside it (started and stopped by the bench itself)
    r = run_cli("bench", "sweep", "--task", "digits", "--dims", "10,300", "--seeds", "1", "--load", "1", "--json",
                home=home)
    assert r.returncode == 0, r.stderr
    out = json.loads(r.stdout)
    assert out["load"] == 1
    lo, hi = out["estimate_range_s"]
    assert 0 < lo < out["estimate_s"] < hi and out["estimate_swings"] >= 1.0
    left = subprocess.run(["pgrep", "-f", "while True: pass"], capture_output=True, text=True).stdout.split()
    assert not left, f"busy processes left behind: {left}"
    bad = run_cli("bench", "sweep", "--load", "-1", home=home, timeout=60)
    assert bad.returncode == 2 and len(bad.stderr.strip().splitlines()) == 1 and "--load" in bad.stderr, bad.stderr
    assert out["wall_s"] > 0 and 0 < out["ruler_s"] < out["first_point_s"] <= out["wall_s"]
    # the sweep as it is: the ruler first (drawn from the baseline's first rate, provisional), then the first point,
    # then the baseline's other rates (the final ruler), then the grid and the refinement's d
    kinds = [t["kind"] for t in out["trials"]]
    assert out["first_trial"] == "baseline" and kinds[:2] == ["subspace", "baseline"] and set(kinds[2:]) == {"subspace"}
    assert out["ruler_s"] < out["first_point_s"] < out["ruler_final_s"] <= out["wall_s"]
    assert len(kinds) >= 3
    assert out["baseline_accuracy"] > 0.5 and "d90" in out and "d90_interpolated" in out
    # the estimate printed before it, after the worker's calibration (kept in the store's directory)
    assert out["estimate_s"] > 0 and out["estimate_error"] == pytest.approx(out["estimate_s"] / out["wall_s"] - 1)
    assert out["calibration"]["seconds_per_step"] > 0 and out["calibration"]["model"] == "mlp"
    assert 0 <= out["steal_share"] < 1
    # where the time went: by kind of trial and by phase inside trials, adding up to the wall time
    b = out["breakdown"]
    for key in ("prepare_s", "baseline_s", "probe_s", "grid_s", "refinement_s", "steps_s", "validation_s",
                "test_s", "train_accuracy_s", "quantised_s", "quantised_train_s", "build_s", "other_s"):
        assert b[key] is not None and b[key] >= 0, key
    trials = sum(t["seconds"] for t in out["trials"])
    assert b["baseline_s"] + b["probe_s"] + b["grid_s"] + b["refinement_s"] == pytest.approx(trials)
    assert b["prepare_s"] + trials + b["other_s"] == pytest.approx(out["wall_s"])
    assert b["refinement_trials"] == sum(1 for t in out["trials"]
                                         if t["kind"] == "subspace" and t["d"] not in (10, 300))
    # by default nothing is quantised (--claims-facts quantises: tests/test_facts.py)
    assert 0 < b["steps_s"] < trials and b["quantised_s"] == 0 and b["quantised_train_s"] == 0
    for t in out["trials"]:  # each trial's phases fit inside its seconds
        assert sum(t["timing"].values()) <= t["seconds"] + 1e-6


def test_bench_bad_input(home):
    r = run_cli("bench", "step", "--dim", "0", home=home)
    assert r.returncode == 2 and "--dim" in r.stderr


@pytest.mark.parametrize("values, expected", [
    ([1.3, 1.0, 1.2, 1.1, 1.4], (1.0, 1.4, 0.9375)),  # five: the smallest and the largest (1 - 2/32)
    ([9, 1, 8, 2, 7, 3, 6, 4, 5], (2, 8, 1 - 20 / 512)),  # nine: the second from each end (96 %; the third: 82 %)
    ([1.0, 1.1, 1.2, 1.3], None),  # four: even the extremes hold the median with only 88 %
    ([], None),
])
def test_median_interval_is_the_sign_test_interval(values, expected):
    from idim_core.bench import median_interval

    got = median_interval(values)
    assert got == (pytest.approx(expected) if expected else None)


def test_verdict_calls_the_target_only_when_the_interval_is_on_one_side():
    from idim_core.bench import verdict

    assert verdict([1.02, 1.05, 1.08, 1.04, 1.09], 1.1).endswith("target <= 1.1 met")
    assert verdict([1.12, 1.15, 1.3, 1.2, 1.11], 1.1).endswith("target <= 1.1 not met")
    assert verdict([1.02, 1.05, 1.18, 1.04, 1.09], 1.1).endswith("holds 1.1: not shown either way")
    assert verdict([1.0, 1.0], 1.1).startswith("too few repeats")


def test_steal_share_reads_two_readings_of_proc_stat():
    from idim_core.bench import host_jiffies, steal_share, steal_words

    a = host_jiffies()
    assert a is not None and a[2] >= a[0] + a[1]  # busy and steal are parts of the total
    # 50 ticks busy and 20 stolen out of 70 wanted (the 130 idle ones do not count)
    assert steal_share((100, 10, 1000), (150, 30, 1200)) == pytest.approx(20 / 70)
    assert steal_share(None, a) is None and steal_share(a, a) is None  # nothing wanted between: no share
    assert steal_words(0.1).endswith("NOT a quiet machine (quiet: under 5 %)") and steal_words(0.01).endswith("quiet")
