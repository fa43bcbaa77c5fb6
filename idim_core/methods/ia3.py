"""(IA)^3 through peft (Liu et al. 2022, T-Few): a learned vector rescales each adapted layer's output,
one number per output feature (384 per layer on the bundled MiniLM), initialised at 1 so the first
step starts at theta0 exactly.  On the attention's query and value (the layers lora adapts; every
linear layer but the head on the classic nets).  One point; the head trains too.

Rate: 1e-1, the best validation mean over 3 seeds with the head at head-only's rate (minilm-l6, mr;
1e-2: 0.719, 3e-2: 0.704, 1e-1: 0.727, 3e-1: 0.669), by the rule every method's rate follows (no preference
for the incumbent, the T-Few paper's 3e-3):
    python bench/tune_defaults.py --kind adapters --methods ia3 --adapter-lrs 1e-2,3e-2,1e-1,3e-1 --seeds 3.
"""
from __future__ import annotations

NAME = "ia3"
LABEL = "IA3: learned rescaling vectors on query and value (peft), one point"
SHORT = "IA³"
AXIS = "single"
REQUIRES = ("peft",)
ORDER = 50
LR = 1e-1  # Adam's rate unless --lr-adapter is given (see above)


def build(prep, cfg, d, seed, projection):
    from peft import IA3Config

    from .adapters import adapter_lr, built_from, head_apart, peft_model

    model, _ = peft_model(prep, cfg, lambda layers: IA3Config(target_modules=layers, feedforward_modules=[]), NAME)
    return head_apart(built_from(model, None, adapter_lr(cfg, LR)), model, prep, cfg)


def min_d(module, cfg) -> int:
    return 0
