import csv
import io
import json

import pytest
from conftest import cli_in_process, run_cli

SMALL = ["--model", "minilm-l1", "--task", "mr", "--max-train", "48", "--max-eval", "32", "--epochs", "1",
         "--max-length", "32", "--threads", "2"]


# CSV files for the bad-input cases, written on demand: name -> bytes
BAD_CSVS = {
    "empty": b"",
    "nolabel": b"text,other\nhello,1\nworld,0\n",
    "oneclass": b"text,label\n" + b"".join(b"t%d,a\n" % i for i in range(20)),
    "latin1": "text,label\ncaf\xe9,1\n".encode("latin-1"),
    "binary": b"\x00\x01\x02PK\x03\x04" * 50,
    "huge": b"text,label\n" + b"x,1\ny,0\n" * 500_000,  # 10^6 rows
}

BAD_RUNS = [
    (["--dims", ""], "empty"),
    (["--dims", "0"], "at least 1"),
    (["--dims", "-5"], "at least 1"),
    (["--dims", "1e3, 500, -4"], "at least 1"),
    (["--dims", "10,abc"], "not a number"),
    (["--dims", "1.5"], "whole number"),
    (["--dims", "10,,100"], "empty entry"),
    (["--dims", "100000000"], "larger than the model"),
    (["--seeds", "0"], "seeds"),
    (["--seeds", "10000"], "seeds"),
    (["--seeds", "abc"], "invalid int"),
    (["--lr-subspace", "0"], "positive"),
    (["--lr-full", "-1"], "positive"),
    (["--lr-subspace", "nan"], "positive"),
    (["--epochs", "0"], "epochs"),
    (["--method", "lorax"], "unknown method"),
    (["--projection", "hadamard"], "unknown projection"),
    (["--model", "no-such-model"], "hub"),
    (["--model", "prajjwal1/bert-tiny"], "HF_HUB_OFFLINE"),
    (["--model", "./no/such/dir"], "does not exist"),
    (["--model", "{dir:notamodel}"], "not a model directory"),
    (["--task", "imdb-nope"], "unknown task"),
    (["--task", "glue/sst2"], "HF_HUB_OFFLINE"),
    (["--task", "csv:/no/such.csv"], "does not exist"),
    (["--task", "{csv:empty}"], "empty"),
    (["--task", "{csv:nolabel}"], "no column 'label'"),
    (["--task", "{csv:oneclass}"], "only one class"),
    (["--task", "{csv:latin1}"], "not UTF-8"),
    (["--task", "{csv:binary}"], "not a CSV"),
    (["--task", "{csv:huge}"], "rows"),
    (["--max-train", "0"], "at least"),
    (["--threads", "-1"], "--threads must be a whole number"),
    (["--threads", "5000"], "--threads must be a whole number"),
]


def _materialise(arg: str, tmp_path) -> str:
    if arg.startswith("{csv:"):
        name = arg[5:-1]
        p = tmp_path / f"{name}.csv"
        p.write_bytes(BAD_CSVS[name])
        return f"csv:{p}"
    if arg.startswith("{dir:"):
        p = tmp_path / arg[5:-1]
        p.mkdir(exist_ok=True)
        return str(p)
    return arg


@pytest.mark.parametrize("extra,msg", BAD_RUNS, ids=[" ".join(e) or "empty" for e, _ in BAD_RUNS])
def test_bad_run_input_exits_2_with_one_line(home, tmp_path, extra, msg):
    args = ["run", "--model", "minilm-l1", "--dims", "10,100"]
    # later options win in argparse
    r = cli_in_process(*args, *[_materialise(a, tmp_path) for a in extra], home=home)
    assert r.returncode == 2, r.stderr
    lines = r.stderr.strip().splitlines()
    assert len(lines) == 1, r.stderr
    assert "Traceback" not in r.stderr
    assert msg.lower() in lines[0].lower()
    assert r.stdout == ""
    assert json.loads(cli_in_process("ls", "--json", home=home).stdout) == []  # nothing stored


def test_a_refusal_through_the_real_entry_point(home):
    """The cases above run in this process; one goes through `python -m idim_core.cli` for the exit status."""
    r = run_cli("run", "--dims", "0", home=home, timeout=120)
    assert r.returncode == 2 and r.stderr.strip().count("\n") == 0 and "at least 1" in r.stderr, r.stderr


