"""Executors: where a run's trials train.  The process that owns the run (the worker or a
foreground `idim run`) talks to one through a tiny interface and stays the only writer
of the store:

- ``submit(spec, on_start, on_point)``: queue one trial (a ``TrialSpec``);
- ``wait()``: train what was submitted, returning ``(spec, TrialResult | Exception)``
  pairs in completion order;
- ``cancel()``: stop what is running and drop what is queued.

``local`` (this process, one trial after another) is the default.  A new executor (a
Ray cluster …) is a new file here plus one line in ``REGISTRY``.
"""
from __future__ import annotations

from dataclasses import dataclass

from ..errors import UserError


@dataclass(frozen=True)
class TrialSpec:
    kind: str  # "baseline" (full fine-tuning) or "subspace"
    d: int | None
    seed: int


def _local():
    from .local import LocalExecutor

    return LocalExecutor


REGISTRY = {"local": _local}


def get(name: str):
    """The executor class registered as ``name``."""
    try:
        return REGISTRY[name]()
    except KeyError:
        raise UserError(f"unknown executor {name!r}; choose one of {', '.join(REGISTRY)}") from None
