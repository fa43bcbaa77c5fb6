"""A run's configuration: the defaults and the checks every face shares (no torch here).

The CLI, the worker, Explore and the runner all build a run through ``make_config``, so a
bad configuration is refused in one line before a run is stored.
"""
from __future__ import annotations

import math
import re
from dataclasses import dataclass, field, fields, replace

from . import executors as _executors
from . import methods as _registry
from .errors import UserError
from .names import LORA_TARGETS, LR_SCALINGS, PROJECTIONS, QUANTISED_TRAIN_N, SAID_GROUPS, TRAIN_ACCURACY_N  # noqa: F401
from .ratesearch import searches_rate  # noqa: F401  (the rule lives there: train reads it without this module)
from .search import AUTO_FACTOR, AUTO_START, AUTO_TOL


def _f(default, help="", cli: bool = True, type=None, choices=None, lo=None, hi=None, note: str = ""):
    """A config field: its default, what its CLI flag (and the form) say about it, and its range.

    ``help`` may be a function (text read from a registry when the flag is shown; ``field_help`` gives the text
    now).  ``lo`` / ``hi``: the one place a number's range is written; make_config checks it and Explore's inputs
    read it (``bounds``).  ``note`` says what a special value means ("0: off")."""
    meta = {"help": help() if callable(help) else help, "help_fn": help if callable(help) else None, "cli": cli,
            "type": type, "choices": choices, "lo": lo, "hi": hi, "note": note}
    if isinstance(default, (list, dict)):
        return field(default_factory=default.copy, metadata=meta)
    return field(default=default, metadata=meta)


def field_help(f) -> str:
    """A field's help text as of now (the method flags read the method registry)."""
    fn = f.metadata.get("help_fn")
    return fn() if fn else f.metadata["help"]


def _adapter_words() -> str:
    return _registry.words(_registry.names_on("rank") + _registry.names_on("single"))


@dataclass(frozen=True)
class AutoSearch:
    """``--dims auto``: search for d90 (search.py) instead of training a grid.  Stored as the word "auto"."""

    start: int = AUTO_START  # the ladder's first d
    factor: int = AUTO_FACTOR  # the ladder's step
    tol: float = AUTO_TOL  # bisect until the bracket is within this factor

    def __str__(self) -> str:
        return "auto"


def is_auto(dims) -> bool:
    """A run's dims (typed, or as stored: the word "auto") ask for the automatic search."""
    return isinstance(dims, AutoSearch) or (isinstance(dims, str) and dims.strip().lower() == "auto")


# Training accuracy (for the generalisation gap) is read on a fixed subset of this many training examples (the
# split's first: its order is a seeded shuffle) unless a run asks for every fact the claims use (--claims-facts):
# then on the whole training split, and a subspace trial also quantises z (test split, and this many training
# examples at 4 and 8 bits for the bound).
MAX_LEVEL = 10**9  # the largest rank or vector length a link or a flag may ask for (no model here is larger)
MIN_LR = 1e-8  # the smallest learning rate a flag or the form takes (smaller ones train nothing)
MAX_LR = 1e30  # a larger rate overflows float32 in the first step (1e308 is a typo); below it a run starts and a
# diverging trial is marked as such (tests force one with 1e30)
# (TRAIN_ACCURACY_N and QUANTISED_TRAIN_N live in names.py, imported above: train.py reads them from there)


