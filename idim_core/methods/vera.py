"""VeRA through peft: one frozen random pair (A, B) shared by all adapted layers; each layer
trains only two scaling vectors, diag(b) B diag(d) A (out + r numbers per layer).  A random
subspace like SAID's, from the adapter world.  One point per rank; the head trains too.
"""
from __future__ import annotations

NAME = "vera"
LABEL = "VeRA: shared frozen random matrices, trained scaling vectors (peft), one point per rank"
SHORT = "VeRA"
AXIS = "rank"
DEFAULT_LEVELS = [16, 64, 256]
REQUIRES = ("peft",)
ORDER = 40
LR = 1e-2  # Adam's rate unless --lr-adapter is given (VeRA's vectors need a larger rate than LoRA)


def build(prep, cfg, d, seed, projection):
    from .adapters import adapter_lr, built_from, check_rank, head_apart, peft_model, require_peft, targets_of

    require_peft(NAME)
    from peft import VeraConfig

    rank = int(d)
    check_rank(prep.module, targets_of(prep.module, cfg), rank,
               NAME)
    model, _ = peft_model(prep, cfg, lambda layers: VeraConfig(r=rank, target_modules=layers, vera_dropout=0.0,
                                                               projection_prng_key=seed), NAME)
    return head_apart(built_from(model, None, adapter_lr(cfg, LR)), model, prep, cfg)


def check(cfg) -> None:
    from .adapters import check_ranks_fit

    check_ranks_fit(cfg, NAME)


def check_model(module, cfg) -> None:
    from .adapters import check_rank, targets_of

    check_rank(module, targets_of(module, cfg), max(cfg.ranks), NAME)


def min_d(module, cfg) -> int:
    return 1
