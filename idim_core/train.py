"""One trial: full fine-tuning (the baseline) or subspace fine-tuning at one d and seed.

A trial trains on the task's train split with dynamic padding (batches of similar
length), evaluates on the validation split in inference mode every ``eval_every``
steps, stops early when validation accuracy stops improving, and reports the test
accuracy of the best validation state.  A non-finite loss ends the trial as
``diverged``; the sweep goes on.  Same seed: same projection, same data order,
same dropout masks.
"""
from __future__ import annotations

import math
import random
import time
from dataclasses import dataclass, field, replace
from typing import Callable

import torch
import torch.nn.functional as F

from . import heap, yielding
from .names import QUANTISED_TRAIN_N, TRAIN_ACCURACY_N
from .subspace import FlatParams

# How a trial trains besides the run's settings (RunConfig: the one place a run's fields and defaults live)
QUANTISE_BITS = (2, 4, 8)  # subspace trials: test accuracy with z quantised to these bits
WEIGHT_DECAY = 0.0
PATIENCE = 4  # validation passes without improvement before a trial stops early (one pass per epoch)
EVAL_BATCH = 128  # examples per evaluation batch


class Cancelled(Exception):
    """Raised inside a trial when the run was asked to stop."""


@dataclass
class Encoded:
    """A tokenised split: one list of token ids (and type ids) per example."""

    ids: list[list[int]]
    types: list[list[int]] | None
    labels: torch.Tensor
    pad_id: int = 0

    def __len__(self) -> int:
        return len(self.ids)

    def length(self, i: int) -> int:
        return len(self.ids[i])

    def batch(self, idx: list[int], device) -> dict:
        return collate(self, idx, self.pad_id, device)


def encode(tokenizer, split, max_length: int) -> Encoded:
    enc = tokenizer(split.text, split.text_pair, truncation=True, max_length=max_length)
    types = enc.get("token_type_ids")
    return Encoded(enc["input_ids"], types, torch.tensor(split.labels, dtype=torch.long),
                   tokenizer.pad_token_id or 0)


def collate(data: Encoded, idx: list[int], pad_id: int, device) -> dict:
    n = max(len(data.ids[i]) for i in idx)
    ids = torch.full((len(idx), n), pad_id, dtype=torch.long)
    mask = torch.zeros((len(idx), n), dtype=torch.long)
    types = torch.zeros((len(idx), n), dtype=torch.long) if data.types is not None else None
    for r, i in enumerate(idx):
        seq = data.ids[i]
        ids[r, : len(seq)] = torch.tensor(seq)
        mask[r, : len(seq)] = 1
        if types is not None:
            types[r, : len(seq)] = torch.tensor(data.types[i])
    batch = {"input_ids": ids.to(device), "attention_mask": mask.to(device)}
    if types is not None:
        batch["token_type_ids"] = types.to(device)
    return batch


def train_batches(data, batch_size: int, rng: random.Random) -> list[list[int]]:
    """Shuffled batches of similar length (sorted within pools of 50 batches).

    ``data`` is a tokenised text split (Encoded) or an image split (classic.Images):
    anything with ``len``, ``length(i)``, ``batch(idx, device)`` and ``labels``.
    """
    order = list(range(len(data)))
    rng.shuffle(order)
    pool = batch_size * 50
    batches = []
    for a in range(0, len(order), pool):
        chunk = sorted(order[a : a + pool], key=data.length)
        batches += [chunk[b : b + batch_size] for b in range(0, len(chunk), batch_size)]
    rng.shuffle(batches)
    return batches


class Head:
    """The first ``n`` examples of a split (text or images), for a cheap evaluation pass."""

    def __init__(self, data, n: int):
        self.data, self.n = data, min(n, len(data))
        self.labels = data.labels[: self.n]

    def __len__(self) -> int:
        return self.n

    def length(self, i: int) -> int:
        return self.data.length(i)

    def batch(self, idx, device) -> dict:
        return self.data.batch(idx, device)


