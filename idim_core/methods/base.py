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


def built_from(model, trainable_names: set[str] | None, lr: float) -> Built:
    """A Built for a model whose parameters train where requires_grad is set (after ``trainable_names``,
    when given): the optimiser's group, the count, and a snapshot / restore of those parameters."""
    from ..errors import UserError

    if trainable_names is not None:
        for n, p in model.named_parameters():
            p.requires_grad_(n in trainable_names)
    params = [p for p in model.parameters() if p.requires_grad]
    if not params:
        raise UserError("this method found no parameters to train in this model")

    def snapshot():
        return [p.detach().clone() for p in params]

    def restore(state):
        import torch

        with torch.no_grad():
            for p, s in zip(params, state):
                p.copy_(s)

    return Built(model, [{"params": params, "lr": lr}], sum(p.numel() for p in params), lr, snapshot, restore)
