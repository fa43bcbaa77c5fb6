"""BitFit: every bias and the classifier head train, everything else stays theta0.  One point."""
from __future__ import annotations

NAME = "bitfit"
LABEL = "BitFit: the biases and the head train, one point"
SHORT = "BitFit"
AXIS = "single"
ORDER = 80
LR = 3e-3  # Adam's rate unless --lr-adapter is given (chosen on validation, 3 seeds, the head at its own rate)


def build(prep, cfg, d, seed, projection):
    import copy

    from .adapters import adapter_lr, built_from, head_apart, head_names

    model = copy.deepcopy(prep.module)
    names = {n for n, _ in model.named_parameters() if n.endswith(".bias") or n == "bias"} | set(head_names(model))
    return head_apart(built_from(model, names, adapter_lr(cfg, LR)), model, prep, cfg)


def min_d(module, cfg) -> int:
    return 0