QUANTISED_TRAIN_BITS = (4, 8)  # the bound's widths: training accuracy of the quantised model
# QUANTISED_TRAIN_N (the quantised model's training accuracy) and TRAIN_ACCURACY_N (training accuracy for the
# gap, unless --claims-facts asks for every training example): subsets' sizes, in runconfig (torch-free)


@torch.inference_mode()
def evaluate(forward: Callable, data, device, batch_size: int, per_example: bool = False):
    """Accuracy on ``data``; with ``per_example`` also a list of bools, one per example in data order."""
    order = sorted(range(len(data)), key=data.length)
    hits = torch.zeros(len(data), dtype=torch.bool)
    for a in range(0, len(order), batch_size):
        idx = order[a : a + batch_size]
        yielding.tick()
        logits = forward(**data.batch(idx, device))
        hits[idx] = (logits.argmax(-1).cpu() == data.labels[idx])
    acc = int(hits.sum()) / max(1, len(data))
    return (acc, hits.tolist()) if per_example else acc


def make_optimizer(params, lr: float, weight_decay: float = 0.0) -> torch.optim.Optimizer:
    """AdamW; the fused kernel where this torch has one (4-5x faster over 22M parameters on CPU)."""
    try:
        return torch.optim.AdamW(params, lr=lr, weight_decay=weight_decay, fused=True)
    except (RuntimeError, TypeError, ValueError):
        return torch.optim.AdamW(params, lr=lr, weight_decay=weight_decay)


@dataclass
class TrialResult:
    status: str  # done | diverged
    accuracy: float | None  # test accuracy at the best validation state
    val_accuracy: float | None
    steps: int
    seconds: float
    trainable: int
    curve: list[dict] = field(default_factory=list)
    error: str | None = None
    correct: list[bool] | None = None  # per test example, for d90's bootstrap interval
    lr: float | None = None  # the learning rate this trial used (z's, for a subspace trial)
    peak_mb: float | None = None  # peak memory during the trial: allocated on a GPU, the process's RSS on a CPU
    train_accuracy: float | None = None  # the kept state on the training examples (the gap is this - accuracy)
    extra: dict | None = None  # SAID: lam, lam_names, lam_history; subspace: quantised (bits -> test accuracy)
    test: Callable | None = field(default=None, repr=False)  # --lr-search: the test pass of a kept attempt
    # seconds by phase (build, steps, validation, test, train_accuracy, quantised, quantised_train): where the
    # trial's time went, for `idim bench sweep`; summed over the attempts of --lr-search
    timing: dict = field(default_factory=dict)
    # --lr-search / --baseline-lr-search: rate -> validation accuracy of every attempt (None: diverged), and
    # whether the kept rate is still the smallest or largest tried (--lr-search-beyond reached its limit)
    lr_tried: dict | None = None
    lr_at_end: bool = False


@dataclass
class Prepared:
    """Everything a run loads once and reuses across its trials."""

    module: torch.nn.Module
    flat: FlatParams | None
    train: Encoded  # or classic.Images
    val: Encoded
    test: Encoded
    pad_id: int
    device: torch.device
    num_labels: int
    seed_modules: dict | None = None  # pre-trained runs: seed -> its own theta0 (its own pre-training)

    def for_seed(self, seed: int) -> "Prepared":
        """The Prepared a trial of ``seed`` trains from: this one, or (pre-trained) a view on that seed's theta0."""
        if not self.seed_modules or seed not in self.seed_modules:
            return self
        views = self.__dict__.setdefault("_views", {})
        if seed not in views:
            module = self.seed_modules[seed]
            views[seed] = self if module is self.module else Prepared(
                module, None, self.train, self.val, self.test, self.pad_id, self.device, self.num_labels)
        return views[seed]