@pytest.mark.parametrize("cmd", [["show", "nothex"], ["show", "0123456789ab"], ["export", "../../etc/passwd"],
                                 ["cancel", "0123456789ab"], ["resume", "zz"], ["frobnicate"], []])
def test_bad_run_ids_and_commands(home, cmd):
    r = cli_in_process(*cmd, home=home)
    assert r.returncode == 2 and len(r.stderr.strip().splitlines()) == 1 and "Traceback" not in r.stderr, r.stderr


def test_catalogues(home):
    r = run_cli("models", "--json", home=home, timeout=60)
    models = {m["name"]: m for m in json.loads(r.stdout)}
    assert {"minilm-l6", "minilm-l3", "minilm-l2", "minilm-l6-untrained"} <= set(models)
    assert models["minilm-l6"]["params"] == 22_565_376 and models["minilm-l6"]["offline"]
    r = run_cli("tasks", "--json", home=home, timeout=60)
    tasks = {t["name"]: t for t in json.loads(r.stdout)}
    assert tasks["mr"]["offline"] and tasks["mr"]["num_labels"] == 2
    assert tasks["glue/mrpc"]["pair"] and not tasks["glue/mrpc"]["offline"]


def test_end_to_end_sweep_store_show_export_and_resume(home):
    r = run_cli("run", *SMALL, "--method", "said", "--projection", "fastfood", "--dims", "20,200,5000",
                "--seeds", "2", "--json", home=home)
    assert r.returncode == 0, r.stderr
    res = json.loads(r.stdout)
    for key in ("run_id", "status", "model", "task", "method", "projection", "D", "baseline_accuracy",
                "threshold", "points", "d90", "d90_interpolated"):
        assert key in res
    assert res["status"] == "done" and res["method"] == "said" and res["projection"] == "fastfood"
    assert res["D"] > 10_000_000
    assert res["threshold_paper"] == pytest.approx(0.9 * res["baseline_accuracy"])
    # the papers' 0.9 x unless a constant guess would pass it (then the floor sets it, and says so)
    assert res["threshold"] == pytest.approx(max(res["threshold_paper"], res["threshold"]))
    assert res["threshold_rule"] in ("paper", "floor")
    if res["threshold_rule"] == "paper":
        assert res["threshold"] == pytest.approx(0.9 * res["baseline_accuracy"])
    assert sorted((p["d"], p["seed"]) for p in res["points"]) == [(d, s) for d in (20, 200, 5000) for s in (0, 1)]
    assert all(0 <= p["accuracy"] <= 1 for p in res["points"])
    assert res["d90"] is None or res["d90"] in (20, 200, 5000)
    assert "d=200 seed 1" in r.stderr  # progress lines (not a terminal)

    shown = json.loads(run_cli("show", res["run_id"], "--json", home=home).stdout)
    assert shown["points"] == res["points"] and shown["d90"] == res["d90"]
    runs = json.loads(run_cli("ls", "--json", home=home).stdout)
    assert [(x["run_id"], x["status"]) for x in runs] == [(res["run_id"], "done")]
    out = run_cli("export", res["run_id"], "--format", "csv", home=home).stdout
    rows = list(csv.reader(io.StringIO(out)))
    assert rows[0][:3] == ["d", "seed", "accuracy"] and len(rows) == 7  # then the run's facts (baseline, d90 …)
    assert {"baseline_accuracy", "threshold", "d90", "d90_status"} <= set(rows[0])

    # resuming a finished run is refused; cancelling it too; nothing changes
    r2 = run_cli("resume", res["run_id"], home=home)
    assert r2.returncode == 2
    r3 = run_cli("cancel", res["run_id"], home=home)
    assert r3.returncode == 2 and "already done" in r3.stderr
    assert json.loads(run_cli("show", res["run_id"], "--json", home=home).stdout)["points"] == res["points"]

    # a table for people
    table = run_cli("show", res["run_id"], home=home).stdout
    assert "threshold" in table and "d90" in table