@dataclass(frozen=True)
class RunConfig:
    """Every setting of a run, typed, frozen and validated where it is made (``make_config``).  The form and the
    CLI make it, the store keeps ``cfg.to_dict()``, the runner rebuilds it (``RunConfig.from_stored``) and hands it
    to the executor, the trials and the methods.  The fields give the defaults, the `idim run` flags, the form's
    defaults and ranges; an executor's own settings (its module's OPTIONS) are in ``executor_options``.

    Defaults chosen on the validation split (bench/tune_defaults.py; docs/explanation/defaults.md)."""

    model: str = _f("minilm-l6", "catalogue name (`idim models`), hub id or local directory")
    task: str = _f("trec6", "a bundled task (`idim tasks`), glue/sst2 ..., csv:PATH or parquet:PATH")
    method: str = _f("said", _registry.method_help)
    projection: str = _f("fastfood", "fastfood, sparse or dense")
    dims: list = _f([10, 100, 300, 1000, 3000, 10000], "comma-separated d values, or 'auto' for a d90 search",
                    type=str)
    ranks: list | None = _f(None, _registry.ranks_help, type=str)
    lora_targets: str = _f("query-value", lambda: f"{_registry.words(_registry.names_on('rank'))}: the attention's "
                                                  "query and value projections (peft's default), or every linear "
                                                  "layer but the head", choices=LORA_TARGETS)
    lora_layers: int | None = _f(None, lambda: f"{_registry.words(_registry.names_on('rank'))}: adapt only the last "
                                              "K transformer layers (default: all), for sizes below rank 1 on "
                                              "every layer", type=int, lo=1, hi=1000)
    lr_head: float | None = _f(None, lambda: f"Adam learning rate of the classifier head in {_adapter_words()} but "
                                             "head-only (default: head-only's own rate, chosen on validation for "
                                             "the head alone)", type=float,
                              lo=MIN_LR, hi=MAX_LR)
    lr_adapter: float | None = _f(None, lambda: f"Adam learning rate of {_adapter_words()} (default: the method's "
                                                "own, see `idim methods`)", type=float, lo=MIN_LR,
                                 hi=MAX_LR)
    fresh_baseline: bool = _f(False, "train the full fine-tuning baseline even when a finished run in the store "
                                     "has one for the same model, task, budget and seeds", type=bool)
    seeds: int = _f(1, "seeds per d (and for the baseline)", type=int, lo=1, hi=100)
    epochs: float = _f(2.0, "training epochs per trial", type=float, lo=0.01, hi=1000.0)
    max_steps: int | None = _f(None, "cap on optimiser steps per trial", type=int, lo=1, hi=MAX_LEVEL)
    batch_size: int = _f(32, "examples per optimiser step", type=int, lo=1, hi=65536)
    # the best mean over 3 seeds on validation (3e-5: 0.708, 1e-4: 0.767, 3e-4: 0.762; bench/tune_defaults.py)
    lr_full: float = _f(1e-4, "learning rate of full fine-tuning", type=float, lo=MIN_LR, hi=MAX_LR)
    # z's rate at d = 1,000; at d it is lr * sqrt(1000 / d) (chosen on validation: bench/tune_defaults.py)
    lr_subspace: float = _f(0.15, "Adam learning rate of z at d = 1,000; see --lr-scaling", type=float, lo=MIN_LR,
                               hi=MAX_LR)
    lr_scaling: str = _f("sqrt", "sqrt: z's rate is lr_subspace * sqrt(1000 / d), the same step in parameter space "
                                 "at every d; none: the same rate at every d", choices=LR_SCALINGS)
    said_groups: str = _f("block", "SAID's learned scales: block (one per transformer block, embeddings and head) or "
                                   "tensor (one per parameter tensor, as in the authors' released code); both count "
                                   "in d", choices=SAID_GROUPS)
    lr_search: bool = _f(False, "subspace trials: train at 1/3, 1 and 3 times z's rate and keep the best on the "
                                "validation split (three times the time)", type=bool)
    baseline_lr_search: bool = _f(True, "full fine-tuning: train at 1/3, 1 and 3 times --lr-full and keep the "
                                        "best on the validation split, per seed (on by default, as every record "
                                        "does: the baseline sets the threshold, so a weak one lowers d90; a search "
                                        "already made in the store for the same model, task and budget is reused; "
                                        "--no-baseline-lr-search keeps --lr-full)", type=bool)
    lr_search_beyond: int = _f(2, "--lr-search and --baseline-lr-search: when the best rate on validation is the "
                                  "smallest or the largest tried, go on a factor 3 past it, up to this many more "
                                  "rates (0: 1/3, 1 and 3 times only), so a seed's choice is not an end of the "
                                  "range unless the limit is reached", type=int, lo=0, hi=5)
    probe_fixed_rate: bool = _f(False, "the linear probe trains at the head's rate alone (head-only's 3e-3); by "
                                       "default it trains at 1/3, 1 and 3 times that rate per seed (and past an "
                                       "end, see --lr-search-beyond) and keeps the best on validation, so the "
                                       "frozen features are not understated on a task whose head wants another "
                                       "rate", type=bool)
    no_probe: bool = _f(False, "language-model DID/SAID runs: skip the linear probe (the head alone on the frozen "
                               "features, one trial per seed), the reference a pretrained model already reaches",
                        type=bool)
    refine: int = _f(3, "after a grid of d: up to this many extra values of d (each with every seed), bisecting "
                        "in log d the bracket where the validation mean crosses the threshold until it is within "
                        "1.4x (0: off)", type=int, lo=0, hi=20, note="0: off")
    claims_facts: bool = _f(False, "every trial also measures what Learn's claims and the bound at 4 and 8 bits use: "
                                   "training accuracy on every training example (by default on a fixed 512, its "
                                   "standard error stated) and, for subspace trials, accuracy with z quantised to "
                                   "2, 4 and 8 bits (about 10 s more per language-model trial)", type=bool)
    max_train: int | None = _f(1024, "training examples", type=int, lo=8, hi=MAX_LEVEL)
    max_eval: int | None = _f(256, "validation and test examples each", type=int, lo=8, hi=MAX_LEVEL)
    max_length: int = _f(64, "tokens per example", type=int, lo=8, hi=MAX_LEVEL)
    split_seed: int = _f(0, "seed of the train / validation / test split", type=int, lo=0, hi=2**31 - 1)
    init_seed: int = _f(0, "", cli=False)
    device: str | None = _f(None, "cuda, mps or cpu (default: the best available)")
    executor: str = _f(_executors.DEFAULT, lambda: "where trials train: " + _executors.executor_help(),
                       choices=_executors.NAMES)
    threads: int | None = _f(None, "CPU threads for torch (default: automatic, one per core (the MLP: one), giving "
                                     "all but one back while another program needs a core; a fixed N repeats to the "
                                     "last digit)", type=int, lo=0, hi=1024,
                                 note="0: automatic")
    max_d: int = _f(100_000, "", cli=False)
    text_column: str = _f("text", "CSV tasks: text column")
    text_pair_column: str | None = _f(None, "CSV tasks: optional second text column")
    label_column: str = _f("label", "CSV tasks: label column")
    shuffle_labels: bool = _f(False, "classic image tasks: random training labels, accuracy measured on them "
                                     "(memorisation)", type=bool)
    shuffle_pixels: bool = _f(False, "classic image tasks: one fixed random permutation of pixel positions",
                              type=bool)
    pretrain: str | None = _f(None, "classic nets: pre-train on this source first, then a new output layer for "
                                    "--task: an image task (mnist5k:0-4, mnist5k@a), TASK:shuffled (the control: "
                                    "labels permuted), TASK:denoise or TASK:rotation (self-supervised); each seed "
                                    "pre-trains its own net; see idim_core/pretrain.py")
    pretrain_epochs: int = _f(0, "classic nets: epochs of pre-training on --pretrain (0: from scratch); the state "
                                 "is made once and cached under the store's directory", type=int, lo=0, hi=1000,
                                 note="0: from scratch")
    width: int | None = _f(None, "mlp: the hidden layers' width (default 200, Li et al.'s)", type=int, lo=1, hi=4096)
    series: dict | None = _f(None, "", cli=False)  # a run of a series (`idim series`): its id, axis and values

    # each registered executor's own settings (its OPTIONS: --processes, --ray-address ...), by name; stored flat
    executor_options: dict = _f({}, "", cli=False)

    def to_dict(self) -> dict:
        """The stored form, the JSON a run keeps in the store: ``dims`` as the word "auto", executor options flat."""
        out = {f.name: getattr(self, f.name) for f in fields(self) if f.name != "executor_options"}
        out["dims"] = "auto" if self.auto else list(self.dims)
        out.update({name: self.executor_options.get(name) for name in _executors.option_names()})
        return out

    def option(self, name: str):
        """An executor option's value (None: not given)."""
        return self.executor_options.get(name)

    @property
    def auto(self) -> bool:
        return isinstance(self.dims, AutoSearch)

    @property
    def grid(self) -> list[int]:
        """The levels to train (d, ranks, or [0] for a one-point method); empty for the automatic search."""
        return [] if self.auto else list(self.dims)

    @property
    def seed_list(self) -> list[int]:
        return list(range(int(self.seeds)))

    @property
    def classic(self) -> bool:
        from .classic import is_classic_model

        return is_classic_model(self.model)

    def but(self, **changes) -> RunConfig:
        """A copy with some fields changed (a bench's rate, a check's single level; an executor's option by its
        name); not re-validated."""
        opts = {k: changes.pop(k) for k in list(changes) if k in _executors.option_names()}
        if opts:
            changes["executor_options"] = {**self.executor_options, **opts}
        return replace(self, **changes)

    @classmethod
    def from_stored(cls, stored: dict) -> RunConfig:
        """The typed config of a stored run.  Keys a RunConfig does not have (``recorded`` and other marks) are
        left out; a key an older run lacks takes its family's default."""
        from .classic import is_classic_model, is_image_task

        classic = is_classic_model(stored.get("model")) or is_image_task(stored.get("task"))
        base = dict(CLASSIC_DEFAULTS if classic else DEFAULTS)
        base.update(stored)
        opts = {name: base.pop(name, None) for name in _executors.option_names()}
        own = {k: v for k, v in base.items() if k in _FIELD_NAMES}
        own["dims"] = AutoSearch() if is_auto(own["dims"]) else list(own["dims"])
        own["executor_options"] = {k: v for k, v in opts.items() if v is not None}
        return cls(**own)


