"""What the executors' interface shares with every executor module: a trial to train (``TrialSpec``) and a trial
the infrastructure lost (``TrialLost``).  A helper, not an executor (it has no ``NAME``): the executors import it
rather than their own package, so no import circle runs through the package that discovers them."""
from __future__ import annotations

from dataclasses import dataclass, field


@dataclass(frozen=True)
class TrialSpec:
    kind: str  # "baseline" (full fine-tuning), "probe" (head only: a linear probe) or "subspace"
    d: int | None
    seed: int
    # a rate search in two parts (the runner's provisional ruler; not part of the trial's identity):
    # ``first_rate``: train the run's own rate only; ``after``: the first part's TrialResult, the other rates to train
    first_rate: bool = field(default=False, compare=False)
    after: object = field(default=None, compare=False, repr=False)

    def part(self) -> dict:
        """train.run_trial's arguments for the part of a split rate search this spec trains (none: all of it)."""
        return {"first_rate": self.first_rate, "after": self.after}


class TrialLost(Exception):
    """A trial the executor's infrastructure lost after its retries (a worker process or machine died):
    missing data, not a training result.  The message says what happened in the executor's words."""
