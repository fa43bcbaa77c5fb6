"""DID, the direct intrinsic dimension: theta = theta0 + P z, one random projection of all D parameters."""
from __future__ import annotations

NAME = "did"
LABEL = "DID: direct (one projection over all parameters)"
SHORT = "DID (random subspace)"
AXIS = "d"
ORDER = 10


def build(prep, cfg, d, seed, projection):
    from .subspace_common import build_subspace

    return build_subspace(prep, cfg, d, seed, projection, NAME)


def min_d(module, cfg) -> int:
    return 1