_FIELD_NAMES = frozenset(f.name for f in fields(RunConfig))
DEFAULTS = RunConfig().to_dict()
# The classic experiment (Li et al. 2018): a small net trained from scratch on digits.
# Chosen by experiment on this project's 2-core CPU (docs/explanation/defaults.md); how long it takes on a
# machine is said by estimates.classic_length, from that machine's calibration.
CLASSIC_DEFAULTS = dict(
    DEFAULTS, model="mlp", task="mnist5k", method="did", projection="fastfood",
    dims=[10, 30, 100, 200, 300, 500, 750, 1000, 1500, 3000], epochs=10.0, batch_size=64,
    # full training's rate: the best validation mean over 3 seeds for both nets on mnist5k (mlp 0.945, lenet 0.971,
    # against 0.943 and 0.967 at 3e-3; docs/explanation/defaults.md)
    lr_full=1e-2, lr_subspace=0.1, max_train=None, max_eval=None,
    seeds=3,  # classic trials take seconds: 3 seeds let the interval include the random subspace's own spread
)


# Named starting points for a run (`idim run --preset NAME`, `idim bench sweep --preset NAME`, Explore's buttons):
# the settings a flag does not give.  quick-lm: a language-model sweep for the first minutes of a demo, chosen so
# that on a quiet 2-core CPU the whole sweep (baseline with its rate search, probe and all) ends within about two
# minutes with its d90 found and its probe below the threshold (bench/RESULTS.md, "A two-minute language-model
# preset"; recorded with 3 seeds in assets/recorded/minilm-l6-trec6-quick.json).
PRESETS: dict[str, dict] = {
    "quick-lm": dict(model="minilm-l6", task="trec6", method="said", projection="fastfood", dims=[1000, 30000],
                     refine=1, seeds=1, max_train=256, epochs=3.0, max_length=32),
}


def preset(name: str | None) -> dict:
    """The settings of preset ``name`` ({} for none); one line naming the presets for an unknown one."""
    if not name:
        return {}
    if name not in PRESETS:
        raise UserError(f"unknown preset {name!r}; use one of {', '.join(PRESETS)}")
    return dict(PRESETS[name])


