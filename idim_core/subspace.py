"""Subspace fine-tuning: theta = theta0 + P z (DID) or theta0 + lambda_layer * P z (SAID).

Which parameters are in the subspace: **all of them**, the new classifier head
included.  The head is part of the network whose intrinsic dimension we measure; a
head trained outside the subspace would add hidden trainable parameters that d does
not count (Aghajanyan et al. 2021 count everything).  With a head built the way the
checkpoint pools (see models.py) a real curve appears at modest d.

SAID: one learned scalar lambda per layer group (embeddings, each transformer block,
and everything else - pooler/head/final norms - as one group), initialised to 1 so
training starts exactly at the DID parametrisation.  The m scalars count in d: the
projected vector z has d - m entries, so both methods train exactly d numbers.

The wrapped model is called with ``torch.func.functional_call`` and *all* keyword
inputs (input_ids, attention_mask, token_type_ids ...), never just one positional
tensor, so attention masks are honoured.
"""
from __future__ import annotations

import re

import torch
from torch import nn
from torch.func import functional_call

from .errors import UserError
from .projection import make_projection

_LAYER_RE = re.compile(r"(?:^|\.)(?:layer|layers|h|block|blocks)\.(\d+)\.")


def layer_group(name: str) -> str:
    """The SAID group of a parameter: 'layer.i', 'embeddings' or 'head'."""
    m = _LAYER_RE.search(name)
    if m:
        return f"layer.{int(m.group(1))}"
    if "embed" in name:
        return "embeddings"
    return "head"


class _Theta(torch.autograd.Function):
    """theta = theta0 + lambda_seg * (P z) in one step, with a hand-written backward.

    Fusing the SAID scaling into the projection saves several passes over D per step
    (no D-sized lambda vector, no separate add/multiply nodes).  ``segments`` are runs
    of parameters that share a lambda: (start, end, group index).  Fastfood goes
    further: it works through D in cache-sized chunks and holds no D-sized
    temporary at all (see FastfoodProjection.fused_theta / fused_grad).
    """

    @staticmethod
    def forward(ctx, z, lam, proj, theta0, segments):
        ctx.proj = proj
        ctx.segments = segments if lam is not None else None
        if hasattr(proj, "fused_theta"):
            segs = segments if lam is not None else [(0, theta0.numel(), 0)]
            ctx.pieces = proj.pieces(segs)
            scales = lam.tolist() if lam is not None else [1.0]
            ctx.save_for_backward(z, lam)
            return proj.fused_theta(z, theta0, ctx.pieces, scales)
        ctx.pieces = None
        pz = proj.apply_forward(z)
        if lam is None:
            return pz.add_(theta0)
        scales = lam.tolist()
        theta = torch.empty_like(pz)
        for a, b, k in segments:
            torch.add(theta0[a:b], pz[a:b], alpha=scales[k], out=theta[a:b])
        ctx.save_for_backward(pz, lam)
        return theta

    @staticmethod
    def backward(ctx, g):
        g = g.contiguous()
        if ctx.pieces is not None:
            z, lam = ctx.saved_tensors
            scales = lam.tolist() if lam is not None else [1.0]
            grad_z, dots = ctx.proj.fused_grad(g, z, ctx.pieces, scales, want_dots=lam is not None)
            return grad_z, (dots.to(lam.dtype) if lam is not None else None), None, None, None
        if ctx.segments is None:
            return ctx.proj.apply_adjoint(g), None, None, None, None
        pz, lam = ctx.saved_tensors
        scales = lam.tolist()
        gs = torch.empty_like(g)
        dots = []
        for a, b, k in ctx.segments:
            torch.mul(g[a:b], scales[k], out=gs[a:b])
            dots.append(torch.dot(g[a:b], pz[a:b]))
        idx = torch.tensor([k for _, _, k in ctx.segments], device=lam.device)
        grad_lam = torch.zeros_like(lam).index_add_(0, idx, torch.stack(dots).to(lam.dtype))
        return ctx.proj.apply_adjoint(gs), grad_lam, None, None, None


