"""The exact CLI contract other tools depend on, on the full bundled model."""
import json

import pytest
from conftest import run_cli

pytestmark = pytest.mark.slow  # end to end: real processes, real training (bash scripts/test.sh runs them)


def test_contract_command_on_bundled_model(home):
    r = run_cli("run", "--model", "minilm-l6", "--task", "mr", "--method", "said", "--projection", "fastfood",
                "--dims", "10,100,1000", "--seeds", "1", "--max-train", "512", "--max-eval", "256", "--epochs", "1",
                "--json", home=home, timeout=1800)
    assert r.returncode == 0, r.stderr
    out = json.loads(r.stdout)
    assert out["status"] == "done"
    assert (out["model"], out["task"], out["method"], out["projection"]) == ("minilm-l6", "mr", "said", "fastfood")
    assert out["D"] == 22_565_376 + 384 * 2 + 2
    assert 0.5 < out["baseline_accuracy"] <= 1.0  # full fine-tuning learns something
    # 0.9 x the baseline (the papers' rule), unless a constant guess would pass that: then the floor
    assert abs(out["threshold_paper"] - 0.9 * out["baseline_accuracy"]) < 1e-12
    assert out["threshold"] == max(out["threshold"], out["threshold_paper"])
    if out["threshold_rule"] == "paper":
        assert abs(out["threshold"] - 0.9 * out["baseline_accuracy"]) < 1e-12
    # the grid's points, and any the refinement added inside it (`--refine 0` gives the grid alone)
    grid = [(p["d"], p["seed"]) for p in out["points"] if p["d"] in (10, 100, 1000)]
    assert grid == [(10, 0), (100, 0), (1000, 0)]
    assert all(10 < p["d"] < 1000 and p["seed"] == 0 for p in out["points"] if p["d"] not in (10, 100, 1000))
    assert all(set(p) >= {"d", "seed", "accuracy"} for p in out["points"])
    assert out["d90"] is None or isinstance(out["d90"], int)
    assert out["d90_interpolated"] is None or isinstance(out["d90_interpolated"], float)
    assert json.loads(run_cli("show", out["run_id"], "--json", home=home).stdout)["points"] == out["points"]
    csv = run_cli("export", out["run_id"], "--format", "csv", home=home).stdout.splitlines()
    assert csv[0].startswith("d,seed,accuracy,") and len(csv) == 1 + len(out["points"])  # facts after