def check_dims_fit(dims, D: int | None) -> None:
    """No d may exceed the model's D (the one place this rule is written)."""
    if D and not is_auto(dims):
        big = [d for d in dims if d > D]
        if big:
            raise UserError(f"d={big[0]:,} is larger than the model's D={D:,} parameters")


# What full fine-tuning depends on: two runs that agree on these (and on the device) share a baseline.
BASELINE_KEYS = ("model", "task", "epochs", "max_steps", "batch_size", "lr_full", "max_train", "max_eval",
                 "max_length", "split_seed", "init_seed", "text_column", "text_pair_column", "label_column",
                 "shuffle_labels", "shuffle_pixels", "baseline_lr_search")


def wants_probe(cfg: RunConfig) -> bool:
    """Language-model DID/SAID runs, and classic-net ones of a series, train a linear probe per seed beside the
    baseline (--no-probe skips it)."""
    from . import methods
    from .classic import is_classic_model

    if methods.axis(cfg.method) != "d" or cfg.no_probe:
        return False
    # the classic nets: inside a series, where the probe is the readout control of each amount of pre-training
    return not is_classic_model(cfg.model) or bool(cfg.series)


REFINE_GUESS = 2  # values of d the refinement usually adds to a grid (it stops once the bracket is within 1.4x)


def planned_levels(cfg: RunConfig, auto_guess: int) -> int:
    """Values of d (or ranks) a run will train: its grid plus what the refinement usually adds, or a guess
    for the automatic search."""
    if cfg.auto:
        return auto_guess
    from . import methods

    axis = methods.axis(cfg.method)
    grid = len(cfg.ranks or cfg.dims) if axis == "rank" else 1 if axis == "single" else len(cfg.dims)
    extra = min(int(cfg.refine or 0), REFINE_GUESS) if axis == "d" and len(cfg.dims) > 1 else 0
    return grid + extra


def baseline_key(cfg: RunConfig | dict) -> tuple:
    """What a run's baseline depends on, read from its stored form (a RunConfig's ``to_dict()``, or a stored run's
    config as it is): a run stored before a setting existed lacks its key and so keeps a key of its own."""
    stored = cfg.to_dict() if isinstance(cfg, RunConfig) else cfg
    key = tuple(str(stored.get(k)) for k in BASELINE_KEYS)
    # the starting state: a pre-trained one, or another width (runs from scratch at 200 keep their old key)
    # (pre-trained per seed, each source at its own searched rate, since issue 49: "v3")
    pre = (stored.get("pretrain"), int(stored.get("pretrain_epochs") or 0), "v3") if stored.get("pretrain_epochs") \
        else ()
    # --claims-facts: the baseline's training accuracy on every training example, not on the fixed subset
    claims = ("claims-facts",) if stored.get("claims_facts") else ()
    # --baseline-lr-search goes on past an end of its range (runs from before that option searched 1/3, 1, 3 only)
    beyond = (("beyond", int(stored.get("lr_search_beyond") or 0)),) if stored.get("baseline_lr_search") else ()
    width = stored.get("width")
    return key + pre + ((int(width),) if width not in (None, 200) else ()) + claims + beyond


def probe_key(cfg: RunConfig | dict) -> tuple:
    """What a linear probe depends on beyond the baseline's key: whether it searched its rate (runs from before
    --probe-fixed-rate lack the key: their probe trained at the head's rate alone, unless --lr-search) and how
    far past an end."""
    stored = cfg.to_dict() if isinstance(cfg, RunConfig) else cfg
    searched = bool(stored.get("lr_search")) or ("probe_fixed_rate" in stored and not stored["probe_fixed_rate"])
    return ("searched", int(stored.get("lr_search_beyond") or 0)) if searched else ("fixed",)


def bundled(cfg: RunConfig) -> bool:
    """Model and task both ship with idim: files that cannot change between runs."""
    from . import models, tasks

    try:
        return models.resolve(cfg.model).source == "bundled" and tasks.fixed(cfg.task)
    except UserError:
        return False


def shareable(cfg: RunConfig) -> bool:
    """Only models and tasks that cannot change between runs (bundled ones, the classic nets) share a baseline."""
    from .classic import is_classic_model

    return is_classic_model(cfg.model) or bundled(cfg)


def shared_baseline(store, cfg: RunConfig, device: str, seeds, exclude: str | None = None):
    """(run, {seed: baseline trial}) of the newest finished run whose baseline this run would reuse: same
    model, task, budget and device, every seed wanted; None if there is none (or ``--fresh-baseline``)."""
    if cfg.fresh_baseline or not shareable(cfg):
        return None
    key = baseline_key(cfg)
    for run in store.list_runs():
        rc = run["config"]
        if (run["id"] == exclude or run["status"] != "done" or rc.get("recorded")
                or run.get("device") != device or baseline_key(rc) != key):
            continue
        rows = {t["seed"]: t for t in store.trials(run["id"]) if t["kind"] == "baseline" and t["status"] == "done"}
        if all(s in rows for s in seeds):
            return run, rows
    return None


@dataclass(frozen=True)
class Flag:
    """An `idim run` flag that is not a RunConfig field of its own: a registered executor's option."""

    name: str
    default: object
    metadata: dict