def run_trial(prep: Prepared, cfg, *, d: int | None, seed: int, on_point: Callable[[dict], None] | None = None,
              should_stop: Callable[[], bool] | None = None, probe: bool = False, first_rate: bool = False,
              after: TrialResult | None = None) -> TrialResult:
    """Train once: ``cfg.method`` in ``cfg.projection`` at level ``d``; ``d=None`` means full fine-tuning (all D
    parameters), ``probe`` the linear probe (the head alone on the frozen features; ``d`` is not read).

    With ``cfg.lr_search`` a subspace trial trains once per multiplier in ``LR_SEARCH`` of
    its rate (same seed: same projection and data order) and keeps the attempt with the
    best validation accuracy; the test split is only read for the kept one.  With
    ``cfg.baseline_lr_search`` full fine-tuning does the same with its rate, and so does the linear probe of a
    run (``probe``) unless ``cfg.probe_fixed_rate``.  When the kept rate is the smallest or largest tried, the
    search goes on a factor 3 past it, up to ``cfg.lr_search_beyond`` more rates.

    A search can train in two parts (the runner's provisional ruler): ``first_rate`` trains only the run's own rate
    (``FIRST_RATE`` times it), tested at once; ``after`` (that part's result) trains the other rates and keeps the
    best of all, the same attempt in the same order of comparison as one search, so the result is the same.

    With torch's automatic thread count the trial trains on one thread while another program needs a core
    (yielding.py); the seconds it did so are ``timing["one_thread"]`` and ``extra["one_thread_s"]``.
    """
    method, projection = ("head" if probe else cfg.method), cfg.projection
    d = 0 if probe else d
    prep = prep.for_seed(seed)
    heap.hold()
    yielding.start(not cfg.threads, prep.device)
    try:
        best = _run_trial(prep, cfg, d=d, seed=seed, method=method, projection=projection, on_point=on_point,
                          should_stop=should_stop, probe=probe, first_rate=first_rate, after=after)
    finally:
        gov = yielding.stop()
        heap.release()
    if gov is not None and gov.drops:  # kept with the trial: its last digits may differ from a fixed count's
        best.timing["one_thread"] = best.timing.get("one_thread", 0.0) + gov.reduced_s  # (and a first part's)
    if best.timing.get("one_thread"):
        best.extra = {**(best.extra or {}), "one_thread_s": round(best.timing["one_thread"], 2)}
    return best


