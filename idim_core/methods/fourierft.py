"""FourierFT through peft (Gao et al. 2024): each adapted layer's update is the inverse 2-D Fourier
transform of n trained spectral coefficients at fixed random frequencies, Delta W = scaling * IDFT(c);
the coefficients start at zero (theta0 exactly).  On the attention's query and value (every linear
layer but the head on the classic nets); the head trains too.  One point per n, the number of
spectral coefficients per layer: n at most the layer's in x out.

The frequencies are drawn from the trial's seed, so seeds differ in where the spectrum is sampled
(as VeRA's matrices do).  scaling = 150, peft's default.  Rate: 6e-2 for the coefficients, that of peft's
own example (examples/sequence_classification/FourierFT.ipynb, RoBERTa-base on
MRPC).  The coefficients' rate was kept on validation (minilm-l6, mr, n = 100, 3 seeds; mean validation
accuracy 2e-2: 0.704, 6e-2: 0.721, 2e-1: 0.724, the best within one standard error of 6e-2):
    python bench/tune_defaults.py --kind adapters --methods fourierft --adapter-lrs 2e-2,6e-2,2e-1 --seeds 3.
"""
from __future__ import annotations

NAME = "fourierft"
LABEL = "FourierFT: n trained spectral coefficients per layer on query and value (peft), one point per n"
SHORT = "FourierFT"
AXIS = "rank"
LEVEL_NAME = "n"
LEVEL_WORD = "spectral coefficient"
DEFAULT_LEVELS = [10, 100, 1000]
REQUIRES = ("peft",)
ORDER = 45
LR = 6e-2  # the coefficients' Adam rate unless --lr-adapter is given (see above)
SCALING = 150.0


def _check_fit(sizes: dict[str, int], n: int) -> None:
    from ..errors import UserError

    for name, size in sizes.items():
        if n > size:
            raise UserError(f"--ranks {n} is more spectral coefficients than layer {name} has entries ({size:,}); "
                            f"fourierft takes at most {size:,} here")


def check(cfg) -> None:
    from .adapters import bundled_width

    width = bundled_width(cfg)
    if width:
        _check_fit({"query/value": width * width}, max(cfg.ranks))


def check_model(module, cfg) -> None:
    from .adapters import targets_of

    layers = targets_of(module, cfg)
    _check_fit({n: module.get_submodule(n).in_features * module.get_submodule(n).out_features for n in layers},
               max(cfg.ranks))


def build(prep, cfg, d, seed, projection):
    from .adapters import adapter_lr, built_from, head_apart, peft_model, require_peft

    require_peft(NAME)
    from peft import FourierFTConfig

    n = int(d)
    check_model(prep.module, cfg.but(ranks=[n]))
    model, _ = peft_model(prep, cfg, lambda layers: FourierFTConfig(n_frequency=n, scaling=SCALING,
                                                                    random_loc_seed=seed, target_modules=layers), NAME)
    return head_apart(built_from(model, None, adapter_lr(cfg, LR)), model, prep, cfg)


def min_d(module, cfg) -> int:
    return 1
