"""Training methods, one small module each: the module is the method's whole definition.

A method module says everything about itself (peft-style) and nothing outside it names it:

- ``NAME``; ``LABEL`` (the form's line, ``idim methods``); ``SHORT`` (the charts' legend);
- ``AXIS``: what a run's levels are: ``d`` (the subspace dimension: did, said), ``rank``
  (levels of the method's own, one point each: lora's rank, fourierft's coefficients ...; given
  with ``--ranks``) or ``single`` (one point: bitfit, head);
- ``LEVEL_NAME`` / ``LEVEL_WORD`` (``rank`` axis only): the level's symbol and word ("r", "rank"
  by default; fourierft says "n", "spectral coefficients");
- ``DEFAULT_LEVELS`` (``rank`` axis): the levels a run trains unless ``--ranks`` is given;
- ``LR``: its default Adam rate (adapters; ``--lr-adapter`` overrides it);
- ``REQUIRES``: the importable libraries it needs (e.g. ``("peft",)``), checked before a run is stored;
- ``ORDER``: where it sits in lists (smaller first);
- ``check(cfg)`` (optional): its own checks of a made configuration, raising UserError;
- ``build(prep, cfg, d, seed, projection) -> Built``: the trainable parameters for a prepared
  model (the wrapped model, Adam's groups, how many numbers train, the rate, snapshot / restore);
- ``min_d(module, cfg) -> int``: the smallest level it can take on this model.

``idim_core.plugins.MethodModule`` is this contract as a Protocol; every optional attribute gets its default on the
module when it is registered (``plugins.Registry``), so callers read ``module.X`` directly.

Adding a method is one new file here: the package finds its modules (``pkgutil``) and registers
every one that has ``NAME`` and ``build`` (``register`` adds one from elsewhere, e.g. a test).
``full`` (full fine-tuning, the baseline) has the same interface, sets ``LISTED = False`` and is
not listed: every run trains it.  Every trial reports its trainable parameters counted from the
module, so all methods meet on one axis.  Importing this package imports no torch: each module
imports it inside ``build``.
"""
from __future__ import annotations

import importlib

from ..errors import UserError
from ..plugins import Registry
from .base import Built  # noqa: F401  (what build() returns)

AXES = ("d", "rank", "single")
DEFAULT_RANKS: dict = {}  # name -> default levels of the rank-axis methods (kept in step by register)
# the optional attributes a method module may leave out, and what it gets instead (see plugins.MethodModule)
DEFAULTS = {"AXIS": "d", "ORDER": 100, "REQUIRES": (), "LR": None, "DEFAULT_LEVELS": None, "LEVEL_NAME": "r",
            "LEVEL_WORD": "rank", "HEAD_ONLY": False, "FIELDS": (), "LISTED": True, "check": None,
            "check_model": None}


def _validate(module) -> None:
    ax = module.AXIS
    if ax not in AXES:
        raise TypeError(f"method {module.NAME}: AXIS must be one of {AXES}, not {ax!r}")
    if ax == "rank" and not module.DEFAULT_LEVELS:
        raise TypeError(f"method {module.NAME}: a rank-axis method needs DEFAULT_LEVELS")


def _ranks(registry: dict) -> None:
    DEFAULT_RANKS.clear()
    DEFAULT_RANKS.update((m.NAME, list(m.DEFAULT_LEVELS)) for m in registry.values() if m.AXIS == "rank")


_REG = Registry("method", ("NAME", "LABEL", "build", "min_d"), DEFAULTS, derived={"SHORT": lambda m: m.NAME},
                validate=_validate, on_change=_ranks,
                unknown=lambda name, reg: f"unknown method {name!r}; choose one of {', '.join(reg)}")
REGISTRY: dict = _REG.modules


def register(module):
    """Add a method module to the registry (checks that it says what the registry needs)."""
    return _REG.register(module)


def unregister(name: str) -> None:
    """Take a method out of the registry (tests that register a fake one)."""
    _REG.unregister(name)


