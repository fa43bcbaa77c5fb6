"""Training methods, one small module each, all with the same few functions.

A method module provides:

- ``NAME`` and ``LABEL`` (one line for the UI and the CLI);
- ``build(prep, cfg, d, seed, projection) -> Built``: the trainable parameters for a
  prepared model (the wrapped model to call, Adam's parameter groups, how many numbers
  train, the rate z uses, and how to snapshot and restore the best state);
- ``min_d(module, cfg) -> int``: the smallest d it can take on this model.

``full`` (full fine-tuning, the baseline) has the same interface and is not listed in
``REGISTRY``: every run trains it.  A new method (LoRA, BitFit, head-only …) is a new
file here plus one line in ``REGISTRY``; nothing else changes.  Importing this package
imports no torch: each module imports it inside ``build``.
"""
from __future__ import annotations

from ..errors import UserError
from . import did, full, said
from .base import Built  # noqa: F401  (what build() returns)


REGISTRY = {m.NAME: m for m in (did, said)}
FULL = full


def get(name: str):
    try:
        return REGISTRY[name]
    except KeyError:
        raise UserError(f"unknown method {name!r}; choose one of {', '.join(REGISTRY)}") from None