def test_same_seed_same_result(home):
    a = json.loads(run_cli("run", *SMALL, "--method", "did", "--dims", "50", "--json", home=home).stdout)
    b = json.loads(run_cli("run", *SMALL, "--method", "did", "--dims", "50", "--json", home=home).stdout)
    assert a["baseline_accuracy"] == b["baseline_accuracy"]
    timing = ("seconds", "peak_mb")  # measured, not determined by the seed
    assert [{k: v for k, v in p.items() if k not in timing} for p in a["points"]] == \
        [{k: v for k, v in p.items() if k not in timing} for p in b["points"]]


def test_failed_command_changes_nothing(home):
    r = run_cli("run", *SMALL, "--dims", "30", "--json", home=home)
    assert r.returncode == 0, r.stderr
    before = run_cli("ls", "--json", home=home).stdout
    bad = run_cli("run", *SMALL, "--dims", "0", home=home)
    assert bad.returncode == 2
    assert run_cli("ls", "--json", home=home).stdout == before


def test_home_option_before_or_after_the_command(tmp_path):
    for args in (["--home", tmp_path / "a", "ls"], ["ls", "--home", tmp_path / "b"]):
        r = run_cli(*args)
        assert r.returncode == 0 and str(args[1] if args[0] == "--home" else args[2]) in r.stdout


def test_light_modules_do_not_import_torch():
    import subprocess
    import sys

    code = ("import sys, idim_core.store, idim_core.runner, idim_core.models, idim_core.tasks, idim_core.worker;"
            "import idim_core.runconfig, idim_core.results, idim_core.d90, idim_core.demo, idim_core.common, "
            "idim_core.search;"
            "import idim_core.methods, idim_core.executors, idim_core.names;"
            "from idim_core.ui import estimates, figures, forms, views, workers;"
            "from idim_core.runconfig import make_config, preflight; preflight(make_config());"
            "from idim_core import methods, executors; methods.get('said'); executors.REGISTRY['local'];"
            "assert 'torch' not in sys.modules and 'transformers' not in sys.modules, 'torch imported';"
            "assert 'streamlit' not in sys.modules, 'streamlit imported'")
    assert subprocess.run([sys.executable, "-c", code]).returncode == 0


@pytest.mark.parametrize("args,msg", [
    (["--model", "minilm-l6", "--dims", "5,100"], "SAID needs d > 8"),
    (["--model", "minilm-l6", "--projection", "dense", "--dims", "10000"], "needs 840.6 GiB"),
    (["--model", "minilm-l6", "--projection", "sparse", "--dims", "100000"], "sparse projection at d=100,000"),
    (["--model", "mlp", "--task", "digits", "--lr-scaling", "cube"], "invalid choice"),
])
def test_configs_that_cannot_train_are_refused_before_a_run_exists(home, args, msg):
    r = run_cli("run", *args, home=home)
    assert r.returncode == 2 and msg in r.stderr and len(r.stderr.strip().splitlines()) == 1, r.stderr
    assert json.loads(run_cli("ls", "--json", home=home).stdout) == []


@pytest.mark.parametrize("exc,code,words", [
    (ValueError("invalid literal for int() with base 10: '²'"), 1, "failed unexpectedly"),
    (IndexError("list index out of range"), 1, "failed unexpectedly"),
    (OSError(28, "No space left on device", "/srv/secret/idim.db"), 2, "the disk is full (idim.db)"),
    (PermissionError(13, "Permission denied", "/srv/secret/x.csv"), 2, "permission denied (x.csv)"),
])
def test_unexpected_failures_are_one_sentence_without_an_exception_class(monkeypatch, capsys, exc, code, words):
    from idim_core import cli

    def boom(args):
        raise exc

    monkeypatch.setattr(cli, "cmd_methods", boom)
    monkeypatch.delenv("IDIM_DEBUG", raising=False)
    assert cli.main(["methods"]) == code
    err = capsys.readouterr().err.strip().splitlines()
    assert len(err) == 1 and words in err[0], err
    for leak in (type(exc).__name__, "Errno", "/srv/secret", "list index", "int()"):
        assert leak not in err[0]


LONG = "x" * 5000


