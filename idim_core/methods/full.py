"""Full fine-tuning (or full training of a classic net): every parameter trains.  The baseline."""
from __future__ import annotations

NAME = "full"
LABEL = "full fine-tuning: all D parameters train"


def build(prep, cfg, d, seed, projection):
    import copy

    from .base import Built

    model = copy.deepcopy(prep.module)
    params = list(model.parameters())
    for p in params:
        p.requires_grad_(True)

    def snapshot():
        return [p.detach().clone() for p in params]

    def restore(state):
        import torch

        with torch.no_grad():
            for p, s in zip(params, state):
                p.copy_(s)

    return Built(model, [{"params": params, "lr": cfg.lr_full}], sum(p.numel() for p in params), cfg.lr_full,
                 snapshot, restore)


def min_d(module, cfg) -> int:
    return 0