def _run_trial(prep: Prepared, cfg, *, d, seed, method, projection, on_point, should_stop, probe,
               first_rate: bool = False, after: TrialResult | None = None) -> TrialResult:
    from .ratesearch import searches_rate

    searched = searches_rate(cfg, "probe" if probe else "baseline" if d is None else "subspace")
    mults = list(LR_SEARCH if searched else (1.0,))
    beyond = int(cfg.lr_search_beyond or 0) if searched else 0
    if searched and first_rate:  # the first part of a split search: the run's own rate alone, tested now
        return _first_rate(prep, cfg, d, seed, method, projection, on_point, should_stop)
    if not searched:
        after = None  # nothing to split: one attempt
    t0 = time.perf_counter()
    n_batches, total = _steps_of(prep, cfg)
    best: TrialResult | None = None
    steps_all = 0
    timing: dict[str, float] = {}
    best_mult = 1.0
    tried: dict[float, float | None] = {}  # multiplier -> validation accuracy (None: diverged)
    k = 0
    trained = 1 if after is not None else 0  # attempts trained so far (a first part's included)
    while k < len(mults):
        mult = mults[k]

        def shifted(p, n=trained):  # progress over all attempts: each attempt's steps follow the one trained before
            if on_point:
                on_point({**p, "step": p["step"] + n * total, "total": total * len(mults)})

        if after is not None and mult == FIRST_RATE:  # trained in the first part: compared here, in its place
            res = replace(after, timing=dict(after.timing), extra=dict(after.extra) if after.extra else None)
        else:
            res = _attempt(prep, cfg, d, seed, method, projection, mult, total, n_batches,
                           shifted if len(mults) > 1 else on_point, should_stop, test=len(mults) == 1)
            trained += 1
        steps_all += res.steps
        for k2, v in res.timing.items():
            timing[k2] = timing.get(k2, 0.0) + v
        tried[mult] = res.val_accuracy if res.status == "done" else None
        if best is None or _rank(res) > _rank(best):
            best, best_mult = res, mult
        k += 1
        # the best so far is an end of what was tried: one more factor 3 past it (--lr-search-beyond)
        if k == len(mults) and beyond > 0 and best.status == "done" and best_mult in (min(mults), max(mults)):
            mults.append(best_mult * 3 if best_mult == max(mults) else best_mult / 3)
            beyond -= 1
    assert best is not None
    first_kept = after is not None and best_mult == FIRST_RATE  # tested in the first part already (timing counted)
    if len(mults) > 1:
        if best.status == "done" and not first_kept:
            best.accuracy, best.correct = best.test()
            for k2, v in best.timing.items():  # the kept attempt's test passes, run just now
                if k2 not in ("build", "steps", "validation"):
                    timing[k2] = timing.get(k2, 0.0) + v
        best.steps = steps_all
        # the rates tried and where the kept one lies among them, for the run's log
        base = best.lr / best_mult if best.lr else None
        best.lr_tried = {m * base: v for m, v in sorted(tried.items())} if base else None
        best.lr_at_end = best.status == "done" and best_mult in (min(mults), max(mults))
    best.timing = timing
    best.seconds = time.perf_counter() - t0 + (after.seconds if after is not None else 0.0)
    best.test = None
    return best


def _steps_of(prep, cfg) -> tuple[int, int]:
    """(batches per epoch, steps of one attempt)."""
    n_batches = math.ceil(len(prep.train) / cfg.batch_size)
    total = int(round(cfg.epochs * n_batches))
    if cfg.max_steps:
        total = min(total, cfg.max_steps)
    return n_batches, max(1, total)


FIRST_RATE = 1.0  # a split search's first part trains this multiple of the run's rate: the ruler until the rest ends


def _first_rate(prep, cfg, d, seed, method, projection, on_point, should_stop) -> TrialResult:
    """The first part of a split rate search: the attempt at ``FIRST_RATE``, tested now.  Its points count over the
    search's first three attempts (its progress reads as a third of the search)."""
    t0 = time.perf_counter()
    n_batches, total = _steps_of(prep, cfg)

    def over_search(p):
        if on_point:
            on_point({**p, "total": total * len(LR_SEARCH)})

    res = _attempt(prep, cfg, d, seed, method, projection, FIRST_RATE, total, n_batches, over_search, should_stop,
                   test=True)
    res.seconds = time.perf_counter() - t0
    res.test = None
    return res


def _reset_peak(device) -> bool:
    """Start a trial's peak-memory count: CUDA's allocator statistics, or Linux's peak RSS (VmHWM)."""
    if device.type == "cuda":
        torch.cuda.reset_peak_memory_stats(device)
        return True
    from .common import reset_peak_rss

    return reset_peak_rss()


def _peak_mb(device, was_reset: bool) -> float | None:
    if device.type == "cuda":
        return torch.cuda.max_memory_allocated(device) / 2**20
    from .common import peak_rss_mib

    return peak_rss_mib(fallback=False) if was_reset else None  # a lifetime peak is not the trial's


def _rank(r: TrialResult) -> tuple:
    return (r.status == "done", r.val_accuracy if r.val_accuracy is not None else -1.0)


LR_SEARCH = (1 / 3, 1.0, 3.0)  # --lr-search: multipliers of z's (scaled) rate tried at each d