@pytest.mark.parametrize("args,msg", [
    (["tasks", "{csv:nolabel}", "--label-column", ""], "name is empty"),
    (["tasks", "csv:" + LONG], "limit is 1,024"),
    (["tasks", "mr", "--max-length", "٣"], "invalid int value"),
    (["ls", "--limit", "-1"], "--limit must be a whole number from 1"),
    (["ls", "--limit", "100000000000000000000"], "--limit must be a whole number from 1 to 1,000,000"),
    (["worker", "--poll", "1e308"], "--poll must be from 0.1 to 3600 seconds"),
    (["bench", "step", "--batch", "0"], "--batch must be a whole number from 1"),
    (["bench", "step", "--seq", "0"], "--seq must be a whole number from 1"),
    (["bench", "step", "--threads", "-1"], "--threads must be a whole number from 1"),
    (["bench", "step", "--pairs", "-1"], "--pairs must be a whole number from 1"),
    (["bench", "sweep", "--seeds", "0"], "--seeds must be a whole number from 1"),
    (["run", "--model", "mlp", "--task", "digits", "--lr-full", "1e308"],
     "--lr-full must be a positive number"),
    (["run", "--model", "minilm-l1", "--task", "mr", "--method", "lora", "--lora-layers", "1000", "--queue"],
     "more than minilm-l1's 1 transformer layers"),
    (["run", "--model", "minilm-l1", "--task", "mr", "--method", "unilora", "--ranks", "1000000000000", "--queue"],
     "larger than any model here"),
    (["run", "--model", "minilm-l1", "--task", "mr", "--method", "unilora", "--ranks", "30000000", "--queue"],
     "more than the model's D"),
    (["series", "--model", "mlp", "--task", "mnist5k:ge5@b", "--pretrain", "mnist5k@a", "--pretrain-epochs",
      ",".join(map(str, range(1001)))], "a series holds at most"),
    (["cancel", "s0123456789a"], "no series s0123456789a"),
    (["ls", "--limit", "٣"], "invalid int value"),
    (["bench", "step", "--device", "tpu"], "unknown --device"),
    (["bench", "step", "--model", LONG], "limit is 1,024"),
    (["bench", "sweep", "--dims", "١٠"], "digits 0-9"),
    (["--home", LONG, "ls"], "limit is 1,024"),
    (["show", LONG], "is not a run id"),
])
def test_bad_input_to_other_commands_is_one_short_line(home, tmp_path, args, msg):
    r = run_cli(*[_materialise(a, tmp_path) for a in args], home=home, timeout=120)
    lines = r.stderr.strip().splitlines()
    assert r.returncode == 2 and len(lines) == 1 and msg in lines[0], r.stderr[-1500:]
    assert len(lines[0]) < 400 and "Error" not in lines[0]
    assert not (home / "idim.db").exists() or "queued" not in run_cli("ls", home=home).stdout  # nothing stored


def test_cancel_takes_a_series_id_and_stops_every_run_of_it(home):
    from idim_core import series
    from idim_core.store import Store

    store = Store(home)
    sid, rids = series.queue(store, {"model": "mlp", "task": "mnist5k:ge5@b", "dims": "10,100"}, ["mnist5k@a"],
                             [0, 1, 3], [None])
    assert len(rids) == 3
    r = run_cli("cancel", sid, home=home)
    assert r.returncode == 0, r.stderr
    assert f"series {sid}: 3 run(s)" in r.stdout
    assert {store.get_run(rid)["status"] for rid in rids} == {"cancelled"}


def test_a_preset_sets_what_the_flags_leave(home):
    from idim_core.runconfig import PRESETS

    r = run_cli("run", "--preset", "quick-lm", "--seeds", "2", "--queue", "--json", home=home, timeout=120)
    assert r.returncode == 0, r.stderr
    rid = json.loads(r.stdout)["run_id"]
    cfg = json.loads(run_cli("show", rid, "--json", home=home).stdout)["config"]
    assert cfg["seeds"] == 2  # the flag wins
    assert all(cfg[k] == v for k, v in PRESETS["quick-lm"].items() if k != "seeds")
    bad = run_cli("run", "--preset", "slow-lm", "--queue", home=home, timeout=60)
    assert bad.returncode == 2 and "invalid choice" in bad.stderr and "quick-lm" in bad.stderr
