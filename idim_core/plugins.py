"""The three kinds of plugin module, as contracts you can read, and the one registry they share.

A method (``idim_core/methods/``), an executor (``idim_core/executors/``) and a task source
(``idim_core/sources/``) are each one module; the ``Protocol`` classes below say what such a module holds.
The packages' docstrings explain each attribute in the words of its package; docs/contributing.md says how
to add one.  Attributes marked *optional* get their default on the module when it is registered
(``Registry.register``), so callers read ``module.X`` directly and never probe with ``getattr``.

``Registry`` is the helper the three packages share: find a package's modules (``pkgutil``), register one
(its required attributes checked, its optional ones defaulted), keep the ``ORDER``, ``get(name)`` with the
package's own one-line ``UserError``, and ``unregister`` for tests.  Importing this module imports nothing
heavy (no torch, no datasets).
"""
from __future__ import annotations

import importlib
import pkgutil
from typing import Any, Callable, ClassVar, Iterable, Iterator, Protocol, runtime_checkable

from .errors import UserError


# ---------------------------------------------------------------------------
# the contracts
# ---------------------------------------------------------------------------
@runtime_checkable
class MethodModule(Protocol):
    """A training method (``idim_core/methods/``)."""

    NAME: str
    LABEL: str  # the form's line, `idim methods`
    SHORT: str | None  # optional (default: NAME): the charts' legend
    AXIS: str  # optional (default "d"): "d", "rank" or "single"
    ORDER: int  # optional (default 100): smaller first in lists
    REQUIRES: tuple[str, ...]  # optional (default ()): importable libraries it needs
    LR: float | None  # optional (default None): its default Adam rate (adapters)
    DEFAULT_LEVELS: list[int] | None  # rank axis: the levels a run trains unless --ranks is given
    LEVEL_NAME: str  # optional (default "r"): a rank-axis level's symbol
    LEVEL_WORD: str  # optional (default "rank"): a rank-axis level's word
    HEAD_ONLY: bool  # optional (default False): it trains the classifier head alone
    FIELDS: tuple[str, ...]  # optional (default ()): RunConfig fields that are its own settings
    LISTED: bool  # optional (default True): False keeps it out of the registry (full fine-tuning)
    check: Callable[[dict], None] | None  # optional: its own checks of a made configuration (UserError)
    check_model: Callable[..., None] | None  # optional: its checks against the loaded model

    def build(self, prep: Any, cfg: Any, d: int | None, seed: int, projection: str) -> Any:
        """The trainable parameters for a prepared model (a ``methods.base.Built``)."""

    def min_d(self, module: Any, cfg: Any) -> int:
        """The smallest level it can take on this model."""


@runtime_checkable
class Executor(Protocol):
    """An executor's class (what ``ExecutorModule.executor_class()`` returns): ``cls(prep, cfg, should_stop)``."""

    name: str
    slots: int  # trials trained at once
    lost_reason: str | None  # optional (default None): the reason TrialLost gives
    search_slots: int | None  # optional (default None: slots): d values the adaptive search probes at once
    hands_out_ahead: bool  # optional (default False): with slots, the first trials go out together
    address: str | None  # optional (default None): the cluster it joined, for the run's summary

    def submit(self, spec: Any, on_start: Callable[[], None], on_point: Callable[[dict], None]) -> None: ...

    def wait(self) -> Iterator[tuple[Any, Any]]: ...

    def cancel(self) -> None: ...

    def describe(self) -> str | None: ...

    def close(self) -> None:
        """Optional (default: nothing): end worker processes, leave a cluster; the runner calls it at the end."""


@runtime_checkable
class ExecutorModule(Protocol):
    """Where a run's trials train (``idim_core/executors/``); torch- and cluster-library-free at import."""

    NAME: str
    LABEL: str  # Explore's choice
    HELP: str  # one line for --executor
    ORDER: int  # the first by ORDER is the default
    SERVED: bool  # optional (default False): a visitor of the served app may choose it
    OPTIONS: tuple[tuple, ...]  # optional (default ()): (name, type, default, help, form label) per setting
    check: Callable[[dict, dict], None] | None  # optional: torch-free checks of a made run
    preflight: Callable[[Any], None] | None  # optional: can it reach what it needs, before the run is stored
    form: Callable[[Any, Callable], dict] | None  # optional: Explore's fields for its options
    live_facts: Callable[[dict, dict], dict | None] | None  # optional: what Live shows
    slots_for: Callable[[Any, str], int] | None  # optional: trials at once, known before the run

    def executor_class(self) -> type[Executor]: ...


@runtime_checkable
class TaskSourceModule(Protocol):
    """Where a task's data comes from (``idim_core/sources/``); torch- and datasets-free at import."""

    NAME: str  # the TaskSpecs' source
    LABEL: str  # optional (default NAME): one line about it
    ORDER: int  # optional (default 100): names are tried and tasks listed in this order
    TASKS: dict  # optional (default {}): its named tasks, {name: TaskSpec}
    HINT: str | None  # optional (default None): a pattern of names it takes ("csv:PATH")
    FIXED: bool  # optional (default False): its tasks ship with idim and cannot change between runs
    PREFIX: str | None  # optional (default None): file-backed: its tasks are PREFIX + the path of a file
    EXTENSIONS: tuple[str, ...]  # optional (default ()): file-backed: the file types it reads (".csv")
    KIND: str  # optional (default NAME): how messages name its files ("CSV": "the CSV file of run ...")
    train_size: Callable[..., tuple] | None  # optional (default None: the spec's size and num_labels)
    stats: Callable[..., dict] | None  # optional (default None: the task is loaded and its tokens counted)
    stamp: Callable[[Any], Any] | None  # optional (default None): changes when the task's data does
    preview: Callable[..., tuple] | None  # optional (file-backed): (columns, first rows) of a file

    def resolve(self, name: str) -> Any:
        """Optional (default ``TASKS.get(name)``): the TaskSpec of a name it takes, None for one it does not."""

    def listed(self) -> list:
        """Optional (default ``TASKS``' values): what `idim tasks` and Explore list."""

    def load(self, spec: Any, split_seed: int = 0, max_train: int | None = None, max_eval: int | None = None,
             text_column: str = "text", text_pair_column: str | None = None, label_column: str = "label") -> Any:
        """Seeded, stratified train / validation / test splits (a ``TaskData``)."""


