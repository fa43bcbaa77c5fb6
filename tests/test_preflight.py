"""The one preflight every face shares: bad inputs are refused in one line before a run row exists,
and budgets too small to learn are warned about (not refused)."""
import json

import pytest
from conftest import cli_in_process, run_cli

from idim_core.runconfig import budget_warnings, make_config


def test_budget_warnings_for_too_few_steps_and_examples_per_class():
    assert budget_warnings(make_config()) == []  # the defaults: 64 steps, about 170 examples a class (trec6)
    assert budget_warnings(make_config(model="mlp", task="digits")) == []
    w = budget_warnings(make_config(task="mr", max_train=8, epochs=0.25))
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


# --- bad inputs: exit 2, one line, nothing stored ----------------------------------------------------------
def _csv(path, rows):
    path.write_text("text,label\n" + "".join(f"{t},{y}\n" for t, y in rows), encoding="utf-8")
    return f"csv:{path}"


def _has_cuda():
    import torch

    return torch.cuda.is_available()


def _has_mps():
    import torch

    return bool(getattr(torch.backends, "mps", None) and torch.backends.mps.is_available())


LONG = "x" * 5000
MLP = ["--model", "mlp", "--task", "digits", "--dims", "10"]
TEXT = ["--model", "minilm-l1", "--task", "mr", "--dims", "10,100"]
REFUSED = [
    (TEXT + ["--device", "tpu"], "unknown --device"),
    (TEXT + ["--device", "cuda:x"], "unknown --device"),
    (TEXT + ["--max-length", "100000"], "at most 512"),
    (TEXT + ["--max-length", "513"], "at most 512"),
    (MLP + ["--max-length", "64"], "--max-length is for text models"),
    (["--model", LONG, "--task", "mr"], "limit is 1,024"),
    (["--model", "minilm-l1", "--task", "csv:" + LONG], "limit is 1,024"),
    (["--model", "minilm-l1", "--task", "csv:/" + "y" * 300 + "/a.csv"], "does not exist"),
    (["--model", "minilm-l1", "--task", "csv:"], "needs the path"),
    (["--model", "/" + "m" * 300, "--task", "mr"], "cannot be read"),
    (["--model", "minilm-l1", "--task", "csv:/etc"], "is not a file"),
    (TEXT + ["--split-seed", "-1"], "--split-seed must be"),
    (TEXT + ["--split-seed", "99999999999999999999"], "--split-seed must be"),
    (MLP + ["--lora-targets", "all-linear"], "--lora-targets is for"),
    (MLP + ["--lora-targets", "query-value"], "--lora-targets is for"),
    (["--model", "mlp", "--task", "digits", "--method", "bitfit", "--lora-targets", "all-linear"], "--lora-targets"),
    (TEXT + ["--method", "said", "--lr-adapter", "0.01"], "--lr-adapter is for"),
    (TEXT + ["--label-column", "y"], "--label-column is for a csv:"),
    (TEXT + ["--text-column", "y"], "--text-column is for a csv:"),
    (TEXT + ["--method", "did", "--said-groups", "tensor"], "--said-groups is for said"),
    (["--model", "minilm-l1", "--task", "mr", "--method", "lora", "--projection", "sparse"], "--projection is for"),
    (["--model", "minilm-l1", "--task", "mr", "--method", "head", "--lr-subspace", "0.5"], "--lr-subspace is for"),
    (TEXT[:-1] + ["10,١٠٠"], "digits 0-9"),
    (TEXT[:-1] + ["1_000"], "digits 0-9"),
    (TEXT[:-1] + ["٣"], "digits 0-9"),
    (["--model", "minilm-l1", "--task", "mr", "--method", "lora", "--ranks", "٤"], "digits 0-9"),
    (TEXT + ["--seeds", "٢"], "invalid int value"),
    (TEXT + ["--epochs", "١"], "invalid float value"),
    (MLP + ["--executor", "ray", "--ray-address", "auto"], "found no running Ray cluster"),
    (MLP + ["--executor", "ray", "--cpus-per-trial", "4096"], "lower --cpus-per-trial"),
]


@pytest.mark.parametrize("args,msg", REFUSED, ids=[" ".join(a)[-60:] for a, _ in REFUSED])
def test_bad_input_is_refused_before_a_run_exists(home, args, msg):
    r = cli_in_process("run", *args, "--queue", home=home)
    _refused(r, msg, home)


def _refused(r, msg, home):
    lines = r.stderr.strip().splitlines()
    assert r.returncode == 2 and len(lines) == 1 and msg in lines[0], r.stderr[-2000:]
    for word in ("Traceback", "Error:", "Exception", "errno", "Errno"):
        assert word not in lines[0], lines[0]
    assert r.stdout == ""
    assert json.loads(cli_in_process("ls", "--json", home=home).stdout) == []  # nothing stored


def test_devices_this_machine_lacks_are_refused_before_a_run_exists(home):
    cases = [(d, w) for d, w, have in (("cuda", "no CUDA GPU", _has_cuda()), ("cuda:0", "no CUDA GPU", _has_cuda()),
                                       ("mps", "MPS", _has_mps())) if not have]
    if not cases:
        pytest.skip("this machine has both CUDA and MPS")
    for device, msg in cases:
        # queued and trained at once: both refused before the store has a row
        for extra in (["--queue"], []):
            r = run_cli("run", *MLP, "--device", device, *extra, home=home, timeout=120)
            _refused(r, msg, home)


