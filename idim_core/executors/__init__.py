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

``local`` (this process, one trial after another) is the default; ``ray`` runs each trial
as a task on a Ray cluster (ray_exec.py).
"""
from __future__ import annotations

from dataclasses import dataclass

from ..errors import UserError


@dataclass(frozen=True)
class TrialSpec:
    kind: str  # "baseline" (full fine-tuning), "probe" (head only: a linear probe) or "subspace"
    d: int | None
    seed: int

    def trains(self, method: str) -> tuple[int | None, str]:
        """(d, method) for train.run_trial: the baseline trains every parameter (d None), the probe only
        the head (on the frozen features), a subspace trial the run's own method at its level."""
        if self.kind == "baseline":
            return None, method
        if self.kind == "probe":
            return 0, "head"
        return self.d, method


def _local():
    from .local import LocalExecutor

    return LocalExecutor


def _ray():
    from .ray_exec import RayExecutor

    return RayExecutor


REGISTRY = {"local": _local, "ray": _ray}
EXECUTORS = tuple(REGISTRY)


def get(name: str):
    """The executor class registered as ``name``."""
    try:
        return REGISTRY[name]()
    except KeyError:
        raise UserError(f"unknown executor {name!r}; choose one of {', '.join(REGISTRY)}") from None
