"""Task sources, one small module each: the module is the source's whole definition.

A task is a ``TaskSpec`` (``base.py``) whose ``source`` is the ``NAME`` of the module that loads it.  A source
module says:

- ``NAME`` (the specs' ``source``: ``bundled``, ``image``, ``hub``, ``csv`` ...), ``LABEL`` (one line about
  it), ``ORDER`` (where it sits: names are tried and tasks listed in this order, smaller first);
- ``TASKS``: its named tasks, ``{name: TaskSpec}`` (optional; named in the message for an unknown task);
- ``HINT`` (optional): a pattern of names it takes, also named there (``csv:PATH``);
- ``resolve(name) -> TaskSpec | None`` (optional; by default ``TASKS.get(name)``): the spec of a name it
  takes, None for a name it does not, a ``UserError`` for one of its own names that is malformed;
- ``listed() -> list[TaskSpec]`` (optional; by default ``TASKS``' values): what ``idim tasks`` and Explore list;
- ``load(spec, split_seed, max_train, max_eval, text_column, text_pair_column, label_column) -> TaskData``:
  seeded, stratified train / validation / test splits (``base.split_rows`` splits labelled rows 80 / 10 / 10);
- ``train_size(spec, text_column, text_pair_column, label_column) -> (examples, classes)`` (optional; by
  default from the spec's ``size`` and ``num_labels``): about how many training examples, before
  ``--max-train``, light (no tokenising);
- ``stats(spec, max_length, split_seed, text_column, text_pair_column, label_column) -> dict`` (optional; by
  default ``idim_core.tasks`` loads the task and counts its tokens): the fields ``idim tasks`` shows;
- ``stamp(spec)`` (optional): a value that changes when the task's data does (a file's mtime), for caches;
- ``FIXED`` (optional, default False): its tasks ship with idim and cannot change between runs (they share a
  baseline, the served app offers them, the app checks them in its own process).

Adding a source is one new file here: the package finds its modules (``pkgutil``) and registers every one
that has ``NAME`` and ``load``; ``register`` adds one from elsewhere in one line (e.g. a test, a plugin).
``idim_core.tasks`` (``resolve``, ``load_task``, ``train_size``, ``task_stats``, ``list_tasks``) dispatches
on the registry and names no source.  Importing this package imports no torch and no datasets: a source
imports them inside ``load``.
"""
from __future__ import annotations

import importlib
import pkgutil

from ..errors import UserError

REGISTRY: dict = {}  # NAME -> module, in ORDER


def register(module):
    """Add a task-source module to the registry (checks that it says what the registry needs)."""
    for attr in ("NAME", "load"):
        if not hasattr(module, attr):
            raise TypeError(f"task source module {module.__name__} has no {attr}")
    if not (callable(getattr(module, "resolve", None)) or isinstance(getattr(module, "TASKS", None), dict)):
        raise TypeError(f"task source {module.NAME}: give TASKS or resolve(name)")
    REGISTRY[module.NAME] = module
    order = sorted(REGISTRY.values(), key=lambda m: (getattr(m, "ORDER", 100), m.NAME))
    REGISTRY.clear()
    REGISTRY.update((m.NAME, m) for m in order)
    return module


def unregister(name: str) -> None:
    """Take a source out of the registry (tests that register a made-up one)."""
    REGISTRY.pop(name, None)


def discover(path, package: str) -> list:
    """Import every module of a package (``path``: its ``__path__``) and register those that are sources."""
    found = []
    for info in sorted(pkgutil.iter_modules(path), key=lambda i: i.name):
        mod = importlib.import_module(f"{package}.{info.name}")
        if hasattr(mod, "NAME") and hasattr(mod, "load"):
            found.append(register(mod))
    return found


discover(__path__, __name__)


def get(name: str):
    """The module of a spec's ``source``."""
    try:
        return REGISTRY[name]
    except KeyError:
        raise UserError(f"no task source {name!r}; the sources are {', '.join(REGISTRY)}") from None


def resolve(name: str):
    """The first source's spec for ``name`` (None when no source takes it)."""
    for src in REGISTRY.values():
        fn = getattr(src, "resolve", None)
        spec = fn(name) if callable(fn) else src.TASKS.get(name)
        if spec is not None:
            return spec
    return None


def fixed(source: str) -> bool:
    """Its tasks ship with idim and cannot change between runs (``FIXED = True``): such runs share a baseline,
    the app served to a class offers them, and they are checked in the app's own process (no heavy import)."""
    return bool(getattr(REGISTRY.get(source), "FIXED", False))


def names() -> list[str]:
    """Every named task of every source, in the registry's order (listed or not)."""
    return [n for src in REGISTRY.values() for n in getattr(src, "TASKS", {})]


def hints() -> list[str]:
    """The patterns of names the sources take (``csv:PATH``)."""
    return [src.HINT for src in REGISTRY.values() if getattr(src, "HINT", None)]


def listed() -> list:
    """The specs the sources list, in the registry's order."""
    out = []
    for src in REGISTRY.values():
        fn = getattr(src, "listed", None)
        out.extend(fn() if callable(fn) else getattr(src, "TASKS", {}).values())
    return out
