"""Uni-LoRA through peft ("Uni-LoRA: one vector is all you need", arXiv 2506.00799): LoRA's A and B matrices on
every adapted layer (rank 4) are filled from ONE trained vector theta_d of length L by a fixed random
index map (each LoRA entry reads one coordinate, with a normalising scale): a random subspace of
LoRA's parameters, from the adapter side.  On the attention's query and value (every linear layer but
the head on the classic nets); the head trains too.  One point per L, the vector's length.

The index map is drawn from the trial's seed.  Rate: 2e-2, chosen on validation with the head at
head-only's rate, 3e-3 (minilm-l6, mr, L = 1,024, 3 seeds, the best mean; mean validation accuracy
1e-3: 0.702, 5e-3: 0.707, 2e-2: 0.714, 6e-2: 0.704).  5e-3, the vector's rate in peft's own example
(examples/sequence_classification/run_unilora.py, RoBERTa on GLUE), had been the default:
    python bench/tune_defaults.py --kind adapters --methods unilora --adapter-lrs 1e-3,5e-3,2e-2,6e-2 --seeds 3.
"""
from __future__ import annotations

NAME = "unilora"
LABEL = "Uni-LoRA: one trained vector of length L projected into LoRA's matrices (peft), one point per L"
SHORT = "Uni-LoRA"
AXIS = "rank"
LEVEL_NAME = "L"
LEVEL_WORD = "vector length"
DEFAULT_LEVELS = [64, 256, 1024, 4096]
REQUIRES = ("peft",)
ORDER = 46
LR = 2e-2  # Adam's rate unless --lr-adapter is given (see above)
RANK = 4  # the rank of the LoRA matrices the vector fills (peft's default)


def check_model(module, cfg) -> None:
    from ..errors import UserError
    from .adapters import check_rank, targets_of

    layers = targets_of(module, cfg)
    check_rank(module, layers, RANK, NAME)
    room = sum(RANK * (module.get_submodule(n).in_features + module.get_submodule(n).out_features) for n in layers)
    if max(cfg.ranks) > room:
        raise UserError(f"--ranks {max(cfg.ranks)} is longer than the {room:,} LoRA entries the vector fills "
                        f"(rank {RANK}); unilora takes a vector length of at most {room:,} here")


def build(prep, cfg, d, seed, projection):
    from .adapters import adapter_lr, built_from, head_apart, peft_model, require_peft

    require_peft(NAME)
    from peft import UniLoraConfig

    length = int(d)
    check_model(prep.module, cfg.but(ranks=[length]))
    model, _ = peft_model(prep, cfg, lambda layers: UniLoraConfig(r=RANK, theta_d_length=length, proj_seed=seed,
                                                                  target_modules=layers), NAME)
    return head_apart(built_from(model, None, adapter_lr(cfg, LR)), model, prep, cfg)


def min_d(module, cfg) -> int:
    return 1
