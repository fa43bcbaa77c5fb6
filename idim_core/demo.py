"""The recorded example: a real run, made by the project's own CLI, loaded into a store.

`assets/example_run.json` is the output of `idim run ... --json` (the shape of
`results.result`); `assets/example_run.md` gives the command that produced it.
`import_recorded` turns that file into a finished run in the store, so the app can
show a complete chart before any training has finished.  The run is marked
``config["recorded"] = True`` with the command in ``config["recorded_command"]``, and
is imported once: a second call returns the run already there.
"""
from __future__ import annotations

import copy
import json
import re
from pathlib import Path

from .errors import UserError
from .results import EXTRA_KEYS, unpack_correct
from .store import Store

ASSETS = Path(__file__).resolve().parent.parent / "assets"
EXAMPLE_JSON = ASSETS / "example_run.json"


def recorded_command(path: str | Path) -> str | None:
    """The `idim run ...` command written next to a recorded JSON file (its .md), if any."""
    md = Path(path).with_suffix(".md")
    if not md.is_file():
        return None
    text = md.read_text(encoding="utf-8")
    for line in text.splitlines():
        line = line.strip().strip("`").strip()
        m = re.search(r"(?:^|\s)(idim run .*)$", line)
        if m:
            return line
    return None


def find_recorded(store: Store, source_run_id: str) -> str | None:
    for r in store.list_runs():
        stored = r["config"]
        if stored.get("recorded") and stored.get("recorded_from") == source_run_id:
            return r["id"]
    return None


def _per_seed(values, n: int) -> list:
    """A record's per-seed list when it has one value per baseline seed, else nothing for any seed (a list
    with a seed missing cannot say which one it lacks)."""
    return list(values) if isinstance(values, list) and len(values) == n else [None] * n


def import_recorded(store: Store, path: str | Path = EXAMPLE_JSON, command: str | None = None) -> str:
    """Load a recorded run (JSON from `idim show ID --json`) as a finished run; idempotent.

    Returns the id of the run in this store.
    """
    path = Path(path)
    try:
        data = json.loads(path.read_text(encoding="utf-8"))
    except FileNotFoundError:
        raise UserError(f"the recorded example {path} is missing; "
                        "reinstall idim or record one with `idim run --json`") from None
    except (OSError, ValueError) as e:
        raise UserError(f"the recorded example {path} cannot be read ({e})") from None
    for key in ("run_id", "config", "points", "baseline_accuracy"):
        if key not in data:
            raise UserError(f"{path} is not the output of `idim show RUN_ID --json` (no {key!r})")
    existing = find_recorded(store, data["run_id"])
    if existing:
        return existing
    stored = dict(data["config"])
    stored["recorded"] = True
    stored["recorded_from"] = data["run_id"]
    stored["recorded_command"] = command or recorded_command(path) or "idim run (command not recorded)"
    run_id = store.create_run(stored, status="done")  # never "queued": no worker may claim it
    store.update_run(run_id, device=data.get("device"), started=data.get("started"),
                     finished=data.get("finished"),
                     summary={"D": data.get("D"), "chance": data.get("chance"), "majority": data.get("majority"),
                              "recorded": True,
                              "splits": {k: v for k, v in (("test", data.get("n_test")), ("train", data.get("n_train")))
                                         if v}})
    bases = data.get("baseline_accuracies") or (
        [data["baseline_accuracy"]] if data["baseline_accuracy"] is not None else [])
    # per seed, what the record kept of each baseline trial: its time and its training accuracy (read on
    # baseline_train_n examples), so the claims' gap and speed read an imported record as they read the file
    secs = _per_seed(data.get("baseline_seconds"), len(bases))
    trains = _per_seed(data.get("baseline_train_accuracies"), len(bases))
    train_n = data.get("baseline_train_n")
    corrects = _per_seed(data.get("baseline_correct_z"), len(bases))
    for seed, acc in enumerate(bases):
        tid = store.start_trial(run_id, "baseline", None, seed)
        store.finish_trial(tid, "done", accuracy=acc, seconds=secs[seed], train_accuracy=trains[seed],
                           correct=unpack_correct(corrects[seed]),
                           extra={"train_accuracy_n": train_n} if trains[seed] is not None and train_n else None)
    for seed, acc in enumerate(data.get("probe_accuracies") or []):  # the linear probe beside the baseline
        tid = store.start_trial(run_id, "probe", None, seed)
        store.finish_trial(tid, "done", accuracy=acc, trainable=data.get("probe_params"))
    for p in data["points"]:
        tid = store.start_trial(run_id, "subspace", int(p["d"]), int(p["seed"]))
        extra = {k: p[k] for k in EXTRA_KEYS if p.get(k) is not None}
        store.finish_trial(tid, p.get("status") or "done", accuracy=p.get("accuracy"), seconds=p.get("seconds"),
                           val_accuracy=p.get("val_accuracy"),
                           trainable=p.get("params"), peak_mb=p.get("peak_mb"), steps=p.get("steps"),
                           train_accuracy=p.get("train_accuracy"), extra=extra or None,
                           correct=unpack_correct(p.get("correct_z")))
    store.event(run_id, "info", f"imported the recorded run {data['run_id']} from {path.name} "
                                f"(made with: {stored['recorded_command']})")
    return run_id


