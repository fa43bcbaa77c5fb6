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
- ``PREFIX`` and ``EXTENSIONS`` (optional): a file-backed source: its tasks are ``PREFIX`` + the path of a file
  the user can change or upload (``csv:`` and ``(".csv",)``); the runs' data fingerprint, the served app's
  checks, the uploader's accepted types and the CLI ask ``file_source(task)`` / ``upload_types()``, never a
  prefix; ``preview(path, rows, shown) -> (columns, DataFrame)`` (optional) shows the file's first rows in
  Explore (a CSV preview by default);
- ``FIXED`` (optional, default False): its tasks ship with idim and cannot change between runs (they share a
  baseline, the served app offers them, the app checks them in its own process).

Every optional attribute gets its default on the module when it is registered, so callers read it directly
(``idim_core.plugins.TaskSourceModule`` is this contract as a Protocol; ``plugins.Registry`` the registry).

Adding a source is one new file here: the package finds its modules (``pkgutil``) and registers every one
that has ``NAME`` and ``load``; ``register`` adds one from elsewhere in one line (e.g. a test, a plugin).
``idim_core.tasks`` (``resolve``, ``load_task``, ``train_size``, ``task_stats``, ``list_tasks``) dispatches
on the registry and names no source.  Importing this package imports no torch and no datasets: a source
imports them inside ``load``.
"""
from __future__ import annotations

from pathlib import Path

from ..plugins import Registry, fresh

# the optional attributes a source module may leave out, and what it gets instead (see plugins.TaskSourceModule)
DEFAULTS = {"ORDER": 100, "TASKS": fresh(dict), "HINT": None, "FIXED": False, "PREFIX": None, "EXTENSIONS": (),
            "train_size": None, "stats": None, "stamp": None, "preview": None}


def _default_resolve(module):
    return lambda name: module.TASKS.get(name)


def _default_listed(module):
    return lambda: list(module.TASKS.values())


def _precheck(module) -> None:
    if not (callable(getattr(module, "resolve", None)) or isinstance(getattr(module, "TASKS", None), dict)):
        raise TypeError(f"task source {module.NAME}: give TASKS or resolve(name)")


def _validate(module) -> None:
    if module.PREFIX and not module.EXTENSIONS:
        raise TypeError(f"task source {module.NAME}: a file-backed source (PREFIX) names its EXTENSIONS")


_REG = Registry("task source", ("NAME", "load"), DEFAULTS,
                derived={"LABEL": lambda m: m.NAME, "KIND": lambda m: m.NAME, "resolve": _default_resolve,
                         "listed": _default_listed},
                precheck=_precheck, validate=_validate,
                unknown=lambda name, reg: f"no task source {name!r}; the sources are {', '.join(reg)}")
REGISTRY: dict = _REG.modules  # NAME -> module, in ORDER


def register(module):
    """Add a task-source module to the registry (checks that it says what the registry needs)."""
    return _REG.register(module)


def unregister(name: str) -> None:
    """Take a source out of the registry (tests that register a made-up one)."""
    _REG.unregister(name)


def discover(path, package: str) -> list:
    """Import every module of a package (``path``: its ``__path__``) and register those that are sources."""
    return _REG.discover(path, package, lambda mod: hasattr(mod, "NAME") and hasattr(mod, "load"))


discover(__path__, __name__)


def get(name: str):
    """The module of a spec's ``source``."""
    return _REG.get(name)


def resolve(name: str):
    """The first source's spec for ``name`` (None when no source takes it)."""
    for src in REGISTRY.values():
        spec = src.resolve(name)
        if spec is not None:
            return spec
    return None


def fixed(source: str) -> bool:
    """Its tasks ship with idim and cannot change between runs (``FIXED = True``): such runs share a baseline,
    the app served to a class offers them, and they are checked in the app's own process (no heavy import)."""
    src = REGISTRY.get(source)
    return bool(src.FIXED) if src is not None else False


def names() -> list[str]:
    """Every named task of every source, in the registry's order (listed or not)."""
    return [n for src in REGISTRY.values() for n in src.TASKS]


def hints() -> list[str]:
    """The patterns of names the sources take (``csv:PATH``)."""
    return [src.HINT for src in REGISTRY.values() if src.HINT]


def listed() -> list:
    """The specs the sources list, in the registry's order."""
    out = []
    for src in REGISTRY.values():
        out.extend(src.listed())
    return out


# ---------------------------------------------------------------------------
# file-backed sources: a task names a file the user can change or upload (PREFIX + path, EXTENSIONS)
# ---------------------------------------------------------------------------
def file_sources() -> list:
    """The file-backed sources (those with a ``PREFIX``), in the registry's order."""
    return [src for src in REGISTRY.values() if src.PREFIX]


def file_source(task: str):
    """The file-backed source whose ``PREFIX`` the task name starts with (``csv:PATH`` -> csvfile), else None."""
    task = str(task or "")
    return next((src for src in file_sources() if task.startswith(src.PREFIX)), None)


def file_path(task: str) -> str | None:
    """The path a file-backed task names, as typed (``csv:reviews.csv`` -> ``reviews.csv``); None for any other task."""
    src = file_source(task)
    return None if src is None else str(task)[len(src.PREFIX):]


def file_words() -> str:
    """What takes a file's columns, in a refusal: "a csv: task (your own CSV file)"."""
    srcs = file_sources()
    return (f"a {' or '.join(s.PREFIX for s in srcs)} task (your own {' or '.join(s.KIND for s in srcs)} file)"
            if srcs else "a task read from a file")


def upload_types() -> list[str]:
    """The file types the app's uploader accepts (every file-backed source's, without the dot: ``["csv", ...]``)."""
    return [ext.lstrip(".") for src in file_sources() for ext in src.EXTENSIONS]


def for_file(name: str):
    """The file-backed source that reads a file of this name (by its extension), else None."""
    suffix = Path(str(name)).suffix.lower()
    return next((src for src in file_sources() if suffix in (e.lower() for e in src.EXTENSIONS)), None)


def file_task(path) -> str:
    """The task name of a file: the PREFIX of the source that reads its extension + the path; a file of another
    type goes to the first file-backed source (``csv:``, as a path typed in Explore always did)."""
    src = for_file(path) or file_sources()[0]
    return f"{src.PREFIX}{path}"