def cli_fields() -> list:
    """The `idim run` flags with their metadata: RunConfig's fields, each executor's options after ``executor``."""
    out = []
    for f in fields(RunConfig):
        if f.metadata.get("cli"):
            out.append(f)
        if f.name == "executor":
            out += [Flag(name, default, {"choices": None, "cli": True, "help_fn": None, "lo": None, "hi": None,
                                         "note": "", **meta}) for name, _typ, default, meta in _executors.options()]
    return out


def bounds(name: str) -> tuple:
    """(lo, hi) of a numeric setting, as make_config checks it (Explore's inputs read it here)."""
    meta = RunConfig.__dataclass_fields__[name].metadata
    return meta["lo"], meta["hi"]


# ---------------------------------------------------------------------------
# configuration
# ---------------------------------------------------------------------------
# A number as people type it in ASCII: 10, 1e3, 1000.0 (float() and int() also take Arabic-Indic and other
# Unicode digits, and 1_000; a list of d values is refused with those)
_NUMBER = re.compile(r"[+-]?(?:[0-9]+(?:\.[0-9]*)?|\.[0-9]+)(?:[eE][+-]?[0-9]+)?")


def _ascii_number(t: str, flag: str, example: str) -> float:
    if not _NUMBER.fullmatch(t):
        raise UserError(f"{flag} entry {t!r} is not a number written with the digits 0-9; give whole numbers "
                        f"such as {example}")
    return float(t)


def parse_dims(text) -> list[int] | str:
    """'10,100,1e3' -> [10, 100, 1000]; 'auto' -> 'auto'. Raises UserError."""
    if isinstance(text, (list, tuple)):
        items = [str(x) for x in text]
    else:
        text = str(text).strip()
        if text.lower() == "auto":
            return "auto"
        items = [t.strip() for t in text.replace(";", ",").split(",")]
    if not items or all(not t for t in items):
        raise UserError("--dims is empty; give a list such as 10,100,1000 or 'auto'")
    out = []
    for t in items:
        if not t:
            raise UserError(f"--dims has an empty entry in {text!r}; separate numbers with single commas")
        v = _ascii_number(t, "--dims", "10,100,1000")
        if not math.isfinite(v) or v != int(v):
            raise UserError(f"--dims entry {t!r} is not a whole number")
        v = int(v)
        if v <= 0:
            raise UserError(f"--dims entry {t!r} must be at least 1")
        if v not in out:
            out.append(v)
    return sorted(out)


def parse_ranks(text) -> list[int]:
    """'1,2,4' -> [1, 2, 4] (LoRA / VeRA ranks: positive whole numbers). Raises UserError."""
    items = [str(x) for x in text] if isinstance(text, (list, tuple)) else \
        [t.strip() for t in str(text).replace(";", ",").split(",")]
    if not items or all(not t for t in items):
        raise UserError("--ranks is empty; give a list such as 1,2,4,8")
    out = []
    for t in items:
        if not t:
            raise UserError("--ranks has an empty entry; separate numbers with single commas")
        v = _ascii_number(t, "--ranks", "1,2,4,8")
        if not math.isfinite(v) or v != int(v) or v < 1:
            raise UserError(f"--ranks entry {t!r} is not a positive whole number")
        if v > MAX_LEVEL:
            raise UserError(f"--ranks entry {t} is larger than any model here ({MAX_LEVEL:,} at most)")
        if int(v) not in out:
            out.append(int(v))
    return sorted(out)


def cfg_default_dims(classic: bool) -> list[int]:
    return list((CLASSIC_DEFAULTS if classic else DEFAULTS)["dims"])


def make_config(**overrides) -> RunConfig:
    """A full, validated run configuration (no weights loaded)."""
    from . import methods as _methods
    from .classic import is_classic_model, is_image_task
    from .names import projection_too_big

    given = _given(overrides)
    classic = is_classic_model(given.get("model")) or is_image_task(given.get("task"))
    values = dict(CLASSIC_DEFAULTS if classic else DEFAULTS, **given)  # the stored form, being made
    unknown = [k for k in values if k not in _FIELD_NAMES and k not in _executors.option_names()]
    if unknown:
        raise UserError(f"unknown setting {unknown[0]!r}; see `idim run --help`")
    for f in fields(RunConfig):
        if f.metadata["type"] is bool:
            values[f.name] = bool(values[f.name])
    _registry.get(values["method"])  # unknown: one line naming the registered methods
    if values["projection"] not in PROJECTIONS:
        raise UserError(f"unknown projection {values['projection']!r}; choose one of {', '.join(PROJECTIONS)}")
    axis = _methods.axis(values["method"])
    values["ranks"], values["dims"] = _levels(values, given, axis, classic)
    _check_ranges(values)
    if values["threads"] == 0:
        values["threads"] = None  # 0: automatic
    cfg = RunConfig.from_stored(values)
    _check_family(cfg, classic)
    cfg = _check_pretrain(cfg, classic)
    cfg = cfg.but(device=check_device_name(cfg.device))
    _check_applies(cfg, given, classic, axis)
    _executors.check(cfg, given)  # a known executor, only its own options, and its own checks
    cfg, D = _model_size(cfg, classic)
    _methods.check(cfg)  # the method's own checks (ranks wider than the bundled model's layers, SAID's scales)
    if axis == "rank" and D and max(cfg.ranks or [0]) > D:
        raise UserError(f"--ranks {max(cfg.ranks):,} is more than the model's D = {D:,} parameters; no method here "
                        "trains more numbers than the model has")
    if cfg.auto or axis != "d":
        return cfg
    check_dims_fit(cfg.dims, D)
    if D:
        for d in cfg.dims:
            msg = projection_too_big(cfg.projection, d, D)
            if msg:
                raise UserError(msg)
    return cfg


