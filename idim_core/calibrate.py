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
import random
import statistics
import time
from pathlib import Path

FILE = "calibration.json"
STEPS = 3  # at least this many timed steps, after one warm-up step ...
SECONDS = 1.0  # ... and at least this long in all (a classic net's step takes milliseconds: one is noise)
MAX_STEPS = 500


def measure(prep, cfg, steps: int = STEPS, seconds: float = SECONDS) -> float:
    """Median seconds of one full fine-tuning step of the prepared model on real training batches: at least
    ``steps`` of them and at least ``seconds`` in all, after a warm-up step."""
    import torch
    import torch.nn.functional as F

    from . import methods
    from .train import make_optimizer, train_batches

    built = methods.FULL.build(prep, cfg, None, 0, None)
    model = built.model.train()
    opt = make_optimizer(built.param_groups, built.lr)
    batches = train_batches(prep.train, cfg.batch_size, random.Random(0))
    times: list[float] = []
    i = 0
    while i <= steps or (sum(times) < seconds and i <= MAX_STEPS):
        idx = batches[i % len(batches)]
        t = time.perf_counter()
        batch = prep.train.batch(idx, prep.device)
        loss = F.cross_entropy(model(**batch), prep.train.labels[idx].to(prep.device))
        opt.zero_grad(set_to_none=True)
        loss.backward()
        opt.step()
        if prep.device.type == "cuda":
            torch.cuda.synchronize()
        if i:  # the first step warms caches and kernels up
            times.append(time.perf_counter() - t)
        i += 1
    del model, opt, built
    return statistics.median(times)


def _key(cfg, device: str) -> str:
    return f"{cfg['model']}|{device.split(' ')[0]}"


def calibrate(home, prep, cfg, device: str) -> dict:
    """Time a few steps and keep the result for the estimates; the entry it kept (with the settings the
    estimate's formula needs to say how this machine compares with it: ui.estimates.calibration_factor)."""
    secs = measure(prep, cfg)
    try:
        load = os.getloadavg()[0]
    except (OSError, AttributeError):
        load = None
    entry = {"model": cfg["model"], "task": cfg["task"], "device": device.split(" ")[0], "seconds_per_step": secs,
             "batch_size": int(cfg["batch_size"]), "max_length": int(cfg["max_length"]), "at": time.time(),
             "load": load, "cores": os.cpu_count()}
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
    device = pick_device(cfg.get("device"))
    print(json.dumps(calibrate_run(home, cfg, device)))
    return 0


def calibrate_run(home, cfg, device: str, prep=None) -> dict:
    """Calibrate for ``cfg`` at the thread count its runs will use, preparing the model unless ``prep`` is
    given (the worker hands in the one it preloaded)."""
    import torch

    from .prep import prepare, threads_for

    torch.set_num_threads(threads_for(cfg))
    if prep is None:
        prep, _, _ = prepare(cfg, device, home)
    return calibrate(home, prep, cfg, device)


if __name__ == "__main__":
    raise SystemExit(main())
