"""App side: how long a run will take, the time left of a running one, and grids of d."""
from __future__ import annotations

import json
import math
import os
import time
from pathlib import Path

from .. import executors
from ..errors import UserError
from ..runconfig import RunConfig, is_auto
from ..store import FINAL
from .workers import detect_device

# A subspace step against a full fine-tuning step: language models and the classic nets (whose own steps are
# tiny, so the projection weighs more), with Fastfood's passes in torch or in C (idim_core/native.py).  Measured in
# bench/RESULTS.md, "Step time: subspace vs full fine-tuning" and "Fastfood's passes in C".  step_ratio(cfg,
# device) picks one; the estimate and the time left use it.
SUBSPACE_STEP_RATIO = 1.1
CLASSIC_SUBSPACE_STEP_RATIO = 2.0
SUBSPACE_STEP_RATIO_C = 1.04
CLASSIC_SUBSPACE_STEP_RATIO_C = 1.4


CLASSIC_LOOP = 1.9  # a classic net's full step inside a trial against the step alone (1.9 against 1.0 ms, mnist5k)


def loop_overhead(cfg: RunConfig) -> float:
    from ..classic import is_classic_model

    return CLASSIC_LOOP if is_classic_model(cfg.model or "") else 1.0


def step_ratio(cfg: RunConfig, device: str = "cpu") -> float:
    from .. import native
    from ..classic import is_classic_model

    c = ((device or "cpu").startswith("cpu") and (cfg.projection or "fastfood") == "fastfood"
         and native.expected())
    if is_classic_model(cfg.model or ""):
        return CLASSIC_SUBSPACE_STEP_RATIO_C if c else CLASSIC_SUBSPACE_STEP_RATIO
    return SUBSPACE_STEP_RATIO_C if c else SUBSPACE_STEP_RATIO
# --processes N (the local executor's worker processes): N one-thread trials side by side.  What each process after
# the first gains the classic preset is read from bench/parallel.json (`python bench/parallel_gain.py` writes it);
# more processes are assumed to add the same gain each, up to the cores.  Starting the processes (a fresh Python
# importing torch, the model rebuilt) costs about 3 s.
PARALLEL_JSON = Path(__file__).resolve().parent.parent.parent / "bench" / "parallel.json"


def _parallel_gain(path: Path = PARALLEL_JSON) -> float:
    """The measured gain of a second worker process (0: none assumed where the file is missing)."""
    try:
        return float(json.loads(path.read_text(encoding="utf-8"))["gain"])
    except (OSError, ValueError, KeyError, TypeError):
        return 0.0


PARALLEL_GAIN = _parallel_gain()
PROCESS_START = 3.0


def slots_of(cfg: RunConfig, device: str = "cpu") -> int:
    """How many trials of ``cfg`` train at once (the local executor's --processes rule; elsewhere 1)."""
    return executors.slots_for(cfg, device)


def parallel_speedup(n: int) -> float:
    """Wall time of a sweep in this process over its wall time with ``n`` worker processes."""
    return 1.0 + PARALLEL_GAIN * (max(1, min(n, os.cpu_count() or 1)) - 1)


AUTO_TRIALS_GUESS = 7  # an automatic search usually needs about this many d values (the rung above included)


LOAD_SECONDS = 10.0


def _train_size(cfg: RunConfig) -> int:
    """Training examples a trial reads: --max-train, never more than the task's training split (mr holds about
    8,500: max_train=200000 trains on those, not on 200,000)."""
    from ..tasks import resolve

    try:
        size = resolve(cfg.task).size
    except UserError:
        size = None
    split = int(0.8 * size) if size else None
    if cfg.max_train:
        return min(int(cfg.max_train), split) if split else int(cfg.max_train)
    return split or 1024


def steps_per_trial(cfg: RunConfig) -> int:
    steps = math.ceil(float(cfg.epochs) * _train_size(cfg) / int(cfg.batch_size))
    if cfg.max_steps:
        steps = min(steps, int(cfg.max_steps))
    return max(1, steps)


