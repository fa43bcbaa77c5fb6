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


def build(prep, cfg, d, seed, projection):
    from .subspace_common import build_subspace

    return build_subspace(prep, cfg, d, seed, projection, NAME)


def scales(module, groups: str = "block") -> int:
    """How many lambdas SAID learns on this module."""
    from ..subspace import layer_group

    names = [n for n, _ in module.named_parameters()]
    return len(names) if groups == "tensor" else len({layer_group(n) for n in names})


def min_d(module, cfg) -> int:
    return scales(module, cfg.get("said_groups") or "block") + 1
