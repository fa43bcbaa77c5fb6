"""Benchmarks that print figures (never asserted in tests).

    idim bench step  --model minilm-l6 --method said --projection fastfood --dim 1000 --batch 32 --seq 64 --json
    idim bench sweep --json

`step` times full fine-tuning steps and subspace steps of the same model on the same
batch, interleaved in one process (A B A B ..., after a warm-up), and measures the
peak resident memory of each kind of training in a fresh subprocess.
"""
from __future__ import annotations

import json
import os
import statistics
import subprocess
import sys
import time

from .common import peak_rss_mib, reset_peak_rss

# more than this share of the CPU time the machine wanted taken by the hypervisor: not a quiet machine's figures
# (they move by about that share, and the targets judged on them are 5-10 % apart)
QUIET_STEAL = 0.05


def host_jiffies() -> tuple[int, int, int] | None:
    """(busy, steal, total) clock ticks of all CPUs since boot (Linux /proc/stat; None elsewhere).  Steal is the
    time a virtual machine's hypervisor gave its CPUs to other guests: a noisy neighbour that no process list
    shows, and the commonest reason the same benchmark reads differently twice."""
    try:
        v = [int(x) for x in open("/proc/stat", encoding="ascii").readline().split()[1:9]]
    except (OSError, ValueError):
        return None
    if len(v) < 8:
        return None
    user, nice, system, idle, iowait, irq, softirq, steal = v
    return user + nice + system + irq + softirq, steal, sum(v)


def steal_share(before, after) -> float | None:
    """Between two host_jiffies() readings, the share of the CPU time this machine wanted (busy or stolen)
    that the hypervisor gave to others: idle time does not dilute it, since steal happens only when the
    machine wants to run."""
    if before is None or after is None:
        return None
    busy, steal = after[0] - before[0], after[1] - before[1]
    return steal / (busy + steal) if busy + steal > 0 else None


def steal_words(share: float | None) -> str:
    if share is None:
        return "steal not measured (no /proc/stat)"
    return f"steal {100 * share:.1f} % of the CPU time wanted" + (
        f": NOT a quiet machine (quiet: under {100 * QUIET_STEAL:.0f} %)" if share >= QUIET_STEAL else ", quiet")


STEP_TARGET = 1.05  # a subspace step at most this many full steps (issue 27)