def _discover() -> None:
    _REG.discover(__path__, __name__, lambda mod: hasattr(mod, "NAME") and hasattr(mod, "build")
                  and getattr(mod, "LISTED", True))


_discover()
FULL = _REG.fill(importlib.import_module(f"{__name__}.full"))


def get(name: str):
    return _REG.get(name)


def axis(name: str) -> str:
    """d, rank or single (see above); unknown names count as d."""
    m = REGISTRY.get(name)
    return m.AXIS if m else "d"


def names_on(ax: str) -> tuple[str, ...]:
    """The methods on one axis, in the registry's order."""
    return tuple(n for n, m in REGISTRY.items() if m.AXIS == ax)


def label(name: str, classic: bool = False) -> str:
    """The method's one-line label; for a classic net (no attention) what it adapts is every linear layer but the
    head, and the label says so instead of "query and value"."""
    m = REGISTRY.get(name)
    text = m.LABEL if m else str(name)
    return text.replace("on query and value", "on every linear layer but the head") if classic else text


def short(name: str) -> str:
    """The method's name in a chart's legend."""
    m = REGISTRY.get(name)
    return (m.SHORT or m.NAME) if m is not None else name.upper()


def level_name(name: str) -> str:
    """The symbol of a level: d on the d axis, the method's own on the rank axis ("r" unless it says)."""
    ax = axis(name)
    return "d" if ax == "d" else REGISTRY[name].LEVEL_NAME


def level_word(name: str) -> str:
    """The level's word: "d", "rank" (or the method's own, e.g. "spectral coefficients"), "" for one point."""
    ax = axis(name)
    return "d" if ax == "d" else "" if ax == "single" else REGISTRY[name].LEVEL_WORD


def default_levels(name: str) -> list[int] | None:
    return DEFAULT_RANKS.get(name)


def default_lr(name: str) -> float | None:
    m = REGISTRY.get(name)
    return m.LR if m else None


def has_own_head_rate(name: str) -> bool:
    """An adapter method whose classifier head trains beside what the method adds, at --lr-head (the subspace
    methods move the head with z; a method that trains only the head says HEAD_ONLY = True)."""
    m = REGISTRY.get(name)
    return m is not None and m.AXIS != "d" and not m.HEAD_ONLY


def head_only_lr() -> float:
    """The default head rate of every adapter method: that of the method that trains the head alone."""
    return next(m.LR for m in REGISTRY.values() if m.HEAD_ONLY)


def require(name: str) -> None:
    """The libraries the method needs import, else one line saying how to install them."""
    m = REGISTRY.get(name)
    for lib in m.REQUIRES if m else ():
        try:
            importlib.import_module(lib)
        except ImportError:
            raise UserError(f"--method {name} needs the {lib} library (a dependency of idim): "
                            f"pip install '{lib}'") from None


def check(cfg) -> None:
    """The method's own checks of a made configuration (UserError when one fails)."""
    m = REGISTRY.get(cfg.method)
    if m is not None and m.check is not None:
        m.check(cfg)


def words(names) -> str:
    """'a, b and c'."""
    names = list(names)
    return names[0] if len(names) == 1 else ", ".join(names[:-1]) + " and " + names[-1] if names else ""


def method_help() -> str:
    """The help text of ``--method``, from the registry."""
    parts = []
    for ax, what in (("d", "the random subspace, over --dims"), ("rank", "one point per level, over --ranks"),
                     ("single", "one point each")):
        if names_on(ax):
            parts.append(f"{words(names_on(ax))} ({what})")
    return "; ".join(parts) + "; see `idim methods`"


def ranks_help() -> str:
    """The help text of ``--ranks``, from the registry."""
    each = "; ".join(f"{n}: {level_word(n)}, default {','.join(map(str, lv))}" for n, lv in DEFAULT_RANKS.items())
    return f"the levels of {words(DEFAULT_RANKS)}, comma-separated ({each})"