def _attempt(prep, cfg, d, seed, method, projection, mult, total, n_batches, on_point, should_stop,
             test: bool) -> TrialResult:
    """One training attempt at one rate (``mult`` times the method's own): build, train with early stopping on
    validation, then (now, or later through ``res.test`` when a search still compares rates) test the kept state."""
    t0 = time.perf_counter()
    was_reset = _reset_peak(prep.device)
    torch.manual_seed(seed)
    rng = random.Random(seed)
    from . import methods

    built = (methods.FULL if d is None else methods.get(method)).build(prep, cfg, d, seed, projection)
    timing = {"build": time.perf_counter() - t0, "steps": 0.0, "validation": 0.0}
    lr = built.lr * mult
    opt = make_optimizer([{**g, "lr": g["lr"] * mult} for g in built.param_groups], lr, WEIGHT_DECAY)
    loop = _train_loop(prep, cfg, built, opt, _schedule(opt, total), rng, total, n_batches, on_point, should_stop,
                       timing)
    res = TrialResult(loop.status, None, loop.best_val if loop.best_val >= 0 else None, loop.step,
                      time.perf_counter() - t0, built.trainable, loop.curve, loop.error, None, lr,
                      _peak_mb(prep.device, was_reset), timing=timing)

    def run_test():
        return _test_kept(res, built, loop, prep, cfg)

    if loop.status == "done" and test:
        res.accuracy, res.correct = run_test()
    else:
        res.test = run_test
    return res


