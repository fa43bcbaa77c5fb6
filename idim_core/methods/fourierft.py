"""FourierFT through peft (Gao et al. 2024): each adapted layer's update is the inverse 2-D Fourier
transform of n trained spectral coefficients at fixed random frequencies, Delta W = scaling * IDFT(c);
the coefficients start at zero (theta0 exactly).  On the attention's query and value (every linear
layer but the head on the classic nets); the head trains too.  One point per n, the number of
spectral coefficients per layer: n at most the layer's in x out.

The frequencies are drawn from the trial's seed, so seeds differ in where the spectrum is sampled
(as VeRA's matrices do).  scaling = 150, peft's default.  Rates: 6e-2 for the coefficients and 6e-3 for
the head, those of peft's own example (examples/sequence_classification/FourierFT.ipynb, RoBERTa-base on
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
HEAD_LR = 6e-3  # the head's (peft's example)
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
        _check_fit({"query/value": width * width}, max(cfg["ranks"]))


def check_model(module, cfg) -> None:
    from .adapters import target_layers

    layers = target_layers(module, cfg["lora_targets"])
    _check_fit({n: module.get_submodule(n).in_features * module.get_submodule(n).out_features for n in layers},
               max(cfg["ranks"]))


def build(prep, cfg, d, seed, projection):
    from .adapters import adapter_lr, built_from, head_names, peft_model, require_peft, target_layers

    require_peft(NAME)
    from peft import FourierFTConfig

    n = int(d)
    check_model(prep.module, cfg.but(ranks=[n]))
    model, _ = peft_model(prep, cfg, lambda layers: FourierFTConfig(n_frequency=n, scaling=SCALING,
                                                                    random_loc_seed=seed, target_modules=layers), NAME)
    built = built_from(model, None, adapter_lr(cfg, LR))
    heads = set(head_names(prep.module))
    head = [p for name, p in model.named_parameters() if p.requires_grad
            and any(name.endswith("model." + h) or name == h for h in heads)]
    ids = {id(p) for p in head}
    spectrum = [p for p in built.param_groups[0]["params"] if id(p) not in ids]
    built.param_groups = [{"params": spectrum, "lr": built.lr}, {"params": head, "lr": HEAD_LR}]
    return built


def min_d(module, cfg) -> int:
    return 1