def test_ray_gpus_this_machine_lacks_are_refused_before_a_run_exists(home):
    if _has_cuda():
        pytest.skip("this machine has a CUDA GPU")
    for extra in (["--queue"], []):
        r = run_cli("run", *MLP, "--executor", "ray", "--gpus-per-trial", "1", *extra, home=home, timeout=120)
        _refused(r, "lower --gpus-per-trial", home)


def test_csv_too_small_to_split_is_refused_before_a_run_exists(home, tmp_path):
    task = _csv(tmp_path / "ten.csv", [(f"text {i}", f"c{i}") for i in range(10)])
    for extra in (["--queue"], []):
        r = run_cli("run", "--model", "minilm-l1", "--task", task, "--dims", "10,100", *extra, home=home,
                    timeout=120)
        _refused(r, "too small to split", home)


def test_labels_are_text_not_numbers(home, tmp_path):
    rows = [(f"text {i} {k}", y) for i in range(12) for k, y in enumerate(("²", "--5", "٣", "1"))]
    task = _csv(tmp_path / "odd.csv", rows)
    r = run_cli("tasks", task, "--json", home=home, timeout=120)
    assert r.returncode == 0, r.stderr
    (t,) = json.loads(r.stdout)
    assert t["num_labels"] == 4 and set(t["classes"]) == {"1", "--5", "²", "٣"}
    r = run_cli("run", "--model", "minilm-l1", "--task", task, "--dims", "10,100", "--queue", home=home, timeout=120)
    assert r.returncode == 0, r.stderr


def test_a_csv_whose_rows_all_repeat_is_refused_in_one_line(home, tmp_path):
    task = _csv(tmp_path / "same.csv", [("the same words", f"c{i % 2}") for i in range(40)])
    r = run_cli("run", "--model", "minilm-l1", "--task", task, "--dims", "10,100", "--queue", home=home, timeout=120)
    _refused(r, "also appears in an earlier split", home)
    assert str(tmp_path) not in r.stderr  # the file by its name


def test_a_relative_csv_path_is_stored_absolute(home, tmp_path):
    import os
    import subprocess
    import sys

    _csv(tmp_path / "mine.csv", [(f"text {i}", "ab"[i % 2]) for i in range(40)])
    env = dict(os.environ, IDIM_HOME=str(home))
    r = subprocess.run([sys.executable, "-m", "idim_core.cli", "run", "--model", "minilm-l1", "--task", "csv:mine.csv",
                        "--dims", "10,100", "--queue", "--json"], cwd=tmp_path, env=env, capture_output=True,
                       text=True, timeout=120)
    assert r.returncode == 0, r.stderr
    (run,) = json.loads(run_cli("ls", "--json", home=home).stdout)
    assert run["task"] == f"csv:{(tmp_path / 'mine.csv').resolve()}"


def test_export_to_a_missing_folder_and_worker_poll_are_one_line(home, tmp_path):
    r = run_cli("run", *MLP, "--queue", "--json", home=home, timeout=120)
    rid = json.loads(r.stdout)["run_id"]
    for args, msg in ((["export", rid, "-o", "/nonexistent/x.csv"], "does not exist"),
                      (["export", rid, "-o", str(tmp_path)], "it is a folder"),
                      (["export", rid, "-o", "/" + "z" * 5000], "limit is 1,024"),
                      (["worker", "--poll", "-1", "--once"], "--poll must be from"),
                      (["worker", "--poll", "0", "--once"], "--poll must be from"),
                      (["worker", "--poll", "nan", "--once"], "--poll must be from"),
                      (["worker", "--poll", "١", "--once"], "invalid float value")):
        r = run_cli(*args, home=home, timeout=60)
        lines = r.stderr.strip().splitlines()
        assert r.returncode == 2 and len(lines) == 1 and msg in lines[0], r.stderr[-1500:]
    assert not (tmp_path / "x.csv").exists()
    (run,) = json.loads(run_cli("ls", "--json", home=home).stdout)
    assert run["status"] == "queued"  # the worker never started


def test_max_length_beyond_a_local_models_positions_is_refused(home, tmp_path):
    from transformers import AutoTokenizer, BertConfig

    from idim_core.models import bundled_path

    d = tmp_path / "tiny-bert"
    BertConfig(hidden_size=32, num_hidden_layers=2, num_attention_heads=2, intermediate_size=64,
               max_position_embeddings=128).save_pretrained(d)  # the config is all the preflight reads
    AutoTokenizer.from_pretrained(str(bundled_path())).save_pretrained(d)
    r = run_cli("run", "--model", d, "--task", "mr", "--method", "did", "--dims", "10", "--max-length", "200",
                "--queue", home=home, timeout=180)
    _refused(r, "reads (128 tokens); give at most 128", home)


def test_empty_csv_column_names_are_refused(home, tmp_path):
    task = _csv(tmp_path / "c.csv", [(f"text {i}", "ab"[i % 2]) for i in range(40)])
    for flag in ("--text-column", "--label-column"):
        r = run_cli("run", "--model", "minilm-l1", "--task", task, "--dims", "10,100", flag, " ", "--queue",
                    home=home, timeout=120)
        _refused(r, f"{flag} is empty", home)
