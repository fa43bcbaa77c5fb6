"""What DID and SAID share: theta = theta0 + (lambda *) P z through a SubspaceModel."""
from __future__ import annotations


def build_subspace(prep, cfg, d, seed, projection, method):
    from ..names import z_lr
    from ..subspace import FlatParams, SubspaceModel
    from .base import Built

    if prep.flat is None:  # flatten theta0 once, at the first subspace trial of a run
        prep.flat = FlatParams(prep.module)
    model = SubspaceModel(prep.module, prep.flat, d, method, projection, seed, cfg.said_groups)
    # the rate follows the length of z: d for DID, d minus the number of scales for SAID (they count in d)
    lr = z_lr(cfg.lr_subspace, model.z.numel(), cfg.lr_scaling)
    groups = [{"params": [model.z], "lr": lr}]
    if model.lam is not None:  # SAID's scales keep the reference rate: their number does not grow with d
        groups.append({"params": [model.lam], "lr": cfg.lr_subspace})

    def snapshot():
        return [p.detach().clone() for p in model.trainable()]

    def restore(state):
        for p, v in zip(model.trainable(), state):
            p.data.copy_(v)

    return Built(model, groups, model.num_trainable, lr, snapshot, restore)
