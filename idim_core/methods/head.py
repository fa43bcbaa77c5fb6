"""Head only: a linear probe on the model's own features; everything but the classifier head
stays theta0.  The floor any fine-tuning method must beat.  One point."""
from __future__ import annotations

NAME = "head"
LABEL = "head only: the classifier head trains (a linear probe), one point"
SHORT = "head only"
AXIS = "single"
ORDER = 90
LR = 1e-2  # Adam's rate unless --lr-adapter is given (a probe from a zero-ish start)
HEAD_ONLY = True  # the head is the method: every other adapter method trains its head at this LR (--lr-head)


def build(prep, cfg, d, seed, projection):
    import copy

    from .adapters import adapter_lr, built_from, head_names

    model = copy.deepcopy(prep.module)
    return built_from(model, set(head_names(model)), adapter_lr(cfg, LR))


def min_d(module, cfg) -> int:
    return 0
