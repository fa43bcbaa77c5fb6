"""One interval per run: the shipped records, the results table (docs/results.md), `idim show --json` after
importing a record, and the derivation at load all give the same d90 facts."""
import json
import re
import subprocess
import sys
from pathlib import Path

import pytest

from idim_core.demo import RECORDED_DIR, import_recorded, recorded_result
from idim_core.results import result
from idim_core.store import Store

ROOT = Path(__file__).resolve().parent.parent
NAMES = sorted(p.stem for p in RECORDED_DIR.glob("*.json"))


def cell(ci) -> str:
    """The interval as the results table prints it: the script's own formatter, not a copy."""
    import importlib.util

    spec = importlib.util.spec_from_file_location("summarize_recorded", ROOT / "scripts" / "summarize_recorded.py")
    mod = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(mod)
    return mod.fmt_ci(ci)


@pytest.mark.parametrize("name", NAMES)
def test_the_record_file_carries_the_facts_derived_from_its_points(name):
    raw = json.loads((RECORDED_DIR / f"{name}.json").read_text(encoding="utf-8"))
    derived = recorded_result(name)
    for k in ("threshold", "threshold_rule", "d90_status", "d90_interpolated", "d90_ci", "p90_ci", "non_monotone"):
        assert raw.get(k) == derived.get(k), (name, k)


def test_readme_table_is_the_one_the_script_prints():
    out = subprocess.run([sys.executable, "scripts/summarize_recorded.py"], capture_output=True, text=True,
                         cwd=ROOT, check=True).stdout
    readme = (ROOT / "docs" / "results.md").read_text(encoding="utf-8")
    rows = [line for line in out.splitlines() if line.startswith("| `")]
    assert rows
    for line in rows:
        assert line in readme, f"docs/results.md's table is out of date: run scripts/summarize_recorded.py\n{line}"


@pytest.mark.parametrize("name", NAMES)  # every record in the results table
def test_idim_show_after_import_gives_the_files_interval(name, home):
    store = Store()
    rid = import_recorded(store, RECORDED_DIR / f"{name}.json")
    raw = json.loads((RECORDED_DIR / f"{name}.json").read_text(encoding="utf-8"))
    res = result(store, rid)
    assert res["d90_ci"] == raw["d90_ci"] and res["p90_ci"] == raw["p90_ci"]
    readme = (ROOT / "docs" / "results.md").read_text(encoding="utf-8")
    row = next(line for line in readme.splitlines() if line.startswith(f"| `{name}` |"))
    assert re.search(re.escape(cell(raw["d90_ci"] if res["axis"] == "d" else raw["p90_ci"])), row)


def test_the_linear_probe_is_stated_beside_d90_on_every_face(home):
    # the default task's record carries the probe of the recorded head-only run (same budget and baseline)
    raw = json.loads((RECORDED_DIR / "minilm-l6-mr.json").read_text(encoding="utf-8"))
    assert raw["probe_params"] == 770 and raw["probe_accuracy"] >= raw["threshold"]
    from idim_core import d90

    assert "a linear probe on the frozen features (770 numbers) already reaches the threshold" in \
        d90.describe(recorded_result("minilm-l6-mr"))
    store = Store()
    res = result(store, import_recorded(store, RECORDED_DIR / "minilm-l6-mr.json"))
    assert res["probe_accuracy"] == pytest.approx(raw["probe_accuracy"]) and res["probe_params"] == 770


