"""SAID, structure-aware: theta_i = theta0_i + lambda_group(i) * (P z)_i; the m scales count in d.

Groups: ``block`` (one lambda per transformer block, the embeddings and the head; the
paper's text) or ``tensor`` (one per parameter tensor; the authors' released code).
"""
from __future__ import annotations

NAME = "said"
LABEL = "SAID: structure-aware (one learned scale per layer)"
SHORT = "SAID (random subspace)"
AXIS = "d"
ORDER = 20
FIELDS = ("said_groups",)  # the run settings that are SAID's alone


def build(prep, cfg, d, seed, projection):
    from .subspace_common import build_subspace

    return build_subspace(prep, cfg, d, seed, projection, NAME)


def scales(module, groups: str = "block") -> int:
    """How many lambdas SAID learns on this module."""
    from ..subspace import layer_group

    names = [n for n, _ in module.named_parameters()]
    return len(names) if groups == "tensor" else len({layer_group(n) for n in names})


def min_d(module, cfg) -> int:
    return scales(module, cfg.said_groups or "block") + 1


def check(cfg) -> None:
    """SAID's m scales count in d: every d must exceed m (known before loading for the bundled and classic
    models; others are checked when the model is loaded, through ``min_d``)."""
    from ..errors import UserError

    if cfg.auto:
        return
    m = known_scales(cfg.model, cfg.said_groups, cfg.classic)
    if m is not None and min(cfg.dims) <= m:
        raise UserError(f"SAID needs d > {m}: its {m} scales ({cfg.said_groups} groups) count in d; "
                        f"drop d={min(cfg.dims):,} or use --method did")


def known_scales(model: str, groups: str, classic: bool) -> int | None:
    """How many SAID scales a known model has (None when unknown before loading it)."""
    if classic:
        from ..classic import param_tensors

        n = param_tensors(model)
        return n if groups == "tensor" else n // 2  # one scale per layer (weight and bias)
    from .. import models

    try:
        layers = models.resolve(model).layers
    except Exception:  # noqa: BLE001 - an unknown model: checked when loaded
        return None
    if not layers or models.resolve(model).source != "bundled":
        return None
    # BERT-type MiniLM with this project's mean-pooling head: 5 embedding tensors, 16 per block,
    # 2 in the head (tests/test_subspace.py checks these counts against the real modules)
    return layers + 2 if groups == "block" else 5 + 16 * layers + 2
