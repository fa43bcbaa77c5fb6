"""How fast this machine trains: a few optimiser steps of full fine-tuning, timed when the worker starts
(and by `idim bench sweep`), so the first estimate speaks of this machine and not of a 2-core CPU.

The result is kept beside the store (``calibration.json`` in the store's directory), one entry per model
and device: the measured seconds per step and the settings it was measured with; the estimate compares
it with its own formula (``ui.estimates.calibration_factor``).  Finished trials, once there are any, calibrate
the estimate better (they include the evaluation passes and early stopping); this is what it has before.
"""
from __future__ import annotations

import json
import os
import time
from pathlib import Path

FILE = "calibration.json"
WARMUP = 3  # steps of a first, untimed attempt: a fresh process's first steps are slower (caches, allocator)
STEPS = 10  # at least this many timed steps ...
SECONDS = 2.0  # ... and about this long in all (a classic net's step takes milliseconds: ten are noise)
BURSTS = 3  # timed attempts; the median is kept, so a moment of load elsewhere does not become the estimate
MAX_STEPS = 2000


def measure(prep, cfg, steps: int = STEPS, seconds: float = SECONDS) -> float:
    """Seconds per optimiser step of full fine-tuning inside the trial loop itself (``train.full_attempt``: the
    batches as a trial draws them, the schedule, the loss read back each step), as a trial takes them.

    A short attempt warms up first; the timed attempt then takes at least ``steps`` steps and about
    ``seconds`` in all, from the warm-up's pace.  Each attempt ends with a validation pass, on 8 examples here,
    which is not counted (the estimate prices evaluation on its own).  Why not steps timed alone, outside the
    loop: bench/RESULTS.md, "The estimate before each run, and a correction"."""
    import dataclasses

    from . import heap
    from .train import Head, full_attempt

    small = dataclasses.replace(prep, val=Head(prep.val, 8))
    heap.hold()  # as run_trial does

    def attempt(total: int):
        res = full_attempt(small, cfg, total, MAX_STEPS + 1)
        if res.status != "done" or not res.steps:
            raise RuntimeError(f"the calibration's full fine-tuning {res.status}: {res.error}")
        return res.timing["steps"] / res.steps

    from . import yielding

    # the same thread policy as a trial: a run on automatic threads gives a core back while another program
    # wants one (yielding.py); why: bench/RESULTS.md, "Estimates under load"
    fixed = cfg.threads
    yielding.start(not fixed, prep.device)
    try:
        pace = attempt(WARMUP)
        n = max(steps, min(MAX_STEPS, int(seconds / max(pace, 1e-6))))
        times = sorted(attempt(n) for _ in range(BURSTS))
        return times[len(times) // 2]
    finally:
        yielding.stop()
        heap.release()


def _key(cfg, device: str) -> str:
    return f"{cfg.model}|{device.split(' ')[0]}"


def calibrate(home, prep, cfg, device: str) -> dict:
    """Time a few steps and keep the result for the estimates; the entry it kept (with the settings the
    estimate's formula needs to say how this machine compares with it: ui.estimates.calibration_factor)."""
    import torch

    secs = measure(prep, cfg)
    try:
        load = os.getloadavg()[0]
    except (OSError, AttributeError):
        load = None
    entry = {"model": cfg.model, "task": cfg.task, "device": device.split(" ")[0], "seconds_per_step": secs,
             "batch_size": int(cfg.batch_size), "max_length": int(cfg.max_length), "at": time.time(),
             "load": load, "cores": os.cpu_count(), "threads": torch.get_num_threads()}
    path = Path(home) / FILE
    data = read_all(home)
    data[_key(cfg, device)] = entry
    tmp = path.with_suffix(".part")
    try:
        tmp.write_text(json.dumps(data, indent=1), encoding="utf-8")
        tmp.replace(path)
    except OSError:  # a read-only store: the estimate falls back to the formula
        pass
    return entry


def read_all(home) -> dict:
    try:
        data = json.loads((Path(home) / FILE).read_text(encoding="utf-8"))
        return data if isinstance(data, dict) else {}
    except (OSError, ValueError):
        return {}


def lookup(home, cfg, device: str) -> dict | None:
    """This machine's calibration for the model on the device; else the newest for the device (the
    machine's speed relative to the formula carries over between models roughly); else None."""
    if home is None:
        return None
    data = read_all(home)
    hit = data.get(_key(cfg, device))
    if isinstance(hit, dict) and hit.get("seconds_per_step"):
        return hit
    dev = device.split(" ")[0]
    same = [e for e in data.values() if isinstance(e, dict) and e.get("device") == dev and e.get("seconds_per_step")]
    return max(same, key=lambda e: e.get("at") or 0) if same else None


def main(argv: list[str] | None = None) -> int:
    """``python -m idim_core.calibrate HOME CONFIG_JSON``: calibrate in a process of its own (what
    `idim bench sweep` does before the sweep it times, so that the sweep starts as cold as a user's)."""
    import sys

    from .prep import pick_device
    from .runconfig import RunConfig

    home, stored = (argv if argv is not None else sys.argv[1:])[:2]
    cfg = RunConfig.from_stored(json.loads(stored))
    device = pick_device(cfg.device)
    print(json.dumps(calibrate_run(home, cfg, device)))
    return 0


def calibrate_run(home, cfg, device: str, prep=None) -> dict:
    """Calibrate for ``cfg`` at the thread count its runs will use, preparing the model unless ``prep`` is
    given (the worker hands in the one it preloaded)."""
    import torch

    from .executors import slots_for
    from .prep import prepare, threads_for

    # where trials train side by side in one-thread processes (the classic preset on a CPU), on one thread.
    # threads_for first in any case: its first call keeps torch's default for every later run of this process,
    # which must not be the one thread set here (a worker calibrating the classic preset would keep it)
    auto = threads_for(cfg)
    threads = 1 if slots_for(cfg, device) > 1 else auto
    before = torch.get_num_threads()
    torch.set_num_threads(threads)
    try:
        if prep is None:
            prep, _, _ = prepare(cfg, device, home)
        return calibrate(home, prep, cfg, device)
    finally:
        torch.set_num_threads(before)


if __name__ == "__main__":
    raise SystemExit(main())
