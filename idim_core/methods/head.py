"""Head only: a linear probe on the model's own features; everything but the classifier head
stays theta0.  The floor any fine-tuning method must beat.  One point.

Rate: 3e-3, the best validation mean over 3 seeds (minilm-l6, mr; 1e-3: 0.681, 3e-3: 0.704, 1e-2: 0.701,
3e-2: 0.699), by the rule every method's rate follows (no preference for the incumbent, which was 1e-2):
    python bench/tune_defaults.py --kind adapters --methods head --adapter-lrs 1e-3,3e-3,1e-2,3e-2 --seeds 3
Every other adapter method trains its classifier head at this rate (--lr-head), and the linear probe
drawn beside d90 is this method, its rate chosen per seed on validation from 1/3, 1 and 3 times this one and on
past an end (train.run_trial; --probe-fixed-rate keeps this rate): on other tasks the head wants up to 30 times
more (docs/explanation/d90.md, "The probe chooses its own rate")."""
from __future__ import annotations

NAME = "head"
LABEL = "head only: the classifier head trains (a linear probe), one point"
SHORT = "head only"
AXIS = "single"
ORDER = 90
LR = 3e-3  # Adam's rate unless --lr-adapter is given (see above)
HEAD_ONLY = True  # the head is the method: every other adapter method trains its head at this LR (--lr-head)


def build(prep, cfg, d, seed, projection):
    import copy

    from .adapters import adapter_lr, built_from, head_names

    model = copy.deepcopy(prep.module)
    return built_from(model, set(head_names(model)), adapter_lr(cfg, LR))


def min_d(module, cfg) -> int:
    return 0
