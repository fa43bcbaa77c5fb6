"""The one preflight every face shares: bad inputs are refused in one line before a run row exists,
and budgets too small to learn are warned about (not refused)."""
import json

import pytest

from conftest import run_cli
from idim_core.runconfig import budget_warnings, make_config


def test_budget_warnings_for_too_few_steps_and_examples_per_class():
    assert budget_warnings(make_config()) == []  # the defaults: 64 steps, 512 examples a class
    assert budget_warnings(make_config(model="mlp", task="digits")) == []
    w = budget_warnings(make_config(max_train=8, epochs=0.25))
    assert len(w) == 2 and "1 optimiser step " in w[0] and "4 training examples per class" in w[1]
    w = budget_warnings(make_config(task="trec50", max_train=200, epochs=10))
    assert len(w) == 1 and "per class" in w[0] and "50 classes" in w[0]
    assert "--max-steps 3" in budget_warnings(make_config(max_steps=3))[0]


def test_budget_warnings_read_a_csv_task(tmp_path):
    p = tmp_path / "small.csv"
    p.write_text("text,label\n" + "".join(f"row {i},{'ab'[i % 2]}\n" for i in range(40)))
    w = budget_warnings(make_config(task=f"csv:{p}"))
    assert w == [w[0]] and "2 optimiser steps (32 training examples" in w[0]


def test_cli_prints_budget_warnings_and_still_runs(home):
    r = run_cli("run", "--model", "mlp", "--task", "digits", "--dims", "10", "--max-train", "16", "--epochs", "1",
                "--queue", home=home, timeout=120)
    assert r.returncode == 0, r.stderr
    warn = [ln for ln in r.stderr.splitlines() if ln.startswith("idim: warning: ")]
    assert len(warn) == 2 and "optimiser step" in warn[0] and "per class" in warn[1], r.stderr
    assert len(json.loads(run_cli("ls", "--json", home=home).stdout)) == 1
