"""LoRA through peft: W = W0 + (alpha / r) B A on the attention's query and value (or every
linear layer but the head), A and B trained, W0 frozen; the head trains too.  One point per rank.

alpha = 2 r, so the update's scale alpha / r is 2 at every rank (B starts at zero: theta0 exactly).
"""
from __future__ import annotations

NAME = "lora"
LABEL = "LoRA: low-rank adapters on query and value (peft), one point per rank"
SHORT = "LoRA"
AXIS = "rank"
DEFAULT_LEVELS = [1, 2, 4, 8, 16]
REQUIRES = ("peft",)
ORDER = 30
LR = 1e-2  # Adam's rate unless --lr-adapter is given (chosen on validation, 3 seeds, the head at its own rate)


def build(prep, cfg, d, seed, projection):
    from .adapters import adapter_lr, built_from, check_rank, head_apart, peft_model, require_peft, targets_of

    require_peft(NAME)
    from peft import LoraConfig

    rank = int(d)
    check_rank(prep.module, targets_of(prep.module, cfg), rank,
               NAME)
    model, _ = peft_model(prep, cfg, lambda layers: LoraConfig(r=rank, lora_alpha=2 * rank, lora_dropout=0.0,
                                                               target_modules=layers), NAME)
    return head_apart(built_from(model, None, adapter_lr(cfg, LR)), model, prep, cfg)


def check(cfg) -> None:
    from .adapters import check_ranks_fit

    check_ranks_fit(cfg, NAME)


def check_model(module, cfg) -> None:
    from .adapters import check_rank, targets_of

    check_rank(module, targets_of(module, cfg), max(cfg.ranks), NAME)


def min_d(module, cfg) -> int:
    return 1