def _schedule(opt, total: int):
    """Linear warm-up over a tenth of the steps, then linear decay to 0."""
    warmup = max(1, total // 10)
    decay = max(1, total - warmup)
    return torch.optim.lr_scheduler.LambdaLR(
        opt, lambda s: (s + 1) / warmup if s < warmup else max(0.0, (total - s) / decay))


@dataclass
class _Loop:
    """What a training loop leaves: its curve, the best validation accuracy and the state kept there."""
    curve: list = field(default_factory=list)
    lam_history: list = field(default_factory=list)
    best_val: float = -1.0
    best_state: object = None
    status: str = "done"
    error: str | None = None
    step: int = 0


def _train_loop(prep, cfg, built, opt, sched, rng, total, n_batches, on_point, should_stop, timing) -> _Loop:
    """Adam steps over shuffled batches; validation once an epoch, the best state kept, early stopping after
    PATIENCE evaluations without a gain; a non-finite loss ends the attempt as diverged."""
    model = built.model
    out = _Loop()
    since_best = 0
    batches: list[list[int]] = []
    model.train()
    while out.step < total:
        if not batches:
            batches = train_batches(prep.train, cfg.batch_size, rng)
        idx = batches.pop()
        if should_stop and should_stop():
            raise Cancelled()
        yielding.tick()
        t_step = time.perf_counter()
        loss = F.cross_entropy(model(**prep.train.batch(idx, prep.device)), prep.train.labels[idx].to(prep.device))
        if not torch.isfinite(loss):
            out.status, out.error = "diverged", f"loss became {float(loss)} at step {out.step + 1}"
            break
        opt.zero_grad(set_to_none=True)
        loss.backward()
        opt.step()
        sched.step()
        out.step += 1
        t_val = time.perf_counter()
        timing["steps"] += t_val - t_step
        point = {"step": out.step, "loss": float(loss.detach()), "accuracy": None, "total": total}
        if out.step % n_batches == 0 or out.step == total:
            model.eval()
            acc = evaluate(_forward(model), prep.val, prep.device, EVAL_BATCH)
            model.train()
            timing["validation"] += time.perf_counter() - t_val
            point["accuracy"] = acc
            lam_now = getattr(model, "lam", None)
            if lam_now is not None:  # SAID's scales a few times during training (at every evaluation)
                out.lam_history.append([out.step, [round(float(v), 5) for v in lam_now.detach().cpu()]])
            if acc > out.best_val:
                out.best_val, out.best_state, since_best = acc, built.snapshot(), 0
            else:
                since_best += 1
        out.curve.append(point)
        if on_point:
            on_point(point)
        if since_best >= PATIENCE:
            break
    return out


def _forward(model):
    return lambda **batch: model(**batch)


def _test_kept(res: TrialResult, built, loop: _Loop, prep, cfg):
    """The kept state on the test split (per example), the training examples, and for a subspace trial its
    learned scales and its accuracy with z (and lambda) quantised to a few bits; (accuracy, per-example)."""
    model, fwd = built.model, _forward(built.model)
    if loop.best_state is not None:
        built.restore(loop.best_state)
    model.eval()
    t = time.perf_counter()
    acc, correct = evaluate(fwd, prep.test, prep.device, EVAL_BATCH, per_example=True)
    t, res.timing["test"] = time.perf_counter(), time.perf_counter() - t
    every = bool(cfg.claims_facts)
    seen = prep.train if every else Head(prep.train, TRAIN_ACCURACY_N)
    res.train_accuracy = evaluate(fwd, seen, prep.device, EVAL_BATCH)
    t, res.timing["train_accuracy"] = time.perf_counter(), time.perf_counter() - t
    extra = {}
    if len(seen) < len(prep.train):  # a subset: its size says the estimate's standard error
        extra["train_accuracy_n"] = len(seen)
    lam = getattr(model, "lam", None)
    if lam is not None:
        extra.update(lam=[round(float(v), 5) for v in lam.detach().cpu()], lam_names=list(model.lam_names),
                     lam_history=loop.lam_history)
    if getattr(model, "z", None) is not None and QUANTISE_BITS and every:
        extra["quantised"] = quantised_accuracies(model, fwd, prep, cfg)
        t, res.timing["quantised"] = time.perf_counter(), time.perf_counter() - t
        # the bound speaks of the quantised model: its training accuracy, on a fixed training subset
        extra["quantised_train"] = quantised_accuracies(model, fwd, prep, cfg,
                                                        split=Head(prep.train, QUANTISED_TRAIN_N),
                                                        bits=QUANTISED_TRAIN_BITS)
        extra["quantised_train_n"] = min(QUANTISED_TRAIN_N, len(prep.train))
        res.timing["quantised_train"] = time.perf_counter() - t
    res.extra = extra or None
    return acc, correct


def quantise(v: torch.Tensor, bits: int) -> torch.Tensor:
    """Uniform quantisation to 2**bits levels between the vector's own min and max (two numbers kept)."""
    lo, hi = float(v.min()), float(v.max())
    if hi <= lo:
        return v.clone()
    levels = 2 ** bits - 1
    return torch.round((v - lo) / (hi - lo) * levels) / levels * (hi - lo) + lo


@torch.no_grad()
def quantised_accuracies(model, fwd, prep, cfg, split=None, bits=None) -> dict[str, float]:
    """Accuracy (on the test split, or ``split``) with z (and SAID's lambda) quantised to each of
    ``bits`` (default QUANTISE_BITS) bits; restored after."""
    params = [p for p in (model.z, getattr(model, "lam", None)) if p is not None]
    saved = [p.detach().clone() for p in params]
    out = {}
    try:
        for b in (bits or QUANTISE_BITS):
            for p, s in zip(params, saved):
                p.copy_(quantise(s, b))
            if hasattr(model, "_cache"):
                model._cache = None
            out[str(b)] = evaluate(fwd, prep.test if split is None else split, prep.device, EVAL_BATCH)
    finally:
        for p, s in zip(params, saved):
            p.copy_(s)
        if hasattr(model, "_cache"):
            model._cache = None
    return out


def full_attempt(prep: Prepared, cfg, total: int, n_batches: int) -> TrialResult:
    """One attempt of full fine-tuning of ``total`` optimiser steps (``n_batches`` per epoch) at the run's rate,
    validated but not tested: what the calibration times (calibrate.measure)."""
    return _attempt(prep, cfg, None, 0, cfg.method, cfg.projection, 1.0, total, n_batches, None, None, test=False)
