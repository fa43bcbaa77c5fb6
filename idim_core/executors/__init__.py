"""Executors: where a run's trials train.  The process that owns the run (the worker or a
foreground `idim run`) talks to one through a tiny interface and stays the only writer
of the store:

- ``submit(spec, on_start, on_point)``: queue one trial (a ``TrialSpec``; ``on_start`` is called again
  when a retried attempt starts the trial afresh, so its earlier points are dropped);
- ``wait()``: train what was submitted, yielding ``(spec, TrialResult | Exception)``
  pairs in completion order (``TrialLost``: the infrastructure lost it after its retries; the
  trials submitted with it finish, then the run ends failed naming it and `idim resume` reruns it);
- ``slots``: how many trials it trains at once (the adaptive search probes that many d);
- ``cancel()``: stop what is running and drop what is queued.

The executors are the modules of this package that declare ``NAME`` (see the registry below); the
first by ``ORDER`` is the default.  Adding one is one new module here (docs/contributing.md).
"""
from __future__ import annotations

from ..errors import UserError
from ..plugins import Registry, fill_executor_class
from .base import TrialLost, TrialSpec  # noqa: F401  (the interface's two types, shared with the executors)

# ---------------------------------------------------------------------------
# the registry: every module in this package that declares NAME is an executor
# ---------------------------------------------------------------------------
# An executor module declares (torch- and cluster-library-free at import):
#   NAME, LABEL (the form's choice), HELP (one line for --executor), ORDER, SERVED (allowed when the app is
#   served to a class), OPTIONS (its own run settings: (name, type, default, help, form label) tuples; each
#   becomes a RunConfig field and an `idim run` flag), check(cfg, given) (torch-free checks when a run is
#   made), preflight(cfg) (before the run is stored: can it reach what it needs?), form(box, key) (Explore's
#   fields for its options: a dict), executor_class().  The class has name, slots, submit, wait, cancel,
#   describe() (a line for the run's log and Live, or None) and lost_reason (for TrialLost).
# (``idim_core.plugins.ExecutorModule`` and ``Executor`` are these contracts as Protocols.)
DEFAULTS = {"SERVED": False, "OPTIONS": (), "check": None, "preflight": None, "form": None, "live_facts": None,
            "slots_for": None}
NAMES: tuple = ()
EXECUTORS: tuple = ()
DEFAULT: str = ""


def _names(registry: dict) -> None:
    global NAMES, EXECUTORS, DEFAULT
    NAMES = EXECUTORS = tuple(registry)
    DEFAULT = NAMES[0] if NAMES else ""


_REG = Registry("executor", ("NAME", "LABEL", "HELP", "ORDER", "executor_class"), DEFAULTS, on_change=_names,
                unknown=lambda name, reg: f"unknown --executor {name!r}; choose {' or '.join(reg)}")
REGISTRY: dict = _REG.modules
_REG.discover(__path__, __name__, lambda mod: hasattr(mod, "NAME"))


def register(module):
    """Add an executor module to the registry (checks that it says what the registry needs)."""
    return _REG.register(module)


def unregister(name: str) -> None:
    """Take an executor out of the registry (tests that register a made-up one)."""
    _REG.unregister(name)


def module(name: str):
    return _REG.get(name)


def get(name: str):
    """The executor class registered as ``name`` (its optional attributes defaulted: ``plugins.Executor``)."""
    return fill_executor_class(module(name).executor_class())


def executor_help() -> str:
    return "; ".join(f"{n} ({m.HELP})" for n, m in REGISTRY.items())


def options() -> list[tuple]:
    """Every executor's own run settings, as (name, type, default, metadata) for RunConfig."""
    out = []
    for n, m in REGISTRY.items():
        for name, typ, default, help_text, label in m.OPTIONS:
            out.append((name, f"{typ.__name__} | None", default,
                        {"help": f"--executor {n}: {help_text}", "type": None if typ is str else typ,
                         "executor": n, "label": label}))
    return out


def option_names() -> list[str]:
    """The names of every registered executor's options (stored flat in a run's config)."""
    return [name for m in REGISTRY.values() for name, *_ in m.OPTIONS]


def check(cfg, given: dict) -> None:
    """A run's executor is known, no other executor's options are given, and its own options pass its checks."""
    m = module(cfg.executor)
    for n, other in REGISTRY.items():
        if n == cfg.executor:
            continue
        for name, *_ in other.OPTIONS:
            if given.get(name) is not None:
                raise UserError(f"--{name.replace('_', '-')} is for --executor {n}")
    if m.check is not None:
        m.check(cfg, given)


def live_facts(stored_cfg: dict, summary: dict) -> dict | None:
    """What Live shows about where a run's trials train ({metric, help, caption}, or a caption alone); None: nothing."""
    m = REGISTRY.get(stored_cfg.get("executor") or DEFAULT)
    return m.live_facts(stored_cfg, summary) if m is not None and m.live_facts is not None else None


def slots_for(cfg, device: str = "cpu") -> int:
    """How many trials of ``cfg`` its executor trains at once, where the executor knows before the run (its module's
    optional ``slots_for``; the estimate uses it); 1 otherwise."""
    m = REGISTRY.get(cfg.executor or DEFAULT)
    return int(m.slots_for(cfg, device)) if m is not None and m.slots_for is not None else 1


def preflight(cfg) -> None:
    m = module(cfg.executor)
    if m.preflight is not None:
        m.preflight(cfg)
