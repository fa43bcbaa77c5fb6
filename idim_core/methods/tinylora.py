"""TinyLoRA through peft ("Learning to reason in 13 parameters", arXiv 2602.04118): each adapted
layer's update is built from its own frozen SVD (rank 2) and fixed random tensors, steered by a tiny
trained vector of u numbers; here the vector is tied across every adapted layer (weight_tying = 1),
so the whole model trains u numbers plus the head.  On the attention's query and value (every linear
layer but the head on the classic nets).  One point per u.

The random tensors are drawn from the trial's seed.  Rate: 3e-3, chosen on validation with the head at
head-only's rate, 3e-3 (minilm-l6, mr, u = 16, 3 seeds; mean validation accuracy 1e-3: 0.7018,
3e-3: 0.7018, 1e-2: 0.699, 3e-2: 0.691, 1e-1: 0.680).  1e-3 and 3e-3 tie exactly (seeds 0.7070,
0.7148, 0.6836 against 0.7031, 0.7148, 0.6875), so the rule "best mean" does not decide; 3e-3 is the
middle of the flat stretch from 1e-3 to 1e-2.  1e-2, the rate VeRA's vectors take here, had been the
default (peft documents none for TinyLoRA):
    python bench/tune_defaults.py --kind adapters --methods tinylora --adapter-lrs 1e-3,3e-3,1e-2,3e-2,1e-1 --seeds 3.
"""
from __future__ import annotations

NAME = "tinylora"
LABEL = "TinyLoRA: u trained numbers tied across all layers, through their SVD (peft), one point per u"
SHORT = "TinyLoRA"
AXIS = "rank"
LEVEL_NAME = "u"
LEVEL_WORD = "tied vector size"
DEFAULT_LEVELS = [1, 4, 16, 64]
REQUIRES = ("peft",)
ORDER = 47
LR = 3e-3  # Adam's rate unless --lr-adapter is given (see above)
RANK = 2  # the SVD rank (the paper's)
MOST = 100_000  # a vector this long is no longer tiny (and its random tensors grow with it)


def check(cfg) -> None:
    from ..errors import UserError

    if max(cfg.ranks) > MOST:
        raise UserError(f"--ranks {max(cfg.ranks):,} is a tied vector of more than {MOST:,} numbers; tinylora "
                        f"takes sizes from 1 to {MOST:,}")


def check_model(module, cfg) -> None:
    from .adapters import check_rank, targets_of

    check_rank(module, targets_of(module, cfg), RANK, NAME)


def build(prep, cfg, d, seed, projection):
    from .adapters import adapter_lr, built_from, head_apart, peft_model, require_peft

    require_peft(NAME)
    from peft import TinyLoraConfig

    u = int(d)
    check_model(prep.module, cfg.but(ranks=[u]))
    model, _ = peft_model(prep, cfg, lambda layers: TinyLoraConfig(r=RANK, u=u, weight_tying=1.0,
                                                                   projection_seed=seed, target_modules=layers), NAME)
    return head_apart(built_from(model, None, adapter_lr(cfg, LR)), model, prep, cfg)


def min_d(module, cfg) -> int:
    return 1
