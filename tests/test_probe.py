"""The linear probe beside d90: a language-model DID/SAID run trains the head alone on the frozen
features, once per seed, shares it like the baseline, and every face states it (a real run)."""
import json

import pytest
from conftest import run_cli

from idim_core.store import Store

pytestmark = pytest.mark.slow
TINY = ("--model", "minilm-l6", "--task", "mr", "--dims", "10", "--max-train", "64", "--max-eval", "32",
        "--epochs", "1", "--refine", "0", "--json", "--quiet")


def test_a_language_model_run_trains_a_probe_and_shares_it_with_the_baseline(home):
    p = run_cli("run", *TINY, home=home)
    assert p.returncode == 0, p.stderr
    res = json.loads(p.stdout)
    assert res["probe_params"] == 770 and 0 <= res["probe_accuracy"] <= 1 and len(res["probe_accuracies"]) == 1
    assert all(pt["d"] == 10 for pt in res["points"])  # the probe is not a point of the curve
    q = run_cli("run", *TINY, "--method", "did", home=home)  # same budget: baseline and probe shared
    assert q.returncode == 0, q.stderr
    res2 = json.loads(q.stdout)
    assert res2["probe_accuracy"] == res["probe_accuracy"] and res2["baseline_accuracy"] == res["baseline_accuracy"]
    kinds = [t["kind"] for t in Store().trials(res2["run_id"])]
    assert kinds.count("probe") == 1 and kinds.count("baseline") == 1
    r = run_cli("run", *TINY, "--no-probe", "--fresh-baseline", home=home)
    assert r.returncode == 0, r.stderr
    assert json.loads(r.stdout)["probe_accuracy"] is None


def test_the_probe_chooses_its_rate_on_validation_unless_fixed(home):
    """The head's rate is tuned on one task (mr); on another the frozen features may want another rate, and a
    probe at the wrong one understates them.  So each seed's probe keeps the best of 1/3, 1 and 3 times the
    head's rate on validation (and goes on past an end), and --probe-fixed-rate trains at the rate alone."""
    p = run_cli("run", *TINY, home=home)
    assert p.returncode == 0, p.stderr
    res = json.loads(p.stdout)
    msg = next(e["message"] for e in Store().events(res["run_id"]) if e["message"].startswith("linear probe seed 0"))
    assert "chosen on validation (tried 0.001, 0.003, 0.009" in msg, msg
    q = run_cli("run", *TINY, "--probe-fixed-rate", home=home)  # the same baseline, not the same probe
    assert q.returncode == 0, q.stderr
    res2 = json.loads(q.stdout)
    assert res2["baseline_accuracy"] == res["baseline_accuracy"]
    kinds = [t["kind"] for t in Store().trials(res2["run_id"])]
    assert kinds.count("probe") == 1 and kinds.count("baseline") == 1
    msg2 = next(e["message"] for e in Store().events(res2["run_id"]) if e["message"].startswith("linear probe"))
    assert "chosen" not in msg2, msg2
