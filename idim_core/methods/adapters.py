"""What the parameter-efficient methods share: which parameters are the head, which layers
LoRA and VeRA adapt, the rank checks, and a Built over a model whose frozen parameters stay theta0.

Every such method trains a copy of the prepared model with ``requires_grad`` on its own
parameters only; the number it reports is counted from those parameters, never a formula.
"""
from __future__ import annotations

import re

from ..errors import UserError
from .base import built_from  # noqa: F401  (the methods build through it)

# the classifier head of a transformers model or of this project's EncoderClassifier
HEAD_RE = re.compile(r"(^|\.)(classifier|score|pre_classifier)\.")


def require_peft(method: str):
    try:
        import peft  # noqa: F401
    except ImportError:
        raise UserError(f"--method {method} needs the peft library (a dependency of idim): "
                        "pip install 'peft>=0.13'") from None
    return peft


def head_names(module) -> list[str]:
    """Parameter names of the classifier head: a named head, else the last linear layer (classic nets)."""
    import torch

    names = [n for n, _ in module.named_parameters() if HEAD_RE.search(n)]
    if names:
        return names
    last = None
    for name, mod in module.named_modules():
        if isinstance(mod, torch.nn.Linear):
            last = name
    if last is None:
        raise UserError("cannot find the classifier head of this model (no linear layer)")
    return [f"{last}.{n}" for n, _ in module.get_submodule(last).named_parameters()]


def _head_modules(module) -> set[str]:
    return {n.rsplit(".", 1)[0] for n in head_names(module)}


def targets_of(module, cfg) -> list[str]:
    """The layers a run's adapters go on: --lora-targets, narrowed to the last --lora-layers blocks."""
    return target_layers(module, cfg.lora_targets or "query-value", cfg.lora_layers)


_BLOCK = re.compile(r"(?:^|\.)(?:layer|layers|h|block|blocks)\.(\d+)\.")


def target_layers(module, targets: str, last: int | None = None) -> list[str]:
    """Full names of the linear layers LoRA / VeRA adapt.

    ``query-value``: the attention's query and value projections (peft's default for BERT-type
    models; for other architectures peft's own table of their names); ``all-linear``: every
    linear layer but the head.  Nets without attention (the classic ones) always take all-linear.
    """
    import torch

    head = _head_modules(module)
    linear = [n for n, m in module.named_modules() if isinstance(m, torch.nn.Linear) and n not in head]
    if targets == "all-linear":
        return _last_blocks(linear, last)
    suffixes = ["query", "value"]
    cfg = getattr(module, "config", None)
    if cfg is not None and getattr(cfg, "model_type", None):
        try:
            from peft.utils import TRANSFORMERS_MODELS_TO_LORA_TARGET_MODULES_MAPPING as MAP

            suffixes = list(MAP.get(cfg.model_type) or suffixes)
        except ImportError:
            pass
    picked = [n for n in linear if n.rsplit(".", 1)[-1] in suffixes] or linear
    return _last_blocks(picked, last)


def _last_blocks(names: list[str], last: int | None) -> list[str]:
    """Only the layers of the last ``last`` numbered blocks (all of them when ``last`` is None)."""
    if last is None:
        return names
    blocks = {n: int(m.group(1)) for n in names for m in [_BLOCK.search(n)] if m}
    if not blocks:
        raise UserError("--lora-layers needs a model made of numbered transformer layers; this one has none "
                        "(leave --lora-layers out)")
    top = sorted(set(blocks.values()))[-last:]
    return [n for n in names if blocks.get(n) in top]


def check_rank(module, layers: list[str], rank: int, method: str) -> None:
    """A rank larger than a layer's smaller side cannot be a low-rank update of it."""
    for name in layers:
        mod = module.get_submodule(name)
        width = min(mod.in_features, mod.out_features)
        if rank > width:
            raise UserError(f"--ranks {rank} is larger than layer {name}'s width ({width}); "
                            f"{method} ranks must be at most {width} here")


def adapter_lr(cfg, method_default: float) -> float:
    v = cfg.lr_adapter
    return float(v) if v else method_default


def head_lr(cfg) -> float:
    """The classifier head's rate in every adapter method: --lr-head, else head-only's own rate (chosen on
    validation for the head alone), so no method's head trains at a rate tuned for something else."""
    from ..plugins import registry  # the methods' registry, read without importing this package (no circle)

    v = cfg.lr_head
    return float(v) if v else next(m.LR for m in registry("method").modules.values() if m.HEAD_ONLY)


def _is_head(name: str, heads) -> bool:
    """Whether a parameter of a (possibly peft-wrapped) model is one of the prepared model's head ``heads``."""
    return any(name.endswith("model." + h) or name == h for h in heads)


def head_apart(built, model, prep, cfg):
    """The Built with the classifier head in a param group of its own, at ``head_lr(cfg)``."""
    heads = set(head_names(prep.module))
    head = [p for name, p in model.named_parameters() if p.requires_grad and _is_head(name, heads)]
    ids = {id(p) for p in head}
    rest = [p for g in built.param_groups for p in g["params"] if id(p) not in ids]
    built.param_groups = ([{"params": rest, "lr": built.lr}] if rest else []) + \
        ([{"params": head, "lr": head_lr(cfg)}] if head else [])
    return built


def peft_model(prep, cfg, peft_config_for, method: str):
    """A deep copy of the prepared model with peft adapters on the target layers; the head trains too."""
    import copy

    require_peft(method)
    from peft import get_peft_model

    base = copy.deepcopy(prep.module)
    layers = targets_of(base, cfg)
    heads = head_names(base)
    model = get_peft_model(base, peft_config_for(layers))
    for n, p in model.named_parameters():  # the new head trains as in every method (peft froze it)
        if _is_head(n, heads):
            p.requires_grad_(True)
    return model, layers


BUNDLED_WIDTH = 384  # the bundled MiniLM's hidden size: its query, value and feed-forward layers' smaller side


def bundled_width(cfg) -> int | None:
    """The smaller side of the adapted layers when it is known before loading (the bundled MiniLM), else None."""
    from .. import models
    from ..classic import is_classic_model

    if is_classic_model(cfg.model):
        return None
    try:
        return BUNDLED_WIDTH if models.resolve(cfg.model).source == "bundled" else None
    except (UserError, OSError):
        return None


def check_ranks_fit(cfg, method: str) -> None:
    """A rank above the bundled model's width is refused when the run is made (other models: in build)."""
    width = bundled_width(cfg)
    ranks = cfg.ranks or []
    if width and ranks and max(ranks) > width:
        raise UserError(f"--ranks {max(ranks)} is larger than the layers' width ({width}) of "
                        f"{cfg.model}; {method} ranks must be at most {width}")