def _given(overrides: dict) -> dict:
    """The settings given (None: not given), their text checked: length, NUL, empty column names."""
    given = {k: v for k, v in overrides.items() if v is not None}
    for key, v in given.items():
        if isinstance(v, str) and len(v) > MAX_TEXT:
            raise UserError(f"--{key.replace('_', '-')} is {len(v):,} characters long; the limit is {MAX_TEXT:,}")
        if isinstance(v, str) and "\x00" in v:
            raise UserError(f"--{key.replace('_', '-')} contains a NUL character")
    for key in ("text_column", "label_column", "text_pair_column"):
        if key in given and not str(given[key]).strip():
            if key == "text_pair_column":
                given.pop(key)  # an empty second text column: none
            else:
                raise UserError(f"--{key.replace('_', '-')} is empty; give the name of a column of your CSV file")
    return given


def _levels(values: dict, given: dict, axis: str, classic: bool) -> tuple:
    """(ranks, dims): a rank method's ranks (also its levels), [0] for a one-point method, else the values of d;
    levels of the other kind refused."""
    from . import methods as _methods

    method = values["method"]
    if axis != "rank" and given.get("ranks") is not None:
        raise UserError(f"--ranks is for {_methods.words(_methods.names_on('rank'))}; {method} takes "
                        + ("--dims" if axis == "d" else "no levels (one point)"))
    if axis != "d" and "dims" in given and parse_dims(given["dims"]) != cfg_default_dims(classic):
        raise UserError(f"--dims is for {_methods.words(_methods.names_on('d'))}; {method} takes "
                        + ("--ranks" if axis == "rank" else "no levels (one point)"))
    if axis == "rank":
        ranks = parse_ranks(values["ranks"] if values["ranks"] is not None else _methods.default_levels(method))
        return ranks, list(ranks)  # the run's levels: one trial per rank and seed
    if axis == "single":
        return None, [0]  # one level: the method has no size to vary
    return None, parse_dims(values["dims"])


def range_words(meta) -> str:
    """A field's range in words (its flag's help and its refusal say it)."""
    lo, hi, note = meta["lo"], meta["hi"], f" ({meta['note']})" if meta["note"] else ""
    if meta["type"] is not int:
        return f"a positive number from {lo:g} to {hi:g}"
    return f"a whole number of at least {lo:,}" if hi >= MAX_LEVEL else f"a whole number from {lo:,} to {hi:,}{note}"


def _check_ranges(values: dict) -> None:
    """Each setting among its field's choices and each number in its field's range (the metadata's: one place)."""
    for f in fields(RunConfig):
        meta, v, flag = f.metadata, values.get(f.name), "--" + f.name.replace("_", "-")
        # (the executor's registry names its executors itself: executors.check)
        if meta["choices"] and f.name != "executor" and v not in meta["choices"]:
            raise UserError(f"unknown {flag} {v!r}; choose {', '.join(meta['choices'][:-1])} or {meta['choices'][-1]}")
        if v is None or meta["lo"] is None:
            continue
        kinds = int if meta["type"] is int else (int, float)
        if isinstance(v, bool) or not isinstance(v, kinds) or not math.isfinite(v) or not meta["lo"] <= v <= meta["hi"]:
            raise UserError(f"{flag} must be {range_words(meta)}, got {v!r}")


def _check_family(cfg: RunConfig, classic: bool) -> None:
    """The classic nets take image tasks and only they do; shuffling is for image tasks."""
    from .classic import is_classic_model, is_image_task

    if classic:
        if not is_classic_model(cfg.model):
            raise UserError(f"task {cfg.task} holds images: use model mlp or lenet (trained from scratch), "
                            f"not {cfg.model}")
        if not is_image_task(cfg.task):
            raise UserError(f"model {cfg.model} takes images: use task digits or mnist5k, not {cfg.task}")
    elif cfg.shuffle_labels or cfg.shuffle_pixels:
        raise UserError("shuffled labels and shuffled pixels are for the classic image tasks (digits, mnist5k)")


def _model_size(cfg: RunConfig, classic: bool) -> tuple:
    """(cfg with the model and task names resolved, D: the model's parameter count)."""
    from . import models, tasks
    from .classic import num_params, side_of

    if classic:
        from .classic import parse_image_task

        return cfg, num_params(cfg.model, side_of(cfg.task), parse_image_task(cfg.task).num_labels, cfg.width)
    try:
        mspec = models.resolve(cfg.model)
    except OSError:  # a path the system cannot even look up (a part over 255 characters, a loop)
        raise UserError(f"model directory {cfg.model[:80]}... cannot be read; check the path") from None
    cfg = cfg.but(model=mspec.name, task=tasks.resolve(cfg.task).name)
    if mspec.source == "bundled" and cfg.max_length > BUNDLED_POSITIONS:
        raise UserError(f"--max-length {cfg.max_length:,} is more than {cfg.model} reads "
                        f"({BUNDLED_POSITIONS} tokens); give at most {BUNDLED_POSITIONS}")
    return cfg, mspec.params


