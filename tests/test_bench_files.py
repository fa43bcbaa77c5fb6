"""Measured figures the code reads come from a bench's output file, committed: the file the code reads is the one
the bench writes, in the shape the bench writes it (bench/step.json, bench/parallel.json)."""
import importlib.util
import json
from pathlib import Path

import pytest

from idim_core import claims
from idim_core.ui import estimates

ROOT = Path(__file__).resolve().parent.parent


def _script(name: str):
    spec = importlib.util.spec_from_file_location(f"bench_{name}", ROOT / "bench" / f"{name}.py")
    mod = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(mod)
    return mod


def test_the_step_ratio_claims_reads_is_the_file_its_bench_writes(tmp_path):
    bench = _script("step_ratio")
    assert bench.OUT == claims.STEP_JSON == ROOT / "bench" / "step.json"
    doc = json.loads(claims.STEP_JSON.read_text(encoding="utf-8"))
    assert doc["command"] == "python bench/step_ratio.py"
    copy = tmp_path / "step.json"
    bench.write(doc["readings"], copy, note=doc["note"])  # the bench's own writer, the committed readings
    assert set(json.loads(copy.read_text(encoding="utf-8"))) == set(doc)
    assert claims.bench_step(copy) == claims.BENCH_STEP == claims.bench_step()
    # every reading has the keys `idim bench step --json` prints (tests/test_bench.py compares a real run's)
    keys = set(doc["readings"][0])
    assert all(set(r) == keys for r in doc["readings"])
    assert {"dim", "full_step_s", "subspace_step_s", "ratio", "ratio_interval", "pairs"} <= keys


def test_the_parallel_gain_estimates_read_is_the_file_its_bench_writes(tmp_path):
    bench = _script("parallel_gain")
    assert bench.OUT == estimates.PARALLEL_JSON == ROOT / "bench" / "parallel.json"
    doc = json.loads(bench.OUT.read_text(encoding="utf-8"))
    assert all(set(r) == set(bench.KEYS) for r in doc["readings"])
    assert doc["gain"] == bench.gain(doc["readings"]) == estimates.PARALLEL_GAIN  # worked out, not typed
    copy = tmp_path / "parallel.json"
    bench.write([{"one_process_s": 100.0, "two_processes_s": 80.0}], copy)
    assert set(json.loads(copy.read_text(encoding="utf-8"))) == set(doc)
    assert estimates._parallel_gain(copy) == pytest.approx(0.25)
    assert estimates._parallel_gain(tmp_path / "missing.json") == 0.0  # unmeasured: no gain assumed