class _StepBuffers:
    """theta and its gradient, D floats each, kept for the whole trial.

    A fresh 90 MB tensor per step costs tens of milliseconds in page faults alone (the
    allocator hands such sizes back to the system); reusing two buffers avoids that.
    Reuse is safe: a step's graph is freed by its backward before the next forward
    writes theta again, and if anything kept an old graph alive, autograd's version
    check would raise instead of computing with overwritten values.
    """

    __slots__ = ("theta", "grad")

    def __init__(self):
        self.theta = None
        self.grad = None

    def get(self, name: str, like: torch.Tensor) -> torch.Tensor:
        t = getattr(self, name)
        if t is None or t.shape != like.shape or t.device != like.device or t.dtype != like.dtype:
            t = torch.empty_like(like)
            setattr(self, name, t)
        return t


class _FusedParams(torch.autograd.Function):
    """Fastfood only: the model's parameters straight from z, as views of one theta buffer.

    Forward writes theta0 + lambda_seg * (P z) chunk by chunk into the trial's theta
    buffer and returns its per-parameter views; backward runs the fused adjoint on the
    per-parameter gradients (the C passes read them in place; the torch code first gathers
    them into the trial's gradient buffer, one pass, no concatenation into fresh memory).
    """

    @staticmethod
    def forward(ctx, z, lam, proj, theta0, segments, sizes, bufs):
        segs = segments if lam is not None else [(0, theta0.numel(), 0)]
        ctx.pieces = proj.pieces(segs)
        ctx.proj, ctx.sizes, ctx.bufs, ctx.said = proj, sizes, bufs, lam is not None
        scales = lam.tolist() if lam is not None else [1.0]
        ctx.save_for_backward(z, lam)
        theta = proj.fused_theta(z, theta0, ctx.pieces, scales, out=bufs.get("theta", theta0))
        return tuple(theta.split(sizes))

    @staticmethod
    def backward(ctx, *grads):
        z, lam = ctx.saved_tensors
        scales = lam.tolist() if lam is not None else [1.0]
        parts = [None if gr is None else gr.reshape(-1) for gr in grads]
        # the C passes read the parts where autograd left them; the torch code copies them into the trial's
        # gradient buffer first (made only then)
        grad_z, dots = ctx.proj.fused_grad_parts(parts, ctx.sizes, z, ctx.pieces, scales, ctx.said,
                                                 buf=lambda: ctx.bufs.get("grad", ctx.bufs.theta))
        return grad_z, (dots.to(lam.dtype) if ctx.said else None), None, None, None, None, None


class FlatParams:
    """theta0 as one flat frozen vector, shared by every trial of a run.

    The model's own parameters are re-pointed at views of that vector, so the
    weights are held in memory once.
    """

    def __init__(self, model: nn.Module):
        named = [(n, p) for n, p in model.named_parameters()]
        self.names = [n for n, _ in named]
        self.shapes = [tuple(p.shape) for _, p in named]
        self.sizes = [p.numel() for _, p in named]
        with torch.no_grad():
            self.theta0 = torch.cat([p.detach().reshape(-1) for _, p in named]).contiguous()
        offset = 0
        for (_, p), n in zip(named, self.sizes):
            p.data = self.theta0[offset : offset + n].view_as(p)
            p.requires_grad_(False)
            offset += n
        self.D = offset
        groups = [layer_group(n) for n in self.names]
        order = []
        for g in groups:
            if g not in order:
                order.append(g)
        self.group_names = order
        self.tensor_group = torch.tensor([order.index(g) for g in groups])
        # contiguous runs of parameters with the same group: (start, end, group)
        self.segments: list[tuple[int, int, int]] = []
        offset = 0
        for g, n in zip(groups, self.sizes):
            k = order.index(g)
            if self.segments and self.segments[-1][2] == k and self.segments[-1][1] == offset:
                a, _, _ = self.segments[-1]
                self.segments[-1] = (a, offset + n, k)
            else:
                self.segments.append((offset, offset + n, k))
            offset += n

    @property
    def num_groups(self) -> int:
        return len(self.group_names)

    def grouping(self, mode: str = "block") -> tuple[int, list[tuple[int, int, int]]]:
        """(number of SAID scales, segments) for ``block`` (one per layer) or ``tensor`` (one per tensor)."""
        if mode == "block":
            return self.num_groups, self.segments
        if mode == "tensor":  # one lambda per parameter tensor, as in the authors' released code
            segs, offset = [], 0
            for k, n in enumerate(self.sizes):
                segs.append((offset, offset + n, k))
                offset += n
            return len(self.sizes), segs
        raise UserError(f"unknown SAID grouping {mode!r}; choose block or tensor")