def _check_pretrain(cfg: RunConfig, classic: bool) -> RunConfig:
    """--pretrain, --pretrain-epochs and --width: a known source that fits the target (the source's text made
    canonical)."""
    if cfg.width is not None and cfg.model != "mlp":
        raise UserError(f"--width is the mlp's hidden width; {cfg.model} has none")
    if cfg.pretrain is None and not cfg.pretrain_epochs:
        return cfg
    if not classic:
        raise UserError("--pretrain is for the classic nets mlp and lenet on image tasks (the language models are "
                        "pre-trained already)")
    if cfg.pretrain is None:
        raise UserError("--pretrain-epochs needs --pretrain, the source to pre-train on (such as mnist5k:0-4)")
    from .pretrain import check_pairing

    cfg = cfg.but(pretrain=check_pairing(cfg.pretrain, cfg.task).text)
    if cfg.shuffle_labels or cfg.shuffle_pixels:
        raise UserError("--pretrain does not go with --shuffle-labels or --shuffle-pixels (the source would not "
                        "see the target's inputs); use a :shuffled source as the control")
    return cfg


MAX_TEXT = 1024  # characters of any text setting (a model name, a CSV path, a column name)
BUNDLED_POSITIONS = 512  # the bundled MiniLM's position embeddings: the longest input it reads
DEVICES = ("cpu", "cuda", "mps")
_DEVICE = re.compile(r"(cpu|mps|cuda(?::[0-9]{1,2})?)")


def check_device_name(device) -> str | None:
    """None or 'auto' (the best available), cpu, cuda, cuda:N or mps; anything else refused (torch-free)."""
    if device is None or device == "auto":
        return None
    if not isinstance(device, str) or not _DEVICE.fullmatch(device.strip().lower()):
        raise UserError(f"unknown --device {device!r}; choose cuda, cuda:N, mps or cpu (or leave it out: the best "
                        "available)")
    return device.strip().lower()


def check_device(device: str | None) -> None:
    """The device asked for is on this machine (imports torch only when a GPU is asked for)."""
    if not device or device == "cpu":
        return
    import torch

    if device.startswith("cuda"):
        n = torch.cuda.device_count() if torch.cuda.is_available() else 0
        if not n:
            raise UserError(f"--device {device} was asked for, but this machine has no CUDA GPU (or this torch build "
                            "has no CUDA); leave --device out to use the best available")
        idx = int(device.split(":", 1)[1]) if ":" in device else 0
        if idx >= n:
            raise UserError(f"--device {device} was asked for, but this machine has {n} CUDA GPU"
                            f"{'s' if n != 1 else ''} (cuda:0{f' to cuda:{n - 1}' if n > 1 else ''})")
    elif device == "mps" and not (getattr(torch.backends, "mps", None) and torch.backends.mps.is_available()):
        raise UserError("--device mps was asked for, but MPS (Apple silicon) is not available on this machine; "
                        "leave --device out to use the best available")


def _check_applies(cfg: RunConfig, given: dict, classic: bool, axis: str) -> None:
    """A setting the run would ignore is refused, not dropped without a word."""
    method = cfg.method
    fam = CLASSIC_DEFAULTS if classic else DEFAULTS

    def refuse(key, what):
        raise UserError(f"--{key.replace('_', '-')} is for {what}; this run uses {method} on {cfg.task}")

    for key in ("lora_targets", "lora_layers"):
        if axis != "rank" and given.get(key) is not None:
            refuse(key, _registry.words(_registry.names_on("rank")))
    if not _registry.has_own_head_rate(method) and given.get("lr_head") is not None:
        refuse("lr_head", _registry.words([n for n in _registry.REGISTRY if _registry.has_own_head_rate(n)]))
    if axis == "d" and given.get("lr_adapter") is not None:
        refuse("lr_adapter", _adapter_words() + f" ({_registry.words(_registry.names_on('d'))} take --lr-subspace)")
    for key in ("said_groups",):  # a method's own settings (its FIELDS)
        owners = [n for n in _registry.REGISTRY if key in _registry.get(n).FIELDS]
        if method not in owners and key in given and given[key] != fam[key]:
            refuse(key, _registry.words(owners))
    if axis != "d":
        for key in ("projection", "lr_subspace", "lr_scaling"):
            if key in given and given[key] != fam[key]:
                refuse(key, f"{_registry.words(_registry.names_on('d'))} (the random subspace)")
    from . import sources

    if sources.file_source(cfg.task) is None:  # the columns are a file-backed task's (csv:PATH ...)
        for key in ("text_column", "text_pair_column", "label_column"):
            if given.get(key) is not None:
                refuse(key, sources.file_words())
    if classic and given.get("max_length") is not None:
        refuse("max_length", "text models (mlp and lenet read images)")


MIN_STEPS = 50  # fewer optimiser steps per trial than this rarely move a model off its starting point
MIN_PER_CLASS = 10  # fewer training examples per class than this: the test accuracy is mostly noise