def median_interval(values, level: float = 0.9) -> tuple[float, float, float] | None:
    """(low, high, coverage): the narrowest interval between two order statistics that holds the median of
    what was measured with at least ``level`` probability, whatever the distribution (a sign test: each value
    falls on either side of the median with probability 1/2).  None when there are too few values for
    ``level`` (under 5 for 0.9)."""
    from math import comb

    xs = sorted(values)
    n = len(xs)
    best = None
    for k in range(1, n // 2 + 1):  # [x_(k), x_(n-k+1)], 1-based
        coverage = 1 - 2 * sum(comb(n, i) for i in range(k)) / 2 ** n
        if coverage < level:
            break
        best = (xs[k - 1], xs[n - k], coverage)
    return best


def verdict(values, target: float, level: float = 0.9) -> str:
    """What paired ratios say about ``ratio <= target``, in words: met or not met only when the interval for
    their median lies wholly on one side of the target; otherwise that it overlaps (not shown either way)."""
    ci = median_interval(values, level)
    if ci is None:
        return f"too few repeats for a {level:.0%} interval (at least 5): not shown either way"
    lo, hi, cov = ci
    where = f"{cov:.0%} interval of the median {lo:.2f}–{hi:.2f}"
    if hi <= target:
        return f"{where}: target <= {target:g} met"
    if lo > target:
        return f"{where}: target <= {target:g} not met"
    return f"{where} holds {target:g}: not shown either way"


def _setup(model: str, batch: int, seq: int, device: str, threads: int | None):
    import torch

    from . import heap
    from .models import load_model

    if threads:
        torch.set_num_threads(threads)
    heap.hold()  # the steps keep their freed memory, as a trial's do (train.run_trial)
    lm = load_model(model, num_labels=2, init_seed=0)
    module = lm.module.to(device)
    g = torch.Generator().manual_seed(0)
    vocab = lm.tokenizer.vocab_size
    ids = torch.randint(1000, vocab, (batch, seq), generator=g)
    inputs = {"input_ids": ids.to(device), "attention_mask": torch.ones_like(ids).to(device),
              "token_type_ids": torch.zeros_like(ids).to(device)}
    labels = torch.randint(0, 2, (batch,), generator=g).to(device)
    return module, inputs, labels


def _make_steppers(module, inputs, labels, method, projection, dim, kinds=("full", "subspace")):
    import copy

    import torch.nn.functional as F

    from .subspace import FlatParams, SubspaceModel
    from .train import make_optimizer

    def stepper(forward, params, lr):
        opt = make_optimizer(params, lr)

        def step():
            loss = F.cross_entropy(forward(**inputs), labels)
            opt.zero_grad(set_to_none=True)
            loss.backward()
            opt.step()

        return step

    steppers = {}
    if "full" in kinds:
        full = copy.deepcopy(module).train()
        for p in full.parameters():
            p.requires_grad_(True)
        steppers["full"] = stepper(full, list(full.parameters()), 1e-5)
    if "subspace" in kinds:
        flat = FlatParams(module)
        sub = SubspaceModel(module, flat, dim, method, projection, seed=0).train()
        steppers["subspace"] = stepper(sub, sub.trainable(), 1e-3)
    return steppers


def _sync(device: str):
    if device.startswith("cuda"):
        import torch

        torch.cuda.synchronize()


def step_bench(model="minilm-l6", method="said", projection="fastfood", dim=1000, batch=32, seq=64,
               pairs=10, warmup=2, device=None, threads=None, memory=True) -> dict:
    import torch

    from .prep import pick_device

    device = pick_device(device)
    module, inputs, labels = _setup(model, batch, seq, device, threads)
    steps = _make_steppers(module, inputs, labels, method, projection, dim)
    for _ in range(warmup):
        steps["full"]()
        steps["subspace"]()
    full_t, sub_t, ratios = [], [], []
    host0 = host_jiffies()
    for _ in range(pairs):
        _sync(device)
        t0 = time.perf_counter()
        steps["full"]()
        _sync(device)
        t1 = time.perf_counter()
        steps["subspace"]()
        _sync(device)
        t2 = time.perf_counter()
        full_t.append(t1 - t0)
        sub_t.append(t2 - t1)
        ratios.append((t2 - t1) / (t1 - t0))
    out = {
        "model": model, "method": method, "projection": projection, "dim": dim, "batch": batch, "seq": seq,
        "pairs": pairs, "device": device, "threads": torch.get_num_threads(),
        "full_step_s": statistics.median(full_t), "subspace_step_s": statistics.median(sub_t),
        "ratio": statistics.median(ratios), "ratio_interval": list((median_interval(ratios) or [None] * 2)[:2]),
        "ratio_verdict": verdict(ratios, STEP_TARGET), "steal_share": steal_share(host0, host_jiffies()),
        "fastfood_native": _native_status(device),
    }
    if memory:
        for kind in ("full", "subspace"):
            out[f"{kind}_peak_mib"] = _peak_in_subprocess(kind, model, method, projection, dim, batch, seq, device,
                                                          threads)
    return out


def _peak_in_subprocess(kind, model, method, projection, dim, batch, seq, device, threads) -> float:
    args = [sys.executable, "-m", "idim_core.bench", "_mem", kind, model, method, projection, str(dim),
            str(batch), str(seq), device, str(threads or 0)]
    r = subprocess.run(args, capture_output=True, text=True, env=dict(os.environ))
    if r.returncode != 0:
        last = r.stderr.strip().splitlines()[-1] if r.stderr.strip() else r.returncode
        raise RuntimeError(f"memory probe failed: {last}")
    return json.loads(r.stdout.strip().splitlines()[-1])["peak_mib"]


def _mem_main(kind, model, method, projection, dim, batch, seq, device, threads) -> None:
    module, inputs, labels = _setup(model, int(batch), int(seq), device, int(threads) or None)
    import gc

    gc.collect()
    reset_peak_rss()  # the peak of training (model, theta0, optimiser, activations), not of loading
    steps = _make_steppers(module, inputs, labels, method, projection, int(dim), kinds=(kind,))
    for _ in range(3):
        steps[kind]()
    peak = peak_rss_mib()
    if device.startswith("cuda"):
        import torch

        peak = torch.cuda.max_memory_allocated() / 2**20
    print(json.dumps({"peak_mib": peak}))


PHASES = ("build", "steps", "validation", "test", "train_accuracy", "quantised", "quantised_train")


def _native_status(device: str) -> dict:
    """Which code ran Fastfood's passes: the C library (CPU, float32) or idim's torch code, and why."""
    from . import native

    if not device.startswith("cpu"):
        return {"native": False, "why": f"on {device} idim's torch code runs (the C passes are for the CPU)"}
    return native.status()


def breakdown(trials: list[dict], grid: list[int], prepare_s: float | None, wall: float) -> dict:
    """Where a sweep's time went: seconds by trial kind (baseline, probe, the grid's subspace trials, the
    refinement's) and by phase inside trials (building the trainable model, training steps, validation
    passes, the test pass, the training-accuracy pass, the quantised passes), plus preparation (model and
    data, before the first trial) and the rest (the store, the search, the bootstrap at the end)."""
    kinds = {"baseline_s": 0.0, "probe_s": 0.0, "grid_s": 0.0, "refinement_s": 0.0}
    phases = {f"{p}_s": 0.0 for p in PHASES}
    for t in trials:
        key = "baseline_s" if t["kind"] == "baseline" else "probe_s" if t["kind"] == "probe" else \
            "grid_s" if t["d"] in grid else "refinement_s"
        kinds[key] += t["seconds"] or 0.0
        for p in PHASES:
            phases[f"{p}_s"] += (t.get("timing") or {}).get(p, 0.0)
    in_trials = sum(t["seconds"] or 0.0 for t in trials)
    return {"prepare_s": prepare_s, **kinds, **phases, "trials_s": in_trials,
            "refinement_trials": sum(1 for t in trials if t["kind"] == "subspace" and t["d"] not in grid),
            "other_s": wall - in_trials - (prepare_s or 0.0)}


def busy_processes(n: int) -> list:
    """``n`` processes that each keep one core busy (the load of `idim bench sweep --load N`); stop them with
    ``stop_busy``."""
    import subprocess
    import sys

    return [subprocess.Popen([sys.executable, "-c", "while True: pass"]) for _ in range(max(0, int(n)))]


def stop_busy(procs: list) -> None:
    for p in procs:
        p.kill()
    for p in procs:
        p.wait()


def sweep_bench(home=None, load: int = 0, **overrides) -> dict:
    """The documented default quick sweep, end to end through a store; with ``load`` busy processes beside it for
    its whole duration (the calibration included), as a busy laptop would have."""
    busy = busy_processes(load)
    try:
        return _sweep_bench(home, load, **overrides)
    finally:
        stop_busy(busy)


def _sweep_bench(home, load: int, **overrides) -> dict:
    import tempfile

    from .results import result
    from .runconfig import make_config
    from .runner import Runner
    from .store import Store

    tmp = None
    if home is None:
        tmp = tempfile.TemporaryDirectory()
        home = tmp.name
    store = Store(home)
    cfg = make_config(**overrides)
    # the estimate the CLI and Explore would print, after the worker's calibration (a few timed steps, not
    # part of the sweep's wall time): how close it comes is part of what this benchmark reports.  It runs in
    # a process of its own, so the timed sweep loads its model and data as cold as a user's first run.
    from .prep import pick_device
    from .ui.estimates import estimate

    device = pick_device(cfg.device)
    calibration = _calibrate(store, cfg)
    guess = estimate(store, cfg, device)
    watch = _SweepWatch(store, time.perf_counter())
    run_id = store.create_run(cfg, status="running", owner="bench")
    watch.run_id = run_id
    host0 = host_jiffies()
    Runner(store, run_id, watch.progress, owner="bench").run()
    wall = time.perf_counter() - watch.t0
    stolen = steal_share(host0, host_jiffies())
    res = result(store, run_id)
    out = _sweep_out(watch, res, cfg, guess, calibration, device, load, wall, stolen)
    if tmp:
        store.close()
        tmp.cleanup()
    return out


def _calibrate(store, cfg) -> dict:
    """The worker's calibration for ``cfg``, in a process of its own; its last line of output, parsed."""
    done = subprocess.run([sys.executable, "-m", "idim_core.calibrate", str(store.home), json.dumps(cfg.to_dict())],
                          capture_output=True, text=True)
    if done.returncode != 0:
        raise RuntimeError(f"the calibration failed: {done.stderr.strip().splitlines()[-1:]}")
    return json.loads(done.stdout.strip().splitlines()[-1])


class _SweepWatch:
    """The sweep's progress events, timed from ``t0``: when its first points came, each trial, and the lengths
    Live would have shown."""

    def __init__(self, store, t0: float):
        self.store = store
        self.t0 = t0
        self.run_id = None
        self.first_point = {}
        self.trial_times = []
        self.shown = []  # the run's whole length as Live would show it (elapsed + time left) during its first 60 s

    def look(self) -> None:
        from .ui.estimates import time_left

        now = time.perf_counter() - self.t0
        if now > 60 or self.run_id is None or (self.shown and now - self.shown[-1][0] < 2.0):
            return
        run = self.store.get_run(self.run_id)
        left = time_left(run, self.store.trials(self.run_id), home=self.store.home) if run else None
        if left is not None:
            self.shown.append((now, now + left))

    def progress(self, e) -> None:
        first_point, t0 = self.first_point, self.t0
        if e["type"] == "trial_start" and "prepared" not in first_point:
            first_point["prepared"] = time.perf_counter() - t0
        if e["type"] == "trial_end":
            self.trial_times.append({"kind": e["kind"], "d": e["d"], "seed": e["seed"], "seconds": e["seconds"],
                                     "accuracy": e["accuracy"], "timing": e.get("timing") or {}})
            if e["kind"] == "subspace" and "t" not in first_point:
                first_point["t"] = time.perf_counter() - t0
            if e["kind"] == "baseline" and "ruler" not in first_point:
                first_point["ruler"] = time.perf_counter() - t0
            first_point.setdefault("first_kind", e["kind"])
        if e["type"] == "ruler_provisional" and "ruler" not in first_point:  # the line drawn from the first rate
            first_point["ruler"] = time.perf_counter() - t0
            first_point.setdefault("first_kind", "baseline")
        if e["type"] == "trial_end" and e["kind"] == "baseline":  # the search's end: the final ruler
            first_point.setdefault("ruler_final", time.perf_counter() - t0)
        if e["type"] == "baseline_shared" and "ruler" not in first_point:
            first_point["ruler"] = time.perf_counter() - t0
            first_point.setdefault("first_kind", "baseline")
        self.look()


def _sweep_out(watch: _SweepWatch, res: dict, cfg, guess: dict, calibration: dict, device, load: int,
               wall: float, stolen) -> dict:
    """The sweep benchmark's report."""
    from .ui.estimates import estimate_range

    first_point, shown, trial_times = watch.first_point, watch.shown, watch.trial_times
    # ruler_s: when the full-training line and the threshold could be drawn (the baseline's first trial ended, its
    # first rate when it searches its rate (provisional until ruler_final_s, the search's end), or it was reused);
    # first_trial: the kind of the trial that ended first (the baseline, since the ruler is first)
    # estimate_swings: the largest ratio between two consecutive lengths Live showed in the first 60 s
    swings = max((max(a, b) / min(a, b) for (_, a), (_, b) in zip(shown, shown[1:]) if min(a, b) > 0),
                 default=1.0)
    return {"wall_s": wall, "first_point_s": first_point.get("t"), "ruler_s": first_point.get("ruler"),
            "ruler_final_s": first_point.get("ruler_final", first_point.get("ruler")),
            "load": load, "estimate_range_s": list(estimate_range(guess)), "estimate_swings": swings,
            "estimates_shown": [[round(t, 1), round(v, 1)] for t, v in shown],
            "first_trial": first_point.get("first_kind"), "trials": trial_times,
            "baseline_accuracy": res["baseline_accuracy"], "d90": res["d90"],
            "d90_interpolated": res["d90_interpolated"], "device": res["device"], "config": cfg.to_dict(),
            "estimate_s": guess["seconds"], "estimate_error": guess["seconds"] / wall - 1, "calibration": calibration,
            "fastfood_native": _native_status(device), "steal_share": stolen,
            "breakdown": breakdown(trial_times, cfg.grid, first_point.get("prepared"), wall)}


if __name__ == "__main__":
    if len(sys.argv) > 1 and sys.argv[1] == "_mem":
        _mem_main(*sys.argv[2:])