class SubspaceModel(nn.Module):
    """Trains only d numbers: z (and, for SAID, one lambda per layer group)."""

    def __init__(self, model: nn.Module, flat: FlatParams, d: int, method: str = "did",
                 projection: str = "fastfood", seed: int = 0, said_groups: str = "block"):
        super().__init__()
        if method not in ("did", "said"):  # the two subspace variants this model implements
            raise UserError(f"unknown method {method!r}; choose did or said")
        self.model = model
        self.flat = flat
        self.method = method
        self.d = int(d)
        if not 1 <= self.d <= flat.D:
            raise UserError(f"d={d} is out of range: it must be between 1 and D={flat.D:,}")
        m, self.segments = flat.grouping(said_groups) if method == "said" else (0, flat.segments)
        if method == "said" and self.d <= m:
            raise UserError(
                f"SAID needs d > {m}: its {m} scales ({said_groups} groups) count in d; use a larger d or --method did"
            )
        device = flat.theta0.device
        self.z = nn.Parameter(torch.zeros(self.d - m, device=device))
        self.lam = nn.Parameter(torch.ones(m, device=device)) if m else None
        self.lam_names = (flat.group_names if said_groups == "block" else list(flat.names)) if m else []
        self.P = make_projection(projection, self.d - m, flat.D, seed).to(device)
        self._cache = None  # (z, lambda) -> params, for evaluation without grad
        self._bufs = _StepBuffers()  # theta and its gradient, reused by every training step

    @property
    def num_trainable(self) -> int:
        return sum(p.numel() for p in (self.z, self.lam) if p is not None)

    def trainable(self) -> list[nn.Parameter]:
        return [p for p in (self.z, self.lam) if p is not None]

    def theta(self) -> torch.Tensor:
        """theta0 + P z (DID) or theta0 + lambda_layer * P z (SAID), as one flat vector."""
        if self.z.shape[0] != self.P.d:
            raise ValueError("z and the projection disagree")
        return _Theta.apply(self.z, self.lam, self.P, self.flat.theta0, self.segments)

    def params(self) -> dict[str, torch.Tensor]:
        if torch.is_grad_enabled() and hasattr(self.P, "fused_theta"):
            if self.z.shape[0] != self.P.d:
                raise ValueError("z and the projection disagree")
            pieces = _FusedParams.apply(self.z, self.lam, self.P, self.flat.theta0, self.segments,
                                        self.flat.sizes, self._bufs)
            return {n: t.view(s) for n, t, s in zip(self.flat.names, pieces, self.flat.shapes)}
        theta = self.theta()
        # torch.split: one concatenation in backward, not one D-sized zero grad per slice
        pieces = torch.split(theta, self.flat.sizes)
        return {n: t.view(s) for n, t, s in zip(self.flat.names, pieces, self.flat.shapes)}

    def forward(self, **inputs) -> torch.Tensor:
        if torch.is_grad_enabled():
            self._cache = None
            params = self.params()
        else:  # evaluation: theta is built once per state of (z, lambda), not once per batch
            key = [p.detach() for p in self.trainable()]
            c = self._cache
            if c is None or not all(torch.equal(a, b) for a, b in zip(c[0], key)):
                c = self._cache = ([k.clone() for k in key], self.params())
            params = c[1]
        return functional_call(self.model, params, args=(), kwargs=inputs)