def test_the_charts_draw_the_probe_the_threshold_rule_and_a_curve_that_falls_back():
    from idim_core.ui import figures

    def roles(fig):
        return {(t.meta or {}).get("role"): t for t in fig.data if t.meta}

    lm = roles(figures.run_figure(recorded_result("minilm-l6-mr")))
    assert lm["probe"].y[0] == pytest.approx(recorded_result("minilm-l6-mr")["probe_accuracy"])
    assert "linear probe" in lm["probe"].name and lm["threshold"].meta["rule"] == "paper"
    lora = roles(figures.run_figure(recorded_result("minilm-l6-mr-lora")))  # rank 16: two seeds of three collapse
    assert lora["non_monotone"].x[0] == 148_226 and lora["non_monotone"].y[0] < recorded_result("minilm-l6-mr-lora")[
        "threshold"]
    # on the d axis: the SAID-per-tensor record with its d = 3,000 trial pushed under the threshold, re-derived
    from idim_core.results import recompute

    raw = json.loads((RECORDED_DIR / "minilm-l6-mr-said-tensor.json").read_text(encoding="utf-8"))
    for pt in raw["points"]:
        if pt["d"] == 3000:
            pt["accuracy"] = pt["val_accuracy"] = 0.6
            pt.pop("correct", None)
    fell = recompute(raw)
    assert fell["non_monotone"] and fell["non_monotone_at"] == 3000
    assert roles(figures.run_figure(fell))["non_monotone"].x[0] == 3000
    floor = roles(figures.run_figure(recorded_result("minilm-l6-untrained-mr")))
    assert floor["threshold"].meta["rule"] == "floor" and "set by the floor" in floor["threshold"].name
    cmp = figures.compare_figure([recorded_result("minilm-l6-mr"), recorded_result("minilm-l6-untrained-mr")])
    got = [t.meta for t in cmp.data if t.meta and t.meta.get("role") in ("threshold", "probe")]
    assert {m["role"] for m in got} == {"threshold", "probe"}
    assert any(m.get("rule") == "floor" for m in got)


@pytest.mark.parametrize("name", ["minilm-l6-mr-ia3", "mlp-digits-claims"])
def test_an_imported_record_keeps_its_baselines_time_and_training_accuracy(name, home):
    """The claims' gap ("full" row) and speed read the baseline's training accuracy and seconds: an imported
    record gives the file's, per seed, with the number of examples the training accuracy was read on."""
    raw = json.loads((RECORDED_DIR / f"{name}.json").read_text(encoding="utf-8"))
    assert raw["baseline_train_accuracies"] and raw["baseline_seconds"]
    store = Store()
    res = result(store, import_recorded(store, RECORDED_DIR / f"{name}.json"))
    assert res["baseline_train_accuracies"] == pytest.approx(raw["baseline_train_accuracies"])
    assert res["baseline_seconds"] == pytest.approx(raw["baseline_seconds"])
    assert res["baseline_train_n"] == (raw.get("baseline_train_n") or raw["n_train"])


def test_every_face_gives_the_default_records_one_interval(home):
    """The default task's record (the app's recorded example): README, Learn, docs/results.md, first-sweep.md and
    example_run.md state the interval the record gives after import, and first-sweep.md prints `idim show`'s
    own table for it."""
    import io

    from idim_core.cli import print_table
    from idim_core.d90 import interval_text
    from idim_core.demo import EXAMPLE_JSON

    store = Store()
    res = result(store, import_recorded(store, EXAMPLE_JSON))
    assert json.loads(EXAMPLE_JSON.read_text())["points"] == json.loads(
        (RECORDED_DIR / "minilm-l6-trec6.json").read_text())["points"]  # the example is the default record
    ci = interval_text(res["d90_ci"])
    d90 = f"{res['d90_interpolated']:,.0f}"
    squash = lambda t: " ".join(t.split())  # noqa: E731
    for page in ("README.md", "docs/results.md", "docs/tutorials/first-sweep.md", "assets/example_run.md"):
        text = squash((ROOT / page).read_text(encoding="utf-8"))
        assert d90 in text and ci in text, (page, d90, ci)
    from idim_core.demo import default_record_sentence  # Learn's own sentence, read from the record

    assert f"d90 ≈ {d90} (95 % interval {ci})" in default_record_sentence()
    out = io.StringIO()
    print_table(res, out=out)
    shown = [line.rstrip() for line in out.getvalue().splitlines()[1:]]  # the run id differs per store
    sweep = [line[4:].rstrip() for line in (ROOT / "docs" / "tutorials" / "first-sweep.md").read_text(
        encoding="utf-8").splitlines() if line.startswith("    ")]
    missing = [line for line in shown if line.strip() and line not in sweep]
    assert not missing, f"first-sweep.md's table is not `idim show`'s: {missing}"
