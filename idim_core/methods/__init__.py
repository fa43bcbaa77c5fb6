"""Training methods, one small module each, all with the same few functions.

A method module provides:

- ``NAME`` and ``LABEL`` (one line for the UI and the CLI);
- ``build(prep, cfg, d, seed, projection) -> Built``: the trainable parameters for a
  prepared model (the wrapped model to call, Adam's parameter groups, how many numbers
  train, the rate z uses, and how to snapshot and restore the best state);
- ``min_d(module, cfg) -> int``: the smallest d it can take on this model.

- ``AXIS``: what a run's levels are: ``d`` (did, said: the subspace dimension), ``rank``
  (lora, vera: one point per rank) or ``single`` (bitfit, head: one point).

``full`` (full fine-tuning, the baseline) has the same interface and is not listed in
``REGISTRY``: every run trains it.  A new method is a new file here plus one line in
``REGISTRY``.  Every trial reports its trainable parameters counted from the module, so
all methods meet on one axis.  Importing this package imports no torch: each module
imports it inside ``build``.
"""
from __future__ import annotations

from ..errors import UserError
from . import bitfit, did, full, head, lora, said, vera
from .base import Built  # noqa: F401  (what build() returns)

did.AXIS = said.AXIS = "d"
REGISTRY = {m.NAME: m for m in (did, said, lora, vera, bitfit, head)}
FULL = full
DEFAULT_RANKS = {"lora": [1, 2, 4, 8, 16], "vera": [16, 64, 256]}


def axis(name: str) -> str:
    """d, rank or single (see above); unknown names count as d."""
    m = REGISTRY.get(name)
    return getattr(m, "AXIS", "d") if m else "d"


def get(name: str):
    try:
        return REGISTRY[name]
    except KeyError:
        raise UserError(f"unknown method {name!r}; choose one of {', '.join(REGISTRY)}") from None