# ---------------------------------------------------------------------------
# ready-made comparisons: several recorded runs shown side by side
# ---------------------------------------------------------------------------
RECORDED_DIR = ASSETS / "recorded"
COMPARISONS: dict[str, tuple[str, list[str]]] = {
    "pretraining": ("Pre-training: minilm-l6 against the same architecture untrained (mr)",
                    ["minilm-l6-mr", "minilm-l6-untrained-mr"]),
    "depth": ("Depth: the first 2 pretrained layers against all 6 (mr)", ["minilm-l2-mr", "minilm-l6-mr"]),
    "classic": ("Classic: fully connected net against LeNet on 5,000 MNIST digits (Li et al. 2018)",
                ["mlp-mnist5k", "lenet-mnist5k"]),
    "shuffled-pixels": ("Shuffled pixels: LeNet and the fully connected net, "
                        "each with and without a fixed pixel shuffle",
                        ["lenet-mnist5k", "lenet-mnist5k-shuffled-pixels",
                         "mlp-mnist5k", "mlp-mnist5k-shuffled-pixels"]),
    "memorisation": ("Memorisation: real labels against shuffled labels (fully connected net)",
                     ["mlp-mnist5k", "mlp-mnist5k-shuffled-labels"]),
    "claims": ("A popular account, claim by claim: the runs behind Learn's section 9",
               ["mlp-digits-claims", "minilm-l6-mr"]),
    "methods": ("Beyond the papers: the random subspace (SAID) against LoRA (every layer and the last alone), "
                "BitFit, head-only, IA3, FourierFT, Uni-LoRA and TinyLoRA (minilm-l6, mr)",
                ["minilm-l6-mr", "minilm-l6-mr-lora", "minilm-l6-mr-bitfit", "minilm-l6-mr-head", "minilm-l6-mr-ia3",
                 "minilm-l6-mr-fourierft", "minilm-l6-mr-unilora", "minilm-l6-mr-tinylora",
                 "minilm-l6-mr-lora-last"]),
}


_RECORDED: dict[tuple, dict] = {}


def recorded_result(name: str) -> dict:
    """A recorded run's JSON (the shape of `idim show --json`), read from assets/recorded/."""
    from .results import recompute

    path = RECORDED_DIR / f"{name}.json"
    try:
        key = (str(path), path.stat().st_mtime_ns)
        if key not in _RECORDED:  # the bootstrap once per file version, not at every page render
            _RECORDED[key] = recompute(json.loads(path.read_text(encoding="utf-8")))
        return copy.deepcopy(_RECORDED[key])
    except FileNotFoundError:
        raise UserError(f"the recorded run {path} is missing; record it with scripts/record_comparisons.sh") from None
    except (OSError, ValueError) as e:
        raise UserError(f"the recorded run {path} cannot be read ({e})") from None


def available_comparisons() -> dict[str, tuple[str, list[str]]]:
    """The comparisons whose recorded runs are all present."""
    return {k: v for k, v in COMPARISONS.items() if all((RECORDED_DIR / f"{n}.json").is_file() for n in v[1])}


def import_comparison(store: Store, key: str) -> list[str]:
    """Import the recorded runs of one comparison (idempotent); their ids in this store."""
    if key not in COMPARISONS:
        raise UserError(f"unknown comparison {key!r}; use one of {', '.join(COMPARISONS)}")
    return [import_recorded(store, RECORDED_DIR / f"{n}.json") for n in COMPARISONS[key][1]]


def default_record_sentence() -> str:
    """The recorded default sweep's d90, interval and probe, as Learn states them: read from the record, never
    typed (tests/test_records.py checks every other face against the same record)."""
    from .d90 import interval_text

    r = recorded_result("minilm-l6-trec6")
    return (f"d90 ≈ {r['d90_interpolated']:,.0f} (95 % interval {interval_text(r['d90_ci'])}), the probe at "
            f"{r['probe_accuracy']:.3f} against the threshold {r['threshold']:.3f}.")