def budget_warnings(cfg: RunConfig) -> list[str]:
    """Sentences that warn, before a run starts, that its budget is too small to learn (not refusals).

    ``cfg`` is what ``make_config`` returns (the CLI's and the form's run).  Torch-free: it reads the
    task catalogue (a CSV task's file once) for the training examples and classes."""
    from . import tasks

    out = []
    try:
        n, classes = tasks.train_size(cfg.task, cfg.max_train, cfg.text_column or "text", cfg.text_pair_column,
                                      cfg.label_column or "label")
    except (UserError, OSError, KeyError):
        return out  # the preflight says what is wrong with the task
    if n:
        steps = math.ceil(float(cfg.epochs) * n / int(cfg.batch_size))
        capped = bool(cfg.max_steps) and int(cfg.max_steps) < steps
        if capped:
            steps = int(cfg.max_steps)
        if steps < MIN_STEPS:
            why = (f"--max-steps {steps}" if capped else
                   f"{n:,} training examples x {float(cfg.epochs):g} epochs / batch {int(cfg.batch_size)}")
            out.append(f"each trial gets only {steps} optimiser step{'s' if steps != 1 else ''} ({why}); "
                       f"under {MIN_STEPS} the model rarely learns: raise --epochs or --max-train, or lower "
                       "--batch-size")
    if n and classes and n / classes < MIN_PER_CLASS:
        out.append(f"only about {n / classes:.0f} training example{'s' if round(n / classes) != 1 else ''} per "
                   f"class ({n:,} examples, {classes} classes); under {MIN_PER_CLASS} per class the accuracy is "
                   "mostly chance: raise --max-train or use a larger task")
    return out


def preflight(cfg: RunConfig) -> None:
    """Catch what can be caught before a run is stored: unreachable models, bad CSVs."""
    from . import models, tasks

    check_device(check_device_name(cfg.device))
    _executors.preflight(cfg)  # the executor's own: can it reach what it needs?
    spec = models.check_model(cfg.model)
    from . import methods

    methods.require(cfg.method)  # the libraries the method needs (e.g. peft)
    if spec.source == "classic":
        from .classic import build, require_fashion, side_of

        if cfg.task == "fashion-mnist" or str(cfg.pretrain or "").split("@")[0].split(":")[0] == \
                "fashion-mnist":
            require_fashion()
        check_net = methods.get(cfg.method).check_model
        if check_net is not None:  # the nets are tiny: build one to check the method's levels fit
            check_net(build(cfg.model, side_of(cfg.task), 10, 0), cfg)
        return  # make_config checked the pairing and D; the other images ship with idim
    layers = spec.layers
    if spec.source != "bundled":
        n = models.count_params(cfg.model)
        check_dims_fit(cfg.dims, n)
        layers = layers or config_int(spec.name, "num_hidden_layers")
        most = max_positions(spec.name)
        if most and cfg.max_length > most:
            raise UserError(f"--max-length {cfg.max_length:,} is more than {spec.name} reads ({most:,} tokens); "
                            f"give at most {most:,}")
    k = cfg.lora_layers
    if k is not None and layers and k > layers:
        raise UserError(f"--lora-layers {k:,} is more than {spec.name}'s {layers} transformer layers; give at most "
                        f"{layers} (or leave it out for every layer)")
    if not tasks.fixed(cfg.task):
        tasks.load_task(cfg.task, cfg.split_seed, cfg.max_train, cfg.max_eval, cfg.text_column, cfg.text_pair_column,
                        cfg.label_column)


def config_int(model: str, key: str) -> int | None:
    """A whole number from a hub or local model's config (such as its layers); None when it does not say."""
    try:
        from transformers import AutoConfig

        n = getattr(AutoConfig.from_pretrained(model, trust_remote_code=False), key, None)
    except Exception:  # noqa: BLE001 - check_model has already said what is wrong with the model
        return None
    return n if isinstance(n, int) and n > 0 else None


def max_positions(model: str) -> int | None:
    """The longest input (in tokens) a hub or local model reads, from its config; None when it does not say."""
    try:
        from transformers import AutoConfig

        c = AutoConfig.from_pretrained(model, trust_remote_code=False)
    except Exception:  # noqa: BLE001 - check_model has already said what is wrong with the model
        return None
    n = getattr(c, "max_position_embeddings", None)
    if not isinstance(n, int) or n <= 0:
        return None
    # RoBERTa-type models keep two positions for the padding offset
    return n - 2 if getattr(c, "model_type", "") in ("roberta", "xlm-roberta", "camembert") else n


def data_fingerprint(task: str | None) -> str | None:
    """A task read from a file the user can change (a file-backed source's, ``csv:PATH``): the SHA-256 of the file's
    bytes; None for every other task (bundled data, image tasks, the hub's fixed revisions), or when the file cannot
    be read."""
    import hashlib
    from pathlib import Path

    from . import sources

    path = sources.file_path(task)
    if path is None:
        return None
    h = hashlib.sha256()
    try:
        with open(Path(path).expanduser(), "rb") as f:
            for block in iter(lambda: f.read(1 << 20), b""):
                h.update(block)
    except OSError:
        return None
    return h.hexdigest()


def check_data_unchanged(run: dict) -> str | None:
    """Before a run's missing trials train: the fingerprint its first start stored must still match its file (a
    one-line UserError when the file changed or is gone); the fingerprint to store when it has none yet."""
    task, summ = run["config"].get("task"), run.get("summary") or {}
    now = data_fingerprint(task)
    old = summ.get("data_fingerprint")
    if old and now != old:
        from . import sources

        why = "is gone" if now is None else "changed"
        src = sources.file_source(task)
        kind, path = (src.KIND if src else "data"), sources.file_path(task)
        raise UserError(f"the {kind} file of run {run['id']} {why} since its first trials trained ({path}); "
                        "its finished trials were trained on the old file, so it cannot be resumed: start a new run "
                        "on the file as it is now")
    return None if old else now