# ---------------------------------------------------------------------------
# the registry
# ---------------------------------------------------------------------------
class Registry:
    """The modules of one plugin package, by NAME, in ORDER.

    ``what``: how messages name a module ("method", "task source", "executor"); ``required``: the attributes
    a module must have; ``defaults``: optional attribute -> default, set on a module that lacks it (a callable
    in ``derived`` makes a module's own default from the module); ``validate(module)``: further checks
    (TypeError), on the module with its defaults (``precheck(module)``: on the module as it came, before
    them); ``unknown(name, registry)``: the one-line message of ``get`` for a name not registered;
    ``on_change(registry)``: called after every register / unregister (a package's derived tables)."""

    def __init__(self, what: str, required: Iterable[str], defaults: dict | None = None,
                 derived: dict[str, Callable[[Any], Any]] | None = None,
                 validate: Callable[[Any], None] | None = None,
                 precheck: Callable[[Any], None] | None = None,
                 unknown: Callable[[str, dict], str] | None = None,
                 on_change: Callable[[dict], None] | None = None):
        self.what = what
        self.required = tuple(required)
        self.defaults = dict(defaults or {})
        self.derived = dict(derived or {})
        self.validate = validate
        self.precheck = precheck
        self.unknown = unknown or (lambda name, reg: f"unknown {what} {name!r}; choose one of {', '.join(reg)}")
        self.on_change = on_change
        self.modules: dict = {}  # NAME -> module, in ORDER (the packages export this dict as REGISTRY)
        _REGISTRIES[what] = self

    DEFAULT_ORDER: ClassVar[int] = 100

    def fill(self, module):
        """Give ``module`` every optional attribute it lacks (its default); the module, changed in place."""
        for attr, default in self.defaults.items():
            if not hasattr(module, attr):
                setattr(module, attr, default() if isinstance(default, _Fresh) else default)
        for attr, make in self.derived.items():
            if not hasattr(module, attr):
                setattr(module, attr, make(module))
        return module

    def register(self, module):
        """Check ``module`` says what the registry needs, default its optional attributes, and add it in ORDER."""
        for attr in self.required:
            if not hasattr(module, attr):
                raise TypeError(f"{self.what} module {module.__name__} has no {attr}")
        if self.precheck is not None:
            self.precheck(module)
        self.fill(module)
        if self.validate is not None:
            self.validate(module)
        self.modules[module.NAME] = module
        order = sorted(self.modules.values(), key=lambda m: (m.ORDER, m.NAME))
        self.modules.clear()
        self.modules.update((m.NAME, m) for m in order)
        self._changed()
        return module

    def unregister(self, name: str) -> None:
        """Take a module out (tests that register a made-up one)."""
        self.modules.pop(name, None)
        self._changed()

    def _changed(self) -> None:
        if self.on_change is not None:
            self.on_change(self.modules)

    def get(self, name: str):
        """The module registered as ``name``; the package's one-line UserError for any other name."""
        try:
            return self.modules[name]
        except KeyError:
            raise UserError(self.unknown(name, self.modules)) from None

    def discover(self, path, package: str, is_plugin: Callable[[Any], bool]) -> list:
        """Import every module of a package (``path``: its ``__path__``, ``package``: its name), by name, and
        register those ``is_plugin`` accepts; the modules registered."""
        found = []
        for info in sorted(pkgutil.iter_modules(path), key=lambda i: i.name):
            mod = importlib.import_module(f"{package}.{info.name}")
            if is_plugin(mod):
                found.append(self.register(mod))
        return found


_REGISTRIES: dict[str, Registry] = {}


def registry(what: str) -> Registry:
    """The registry of one kind of plugin ("method", "executor", "task source"), for a plugin module that reads its
    siblings without importing its own package (no import circle)."""
    return _REGISTRIES[what]


class _Fresh:
    """A default made anew for each module (a mutable one: ``fresh(dict)`` gives each module its own {})."""

    def __init__(self, make: Callable[[], Any]):
        self.make = make

    def __call__(self):
        return self.make()


def fresh(make: Callable[[], Any]) -> _Fresh:
    return _Fresh(make)


# executor classes: their optional attributes, set on the class by ``fill_executor_class``
EXECUTOR_CLASS_DEFAULTS = {"lost_reason": None, "search_slots": None, "hands_out_ahead": False, "address": None}


def _no_close(self) -> None:
    """Nothing to end (the executor has no worker processes, no cluster)."""


def fill_executor_class(cls):
    """Give an executor class the optional attributes it lacks (``Executor``'s defaults); the class."""
    for attr, default in EXECUTOR_CLASS_DEFAULTS.items():
        if not hasattr(cls, attr):
            setattr(cls, attr, default)
    if not hasattr(cls, "close"):
        cls.close = _no_close
    return cls
