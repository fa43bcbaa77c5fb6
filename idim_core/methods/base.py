"""What every method's ``build`` returns."""
from __future__ import annotations

from dataclasses import dataclass
from typing import Any, Callable


@dataclass
class Built:
    """What a method hands the trainer for one trial."""

    model: Any  # called with the batch's keyword inputs, returns logits
    param_groups: list[dict]  # for the optimiser
    trainable: int  # numbers trained (counted from the parameters, not a formula)
    lr: float  # the main rate (z's for the subspace methods)
    snapshot: Callable[[], Any]
    restore: Callable[[Any], None]