def seconds_per_step(cfg: RunConfig, device: str = "cpu") -> float:
    """Rough seconds per optimiser step of full fine-tuning (measured on a 2-core CPU)."""
    from ..classic import is_classic_model
    from ..models import resolve

    if is_classic_model(cfg.model):
        # one full step alone, on a quiet 2-core CPU, batch 64 (calibrate.measure, 3 x 20 steps): mlp 0.64 ms
        # on 8x8 digits and 0.99 ms on 28x28, lenet 1.25 and 2.95 ms: a fixed part and one that follows the
        # input's area.  Inside a trial a step costs CLASSIC_LOOP times that (batching, the schedule, the
        # store's progress), and a subspace step step_ratio() times a full one.
        from ..classic import side_of

        area = side_of(cfg.task) ** 2 / 784
        fixed, per_area = (0.00061, 0.00038) if cfg.model == "mlp" else (0.0011, 0.00185)
        t = (fixed + per_area * area) * int(cfg.batch_size) / 64
        return t / 3 if device.startswith("cuda") else t
    try:
        layers = resolve(cfg.model).layers or 12
    except UserError:
        layers = 12
    scale = int(cfg.batch_size) * int(cfg.max_length) / (32 * 64)
    t = (0.13 * layers + 0.05) * scale
    return t / 10 if device.startswith("cuda") else t


def planned_trials(cfg: RunConfig) -> int:
    """Subspace (or adapter) trials a run will train: its levels (the refinement's usual additions included)
    times its seeds."""
    from ..runconfig import planned_levels

    return planned_levels(cfg, AUTO_TRIALS_GUESS) * int(cfg.seeds)


PROBE_COST = 0.5  # a linear probe's trial against a full fine-tuning trial (forward passes, no backward into the body)
# a searched rate trains 1/3, 1 and 3 times it; with --lr-search-beyond about one seed in two went on past an end in
# the records (a kept rate at an end of 1/3, 1, 3: 4 of 9 language-model seeds), so half an attempt more on average
SEARCH_ATTEMPTS = 3
BEYOND_GUESS = 0.5


def attempts(cfg: RunConfig, kind: str) -> float:
    """How many times a trial of ``kind`` ("baseline", "probe" or "subspace") trains, on average: once, or once
    per rate its search tries (--baseline-lr-search, the probe's own search unless --probe-fixed-rate,
    --lr-search)."""
    from ..runconfig import searches_rate

    if not searches_rate(cfg, kind):
        return 1.0
    return SEARCH_ATTEMPTS + (BEYOND_GUESS if int(cfg.lr_search_beyond or 0) > 0 else 0.0)


