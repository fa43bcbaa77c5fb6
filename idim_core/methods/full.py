"""Full fine-tuning (or full training of a classic net): every parameter trains.  The baseline."""
from __future__ import annotations

NAME = "full"
LABEL = "full fine-tuning: all D parameters train"


def build(prep, cfg, d, seed, projection):
    import copy

    from .base import built_from

    model = copy.deepcopy(prep.module)
    return built_from(model, {n for n, _ in model.named_parameters()}, cfg.lr_full)


def min_d(module, cfg) -> int:
    return 0
LISTED = False  # the baseline every run trains, not a method to choose