def eval_steps_per_trial(cfg: RunConfig, subspace: bool = False) -> float:
    """Evaluation cost of one trial, in training-step equivalents.

    The trainer evaluates on the validation split once per epoch, on the test split once at
    the end, and on a fixed 512 training examples (for the generalisation gap).  With
    --claims-facts it reads every training example instead, and a DID/SAID trial also
    evaluates the test split with z quantised to 2, 4 and 8 bits and 512 training examples
    at 4 and 8 bits.  A forward pass costs about a third of a training step.
    """
    from ..runconfig import QUANTISED_TRAIN_N, TRAIN_ACCURACY_N

    every = bool(cfg.claims_facts)
    n_eval = int(cfg.max_eval) if cfg.max_eval else max(8, _train_size(cfg) // 8)
    evals = max(1.0, float(cfg.epochs)) + 1 + (3 if subspace and every else 0)
    n_train = _train_size(cfg) if every else min(_train_size(cfg), TRAIN_ACCURACY_N)
    if subspace and every:
        n_train += 2 * min(_train_size(cfg), QUANTISED_TRAIN_N)
    batch = int(cfg.batch_size)
    return (evals * n_eval / batch + n_train / batch) / 3


def load_seconds(cfg: RunConfig) -> float:
    """Seconds to load the model and the task before the first step (a classic net: about one)."""
    from ..classic import is_classic_model

    return 1.0 if is_classic_model(cfg.model) else LOAD_SECONDS


def estimate_seconds(cfg: RunConfig, device: str = "cpu", baseline: bool = True, factor: float = 1.0,
                     slot_factor: float | None = None) -> float:
    """A rough wall-time estimate of a whole run: loading + baseline + subspace trials.

    Per optimiser step on a 2-core CPU: about 0.13 s per transformer layer + 0.05 s
    (batch 32 x 64 tokens, scaled linearly), subspace steps step_ratio() times that, a tenth
    of it on a GPU.  Nothing else running on the machine is assumed.  ``baseline=False``: the
    run will reuse an earlier run's full fine-tuning (runconfig.shared_baseline).  ``factor``: this
    machine's speed against the formula's (calibrate.py, finished trials).  Where trials train side by side in
    one-thread processes, ``slot_factor`` is that speed measured on one thread, and each process is taken to
    keep it; without it the formula's PARALLEL_GAIN applies.
    """
    per = seconds_per_step(cfg, device) * loop_overhead(cfg)
    from ..methods import axis

    sub = axis(cfg.method) == "d"
    work = steps_per_trial(cfg) + eval_steps_per_trial(cfg)
    work_sub = steps_per_trial(cfg) + eval_steps_per_trial(cfg, subspace=sub)
    from ..runconfig import wants_probe

    seeds = int(cfg.seeds)
    # the baseline and the probe, once per seed (both reused from an earlier run when baseline=False)
    fixed = work * per * seeds * (attempts(cfg, "baseline") + (PROBE_COST * attempts(cfg, "probe")
                                                               if wants_probe(cfg) else 0)) if baseline else 0.0
    train = fixed + (planned_trials(cfg) * work_sub * per * (step_ratio(cfg, device) if sub else 1.0)
                     * attempts(cfg, "subspace"))
    n = slots_of(cfg, device)
    if n > 1 and slot_factor:  # one-thread trials side by side, at the one-thread speed measured here
        return load_seconds(cfg) + PROCESS_START + train * slot_factor / n
    if n > 1:  # trials side by side in worker processes
        return load_seconds(cfg) + (PROCESS_START + train / parallel_speedup(n)) * factor
    return load_seconds(cfg) + train * factor


def predicted_trial_seconds(cfg: RunConfig, kind: str, steps: int, device: str = "cpu") -> float:
    """What the formula above expects a finished trial of ``cfg`` to take for ``steps`` optimiser steps."""
    from ..methods import axis

    sub = kind == "subspace" and axis(cfg.method) == "d"
    work = steps + eval_steps_per_trial(cfg, subspace=sub)
    return work * seconds_per_step(cfg, device) * loop_overhead(cfg) * (step_ratio(cfg, device) if sub else 1.0)


MEASURED_TRIALS = 12  # the most recent finished trials that calibrate the estimate
MEASURED_RUNS = 40  # how far back in the store to look for them


def measured_speed(store, cfg: dict, device: str = "cpu") -> dict | None:
    """How this machine's recent trials compared with the formula: {'factor', 'trials', 'task'} or None.

    The most recent finished trials (done, with their seconds and steps) of runs of the same model on
    the same device, trained here (recorded runs and Ray runs are left out: they ran elsewhere),
    those of the same task first.  ``factor`` is the median of measured / predicted seconds, each
    trial predicted from its own run's budget, so a trial of another batch size or length still
    tells the machine's speed.  A baseline copied into a later run counts once.
    """
    dev = device.split(" ")[0]
    same_task: list[tuple[float, float]] = []
    same_model: list[tuple[float, float]] = []
    seen = set()
    for run in store.list_runs(limit=MEASURED_RUNS):
        rc = run["config"]
        if (rc.get("recorded") or rc.get("model") != cfg.model
                or (rc.get("executor") or executors.DEFAULT) != executors.DEFAULT
                or (run.get("device") or "").split(" ")[0] != dev):
            continue
        bucket = same_task if rc.get("task") == cfg.task else same_model
        for t in store.trials(run["id"]):
            if (t["status"] != "done" or not t.get("seconds") or not t.get("steps")
                    or t["kind"] not in ("baseline", "subspace")):
                continue
            # a trial beside others in worker processes took longer, by n / parallel_speedup(n)
            n = int((run.get("summary") or {}).get("slots") or 1)
            slower = n / parallel_speedup(n) if n > 1 else 1.0
            ident = (t.get("started"), t["seconds"], t["kind"], t.get("d"), t.get("seed"))
            if ident in seen:
                continue
            seen.add(ident)
            try:
                predicted = predicted_trial_seconds(RunConfig.from_stored(rc), t["kind"], int(t["steps"]), dev) * slower
            except (KeyError, TypeError, ValueError, UserError):
                continue
            if predicted > 0:
                bucket.append((t.get("finished") or 0.0, float(t["seconds"]) / predicted))
    pool = same_task or same_model
    if not pool:
        return None
    ratios = sorted(r for _, r in sorted(pool, reverse=True)[:MEASURED_TRIALS])
    mid = len(ratios) // 2
    factor = ratios[mid] if len(ratios) % 2 else (ratios[mid - 1] + ratios[mid]) / 2
    return {"factor": factor, "trials": len(ratios), "task": bool(same_task)}


def busy_reason(store, load: tuple[float, int] | None = None) -> str | None:
    """Why this machine will be slower than measured, in words, or None.

    A run that is training now (the worker trains one run at a time, and a trial shares the CPU
    with it), or a load average above the number of cores.  ``load``: (1-minute load, cores),
    read from the system when not given."""
    running = [r for r in store.list_runs(limit=MEASURED_RUNS) if r["status"] == "running"]
    if running:
        return "another run is training" if len(running) == 1 else f"{len(running)} other runs are training"
    if load is None:
        try:
            load = (os.getloadavg()[0], os.cpu_count() or 1)
        except (OSError, AttributeError):  # no load average on this system
            return None
    avg, cores = load
    if avg / max(1, cores) > 1:
        return f"the load is {avg:.1f} on {cores} core{'s' if cores != 1 else ''}"
    return None


def estimate(store, cfg: dict, device: str = "cpu", baseline: bool = True, load=None) -> dict:
    """The form's estimate: {'seconds', 'measured' (measured_speed or None), 'busy' (busy_reason)}.

    Once a trial of the same model has finished on this machine, the formula is scaled by how fast
    those trials really were; until then it is the formula alone (a 2-core CPU, nothing else running).
    """
    measured = measured_speed(store, cfg, device)
    calibration = None
    if not measured:
        from ..calibrate import lookup

        calibration = lookup(getattr(store, "home", None), cfg, device)
        if calibration:
            calibration = {**calibration, "factor": calibration_factor(calibration)}
    factor = (measured or calibration or {}).get("factor") or 1.0
    # a calibration made on one thread, for trials that train side by side in one-thread processes
    slot = calibration["factor"] if calibration and calibration.get("threads") == 1 else None
    secs = estimate_seconds(cfg, device, baseline=baseline, factor=factor, slot_factor=slot)
    return {"seconds": secs, "measured": measured, "calibration": calibration, "busy": busy_reason(store, load)}


def calibration_factor(entry: dict) -> float | None:
    """How this machine's timed steps (calibrate.py) compare with the formula's seconds per step inside a trial.

    The calibration times steps inside the trial loop itself (calibrate.measure: batching, the schedule, the
    loss read back), as a trial takes them, so it is compared with the formula's step inside a trial
    (loop_overhead included), so a classic net's loop is counted once (bench/RESULTS.md, "The estimate before
    each run, and a correction")."""
    try:
        probe = RunConfig.from_stored({"model": entry["model"], "task": entry.get("task") or RunConfig().task,
                                       "batch_size": entry["batch_size"], "max_length": entry.get("max_length") or 64})
        predicted = seconds_per_step(probe, entry.get("device") or "cpu") * loop_overhead(probe)
    except (KeyError, TypeError, ValueError, UserError):
        return None
    return entry["seconds_per_step"] / predicted if predicted > 0 else None


def basis_text(guess: dict, model: str) -> str:
    """Where an estimate's speed comes from, in one sentence (Explore and `idim run` say the same)."""
    measured, cal = guess.get("measured"), guess.get("calibration")
    if measured:
        n = measured["trials"]
        return (f"from the speed of this machine's last {n} finished trial{'s' if n != 1 else ''} of {model}"
                f"{' on this task' if measured['task'] else ''}.")
    if cal:
        of = "" if cal.get("model") == model else f" (measured on {cal.get('model')})"
        return (f"from this machine's speed, {cal['seconds_per_step']:.2f} s per full fine-tuning step{of}, "
                f"timed when the worker started; the first trial that finishes here refines it.")
    return ("from a 2-core CPU's speed with nothing else running (the worker times this machine when it starts, "
            "and the first trial that finishes here refines it).")


FIRST_STEPS = 10  # steps of a running trial before its own pace is trusted (its first ones carry the setup)


def time_left(run: dict, trials: list[dict], now: float | None = None, home=None) -> float | None:
    """Seconds left for the whole run, from the speed measured so far (None if unknown); before anything is
    measured, from the formula scaled by this machine's calibration (``home``: the store's directory), as
    Explore's estimate is, so the first number Live shows is the one Explore showed."""
    if run["status"] in FINAL:
        return 0.0
    now = now or time.time()
    cfg = RunConfig.from_stored(run["config"])
    ratio = step_ratio(cfg, run.get("device") or detect_device())
    finished = [t for t in trials if t["status"] in ("done", "diverged") and t.get("seconds") and t.get("steps")]
    sub_done = [t for t in finished if t["kind"] == "subspace"]
    base_done = [t for t in finished if t["kind"] == "baseline"]
    current = next((t for t in reversed(trials) if t["status"] == "running"), None)
    # a provisional ruler: a searched baseline whose first rate is trained (one attempt of its search), the rest to come
    prov = [t for t in trials if t["kind"] == "baseline" and t["status"] == "provisional" and t.get("seconds")
            and t.get("steps")]
    # seconds per step of a subspace trial
    if sub_done:
        rate = sum(t["seconds"] for t in sub_done) / sum(t["steps"] for t in sub_done)
    elif base_done or prov:
        rate = ratio * (base_done or prov)[0]["seconds"] / (base_done or prov)[0]["steps"]
    elif current and (current.get("steps") or 0) >= FIRST_STEPS and current.get("started"):  # setup amortised
        rate = (now - current["started"]) / current["steps"] * (ratio if current["kind"] == "baseline" else 1.0)
    else:
        device = run.get("device") or detect_device()
        rate = seconds_per_step(cfg, device) * loop_overhead(cfg) * ratio
        if home is not None:
            from ..calibrate import lookup

            cal = lookup(home, cfg, device)
            factor = calibration_factor(cal) if cal else None
            rate *= factor or 1.0
    # one attempt's steps, for the trials still to come: a running or finished trial's total counts every rate
    # its search tried, and the attempts are counted apart below
    steps = steps_per_trial(cfg)
    n_sub_done = len([t for t in trials if t["kind"] == "subspace" and t["status"] in ("done", "diverged")])
    planned = planned_trials(cfg)
    if is_auto(cfg.dims):
        planned = max(planned, n_sub_done + int(cfg.seeds))
    left = 0.0
    if current is not None:
        cur_rate = rate / ratio if current["kind"] == "baseline" else rate
        left += max(0, (current.get("total_steps") or steps) - (current.get("steps") or 0)) * cur_rate
    base_pending = not base_done and not (current and current["kind"] == "baseline")
    if base_pending:
        left += (steps * rate / ratio * (attempts(cfg, "baseline") - (1 if prov else 0))
                 + (LOAD_SECONDS if run["status"] == "queued" else 0))
    from ..runconfig import wants_probe

    if wants_probe(cfg):  # the linear probe, once per seed, about half a baseline trial each
        probes = len([t for t in trials if t["kind"] == "probe" and t["status"] in ("done", "diverged")])
        pending = int(cfg.seeds) - probes - (1 if current is not None and current["kind"] == "probe" else 0)
        left += max(0, pending) * steps * rate / ratio * PROBE_COST * attempts(cfg, "probe")
    remaining = planned - n_sub_done - (1 if current is not None and current["kind"] == "subspace" else 0)
    left += max(0, remaining) * steps * rate * attempts(cfg, "subspace")
    n = int((run.get("summary") or {}).get("slots") or 1)
    return left / n if n > 1 else left  # trials side by side (each measured at its own, slower, pace)


# How far an estimate may be off, by where its speed comes from: (low, high) factors on the point estimate.
# A measured speed (this machine's finished trials) is nearest; a worker's calibration next; the 2-core
# formula alone is the widest.  A busy machine widens the high end.
SPREAD = {"measured": (0.8, 1.25), "calibration": (0.7, 1.5), "formula": (0.6, 2.0)}
BUSY_HIGH = 1.5


def estimate_range(guess: dict) -> tuple[float, float]:
    """The range an estimate (``estimate``'s dict) is shown as: a number that may be off is never shown alone."""
    basis = "measured" if guess.get("measured") else "calibration" if guess.get("calibration") else "formula"
    lo, hi = SPREAD[basis]
    secs = guess["seconds"]
    return secs * lo, secs * hi * (BUSY_HIGH if guess.get("busy") else 1.0)


def fmt_range(lo: float, hi: float) -> str:
    """"40 – 70 s", "6 – 9 min", "1.2 – 2.0 h": both ends in the larger end's unit (seconds up to two minutes)."""
    if hi < 120:  # under two minutes: seconds, which say more than "1 - 2 min"
        return f"{lo:.0f} – {hi:.0f} s"
    if hi < 3600:
        a, b = max(1, round(lo / 60)), max(1, round(hi / 60))
        return f"{a} – {b} min" if a < b else f"about {b} min"
    return f"{lo / 3600:.1f} – {hi / 3600:.1f} h"


def fmt_seconds(s: float | None) -> str:
    if s is None:
        return "unknown"
    s = max(0.0, float(s))
    if s < 60:
        return f"{s:.0f} s"
    if s < 3600:
        return f"{s / 60:.0f} min" if s >= 600 else f"{int(s // 60)} min {int(s % 60):02d} s"
    return f"{s / 3600:.1f} h"


GRID_STOPS = [10, 30, 100, 300, 1_000, 3_000, 10_000, 30_000, 100_000, 300_000, 1_000_000]


def log_grid(lo: int, hi: int, per_decade: int = 1) -> list[int]:
    """d values from lo to hi, evenly spaced in log d (1, 2 or 3 per decade: 1-3-10, 1-2-5-10)."""
    mantissas = {1: [1], 2: [1, 3], 3: [1, 2, 5]}.get(per_decade, [1])
    out = []
    for e in range(0, 8):
        for m in mantissas:
            v = m * 10**e
            if lo <= v <= hi:
                out.append(v)
    for v in (lo, hi):
        if v not in out:
            out.append(v)
    return sorted(set(out))


def classic_span(store, device: str = "cpu") -> str:
    """The classic preset's estimate as a range ("1 - 3 min"), as classic_length states it."""
    from ..runconfig import CLASSIC_DEFAULTS, make_config

    cfg = make_config(model=CLASSIC_DEFAULTS["model"], task=CLASSIC_DEFAULTS["task"])
    return fmt_range(*estimate_range(estimate(store, cfg, device)))


def classic_length(store, device: str = "cpu") -> str:
    """How long the classic preset (Explore's one click) takes here, in one sentence: the estimate's range, from
    this machine's speed as far as it is known.  Explore and Learn say it; the docs point to it."""
    from ..runconfig import CLASSIC_DEFAULTS, make_config

    cfg = make_config(model=CLASSIC_DEFAULTS["model"], task=CLASSIC_DEFAULTS["task"])
    guess = estimate(store, cfg, device)
    n = int(cfg.seeds)
    return (f"The classic preset ({cfg.model} on 5,000 MNIST digits, {n} seed{'s' if n != 1 else ''}) takes "
            f"{fmt_range(*estimate_range(guess))} here, {basis_text(guess, cfg.model)[0].lower()}"
            f"{basis_text(guess, cfg.model)[1:]}")
