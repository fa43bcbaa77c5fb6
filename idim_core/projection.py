"""Random projections P: R^d -> R^D for subspace fine-tuning (theta = theta0 + P z).

Three kinds, all seeded, all scaled so that every column has unit norm over the
whole of D (||P e_j|| = 1), so one learning rate for z behaves the same across d
and kinds:

* ``fastfood``: blocks of H G_b Pi H B (Le, Sarlos & Smola 2013), stacked to cover D.
  H is the unnormalised Walsh-Hadamard transform of size L (the next power of two
  >= d), B a random +-1 diagonal, Pi a permutation, G_b a Gaussian diagonal drawn
  per block.  Pi H B z is computed once and shared by all blocks: given it, the
  blocks' outputs are independent Gaussian mixtures, and no D-sized gather or
  permutation index is needed (the step cost is a few passes over D).  Time
  O(D log d), memory O(D) (one float per parameter), never a D x d matrix.
* ``sparse``: each column has exactly k = round(sqrt(D)) non-zeros (density about
  1/sqrt(D), as in Li et al. 2018), entries +-1/sqrt(k), rows drawn without
  replacement, so every column norm is exactly one.
* ``dense``: a Gaussian D x d matrix with normalised columns; only where it fits.

Each projection is a ``torch.nn.Module``: ``P(z)`` maps a (d,) tensor to a (D,)
tensor.  Gradients go through a custom autograd Function whose backward is the
exact adjoint ``P^T g`` of the forward, so autograd records nothing inside the
transform (no butterfly level is kept alive).
"""
from __future__ import annotations

import math
import os

import torch
from torch import nn

from . import native
from .names import PROJECTIONS as KINDS
from .names import projection_too_big

# The dense kind refuses matrices larger than this many bytes (env override).
DENSE_MAX_BYTES = int(os.environ.get("IDIM_DENSE_MAX_BYTES", str(1 << 30)))


class ProjectionError(ValueError):
    """A projection that cannot be built with the given sizes."""


# ---------------------------------------------------------------------------
# Walsh-Hadamard transform
# ---------------------------------------------------------------------------
_HADAMARD: dict[tuple, torch.Tensor] = {}


def _hadamard(m: int, dtype: torch.dtype, device: torch.device) -> torch.Tensor:
    key = (m, dtype, device)
    h = _HADAMARD.get(key)
    if h is None:
        h = torch.ones(1, 1, dtype=torch.float64)
        while h.shape[0] < m:
            h = torch.cat([torch.cat([h, h], 1), torch.cat([h, -h], 1)], 0)
        h = h.to(dtype=dtype, device=device)
        _HADAMARD[key] = h
    return h


def _factors(L: int, max_bits: int = 5) -> list[int]:
    """Split L = 2^k into factors for H_L = H_a (x) H_b (x) ..., the smallest first.

    Each factor is one batch of small matrix products over the whole array, and their order sets
    how well those products run: a factor applied with only a few elements after it (the old order
    32, 32, 2 for L = 2,048 applied its second 32 with 2 elements after it) is several times slower
    than the same factor with 32 or more after it, or than the last factor's one plain product.  So
    the remainder comes first and the factors of 32 last; up to 64 is one product.  Measured per L
    in bench/RESULTS.md ("The Walsh-Hadamard factors in order").
    """
    k = L.bit_length() - 1
    if k <= max_bits + 1:
        return [L] if k else []
    r = k % max_bits
    return ([1 << r] if r else []) + [1 << max_bits] * (k // max_bits)


def fwht(x: torch.Tensor, factors: list[int] | None = None) -> torch.Tensor:
    """Unnormalised Walsh-Hadamard transform (Sylvester order) over the last dim.

    On the CPU in float32, where the C code of idim_core/native.py is built: butterflies
    in cache-sized rows.  Otherwise (and with ``factors``) the Kronecker factorisation
    H_L = H_{m1} (x) H_{m2} (x) ...: a few small dense matrix products instead of log2(L)
    butterfly passes.  H is symmetric and H H = L I, so the same function is its own
    adjoint.  ``factors``: a split of L for the matrix products (bench/hadamard_factors.py
    times them); any gives H_L.
    """
    L = x.shape[-1]
    if L & (L - 1):
        raise ValueError(f"fwht needs a power-of-two length, got {L}")
    if L == 1:
        return x.clone()
    lead = x.shape[:-1]
    n = x.numel() // L
    if factors is None and n and native.usable(x):  # the C butterflies (idim_core/native.py)
        return native.fwht_rows(x.reshape(n, L)).reshape(*lead, L)
    y = x.reshape(n, L)
    before = 1
    if factors is not None and math.prod(factors) != L:
        raise ValueError(f"factors {factors} do not multiply to {L}")
    for m in _factors(L) if factors is None else factors:
        after = L // (before * m)
        h = _hadamard(m, x.dtype, x.device)
        if after == 1:
            y = (y.reshape(-1, m) @ h).reshape(n, L)
        else:
            y = torch.matmul(h, y.reshape(n * before, m, after)).reshape(n, L)
        before *= m
    return y.reshape(*lead, L)


def _next_pow2(n: int) -> int:
    return 1 << max(0, (n - 1).bit_length())


# ---------------------------------------------------------------------------
# Base class: a linear map with an explicit adjoint
# ---------------------------------------------------------------------------
class _Apply(torch.autograd.Function):
    @staticmethod
    def forward(ctx, z, proj):  # noqa: D401 - autograd signature
        ctx.proj = proj
        return proj.apply_forward(z)

    @staticmethod
    def backward(ctx, g):
        return ctx.proj.apply_adjoint(g.contiguous()), None


class Projection(nn.Module):
    kind = "base"

    def __init__(self, d: int, D: int, seed: int):
        super().__init__()
        _check_sizes(d, D)
        self.d, self.D, self.seed = int(d), int(D), int(seed)

    # subclasses implement the two maps without autograd
    def apply_forward(self, z: torch.Tensor) -> torch.Tensor:  # (d,) -> (D,)
        raise NotImplementedError

    def apply_adjoint(self, g: torch.Tensor) -> torch.Tensor:  # (D,) -> (d,)
        raise NotImplementedError

    def forward(self, z: torch.Tensor) -> torch.Tensor:
        if z.shape != (self.d,):
            raise ValueError(f"expected z of shape ({self.d},), got {tuple(z.shape)}")
        return _Apply.apply(z, self)

    def adjoint(self, g: torch.Tensor) -> torch.Tensor:
        """P^T g for a (D,) tensor g (no autograd)."""
        with torch.no_grad():
            return self.apply_adjoint(g)

    def matrix(self) -> torch.Tensor:
        """The explicit D x d matrix (for tests and small sizes only)."""
        if self.D * self.d > 50_000_000:
            raise ProjectionError("matrix() is for small projections only")
        dev = self._device()
        eye = torch.eye(self.d, device=dev)
        with torch.no_grad():
            return torch.stack([self.apply_forward(eye[j]) for j in range(self.d)], 1)

    def _device(self) -> torch.device:
        for b in self.buffers():
            return b.device
        return torch.device("cpu")

    def extra_repr(self) -> str:
        return f"d={self.d}, D={self.D}, seed={self.seed}"


def _check_sizes(d, D):
    if not isinstance(d, int) or not isinstance(D, int):
        raise ProjectionError(f"d and D must be integers, got d={d!r}, D={D!r}")
    if D < 1:
        raise ProjectionError(f"D must be at least 1, got {D}")
    if not 1 <= d <= D:
        raise ProjectionError(f"d must satisfy 1 <= d <= D={D}, got d={d}")


def _generator(seed: int) -> torch.Generator:
    return torch.Generator().manual_seed(int(seed) & 0xFFFF_FFFF_FFFF)


# ---------------------------------------------------------------------------
# Fastfood
# ---------------------------------------------------------------------------
class FastfoodProjection(Projection):
    kind = "fastfood"

    # The exact per-column norm of the truncated last block is computed when it costs at
    # most EXACT_BUDGET elements of transforms, or when using the average over columns would
    # be off by more than NORM_TOL in some column's norm.  For a block cut to R rows the
    # squared norms are sums of R independent chi-square(1) terms (H of a Gaussian vector), so
    # the average is off by about sqrt(2 R) / D relative to the whole squared norm.
    EXACT_BUDGET = 1 << 26
    NORM_TOL = 0.005

    def __init__(self, d: int, D: int, seed: int):
        super().__init__(d, D, seed)
        L = _next_pow2(d)
        nb = -(-D // L)
        g = _generator(seed)
        B = torch.randint(0, 2, (L,), generator=g).float() * 2 - 1
        perm = torch.randperm(L, generator=g)
        G = torch.randn(nb, L, generator=g)
        self.L, self.nb = L, nb
        self.register_buffer("B", B)
        self.register_buffer("perm", perm)
        self.register_buffer("inv_perm", torch.argsort(perm))
        self.register_buffer("G", G)
        # Column norms: for a full block, Pi H B e_j has +-1 entries, so every column of
        # H G_b Pi H B has squared norm L * ||G_b||^2, whatever j is.  Only the last
        # block, cut at D, depends on j.
        R = D - (nb - 1) * L  # rows kept from the last block
        full = L * float((G[:-1].double() ** 2).sum()) if nb > 1 else 0.0
        if R == L:
            sq = torch.full((d,), full + L * float((G[-1].double() ** 2).sum()), dtype=torch.float64)
        elif d * L <= self.EXACT_BUDGET or 3 * math.sqrt(2 * R) / D / 2 > self.NORM_TOL:  # 3 sigma, in norm
            sq = full + self._last_block_sq_norms(R)
        else:  # average over columns: every column norm within NORM_TOL of 1 (3 sigma)
            sq = torch.full((d,), full + R * float((G[-1].double() ** 2).sum()), dtype=torch.float64)
        self.register_buffer("scale", sq.clamp_min(1e-30).rsqrt().float())

    def _last_block_sq_norms(self, R: int) -> torch.Tensor:
        L, d = self.L, self.d
        out = torch.empty(d, dtype=torch.float64)
        chunk = max(1, (1 << 22) // L)
        for a in range(0, d, chunk):
            b = min(d, a + chunk)
            e = torch.zeros(b - a, L)
            e[torch.arange(b - a), torch.arange(a, b)] = self.B[a:b]
            v = fwht(e)[:, self.perm] * self.G[-1]
            out[a:b] = (fwht(v)[:, :R].double() ** 2).sum(1)
        return out

    # Chunks of this many elements (whole blocks) stay in a core's cache; on an accelerator
    # bigger chunks mean fewer kernel launches.
    CHUNK = 1 << 18
    CHUNK_ACCEL = 1 << 22

    def _shared(self, z):
        """u = Pi H B (s z): computed once per step and shared by all blocks."""
        x = torch.zeros(self.L, dtype=z.dtype, device=z.device)
        x[: self.d] = z * self.scale
        return fwht(x * self.B)[self.perm]

    def apply_forward(self, z):
        u = self._shared(z)
        w = self.G * u  # block b: G_b Pi H B x
        return fwht(w).reshape(-1)[: self.D]

    # -- fused, cache-sized passes: theta = theta0 + scale_k * (P z) per segment --------
    def pieces(self, segments) -> list[tuple[int, int, int]]:
        """Cut (start, end, k) segments at chunk boundaries (whole blocks per chunk)."""
        chunk = self.CHUNK if self.G.device.type == "cpu" else self.CHUNK_ACCEL
        step = max(1, chunk // self.L) * self.L
        out = []
        for a, b, k in segments:
            c = a
            while c < b:
                e = min(b, (c // step + 1) * step)
                out.append((c, e, k))
                c = e
        return out

    def _native(self, *tensors) -> bool:
        return all(t.is_contiguous() for t in tensors) and native.usable(self.G, *tensors)

    def fused_theta(self, z, theta0, pieces, scales, out=None):
        """theta0 + scales[k] * (P z) over each piece, without a D-sized temporary."""
        L = self.L
        u = self._shared(z)
        theta = torch.empty_like(theta0) if out is None else out
        if self._native(u, theta0, theta):  # the same passes in C, one call (idim_core/native.py)
            native.ff_theta(self.G, u, theta0, theta, pieces, scales)
            return theta
        for a, b, k in pieces:
            b0, b1 = a // L, -(-b // L)
            y = fwht(self.G[b0:b1] * u).reshape(-1)
            torch.add(theta0[a:b], y[a - b0 * L : b - b0 * L], alpha=scales[k], out=theta[a:b])
        return theta

    def fused_grad(self, g, z, pieces, scales, want_dots: bool):
        """The adjoint of fused_theta: (P^T (scale * g), [sum over segment k of g * Pz])."""
        L = self.L
        u = self._shared(z) if want_dots else None
        if self._native(g, *([u] if want_dots else [])):  # the same passes in C (idim_core/native.py)
            acc, dots = native.ff_grad(self.G, g, u, pieces, scales, len(scales))
            return self._finish(acc), dots
        acc = torch.zeros(L, dtype=g.dtype, device=g.device)
        acc_dtype = torch.float32 if g.device.type == "mps" else torch.float64  # MPS has no float64
        dots = torch.zeros(len(scales), dtype=acc_dtype, device=g.device) if want_dots else None
        for a, b, k in pieces:
            b0, b1 = a // L, -(-b // L)
            if a == b0 * L and b == b1 * L:
                gp = g[a:b].view(b1 - b0, L)
            else:  # a piece that starts or ends inside a block: zero the rest
                gp = g.new_zeros((b1 - b0) * L)
                gp[a - b0 * L : b - b0 * L] = g[a:b]
                gp = gp.view(b1 - b0, L)
            v = torch.linalg.vecdot(fwht(gp), self.G[b0:b1], dim=0)  # sum_b G_b * (H g_b)
            acc.add_(v, alpha=scales[k])
            if want_dots:  # sum_b <g_b, H(G_b * u)> = <sum_b G_b * H g_b, u>
                dots[k] += torch.dot(v, u).to(acc_dtype)
        return self._finish(acc), dots

    def _finish(self, acc):
        """grad z from acc = sum_b G_b * H g_b: the shared factor's adjoint, B H Pi^T, and the column scale."""
        return (fwht(acc[self.inv_perm]) * self.B)[: self.d] * self.scale

    def fused_grad_parts(self, parts, sizes, z, pieces, scales, want_dots: bool, buf):
        """fused_grad of a gradient given as consecutive parts of the given sizes (the model's per-parameter
        gradients; None: zeros).  The C code reads them where they are; otherwise they are copied into
        ``buf()`` (D floats, made only then) first."""
        u = self._shared(z) if want_dots else None
        given = [p for p in parts if p is not None]
        if self._native(*given, *([u] if want_dots else [])):
            acc, dots = native.ff_grad_parts(self.G, parts, sizes, u, pieces, scales, len(scales))
            return self._finish(acc), dots
        g, off = buf(), 0
        for gr, n in zip(parts, sizes):
            if gr is None:
                g[off : off + n].zero_()
            else:
                g[off : off + n].copy_(gr)
            off += n
        return self.fused_grad(g, z, pieces, scales, want_dots)

    def apply_adjoint(self, g):
        L, nb = self.L, self.nb
        if self.D == nb * L:
            gp = g.view(nb, L)
        else:
            gp = g.new_zeros(nb * L)
            gp[: self.D] = g
            gp = gp.view(nb, L)
        h = fwht(gp)
        u = torch.linalg.vecdot(h, self.G, dim=0)  # sum_b G_b * (H g_b)
        return (fwht(u[self.inv_perm]) * self.B)[: self.d] * self.scale


# ---------------------------------------------------------------------------
# Sparse
# ---------------------------------------------------------------------------
def _distinct_rows(d: int, k: int, D: int, g: torch.Generator) -> torch.Tensor:
    """A (d, k) tensor of row indices in [0, D), distinct within each column."""
    if k * 2 >= D:  # dense-ish: sort random keys
        return torch.argsort(torch.rand(d, D, generator=g), dim=1)[:, :k]
    rows = torch.randint(0, D, (d, k), generator=g)
    for _ in range(100):
        srt, order = rows.sort(dim=1)
        dup = torch.zeros_like(srt, dtype=torch.bool)
        dup[:, 1:] = srt[:, 1:] == srt[:, :-1]
        n = int(dup.sum())
        if n == 0:
            return srt
        srt[dup] = torch.randint(0, D, (n,), generator=g)
        rows = srt
    raise RuntimeError("could not draw distinct rows")  # pragma: no cover


class SparseProjection(Projection):
    kind = "sparse"

    def __init__(self, d: int, D: int, seed: int):
        super().__init__(d, D, seed)
        too_big = projection_too_big("sparse", d, D, DENSE_MAX_BYTES)
        if too_big:  # O(d * sqrt(D)) memory: about 5.7 GB at d = 100,000 on MiniLM
            raise ProjectionError(too_big)
        g = _generator(seed)
        k = max(1, min(D, round(math.sqrt(D))))
        self.k = k
        self.register_buffer("rows", _distinct_rows(d, k, D, g))
        signs = torch.randint(0, 2, (d, k), generator=g).float() * 2 - 1
        self.register_buffer("vals", signs / math.sqrt(k))

    def apply_forward(self, z):
        out = z.new_zeros(self.D)
        out.index_add_(0, self.rows.reshape(-1), (self.vals * z[:, None]).reshape(-1))
        return out

    def apply_adjoint(self, g):
        return (g[self.rows] * self.vals).sum(1)


# ---------------------------------------------------------------------------
# Dense
# ---------------------------------------------------------------------------
class DenseProjection(Projection):
    kind = "dense"

    def __init__(self, d: int, D: int, seed: int):
        super().__init__(d, D, seed)
        too_big = projection_too_big("dense", d, D, DENSE_MAX_BYTES)
        if too_big:
            raise ProjectionError(too_big)
        g = _generator(seed)
        W = torch.randn(D, d, generator=g)
        W /= W.norm(dim=0, keepdim=True).clamp_min(1e-30)
        self.register_buffer("W", W)

    def apply_forward(self, z):
        return self.W @ z

    def apply_adjoint(self, g):
        return self.W.t() @ g


_REGISTRY = {"fastfood": FastfoodProjection, "sparse": SparseProjection, "dense": DenseProjection}


def make_projection(kind: str, d: int, D: int, seed: int) -> Projection:
    """Build the projection ``kind`` from R^d to R^D, seeded by ``seed``."""
    try:
        cls = _REGISTRY[kind]
    except KeyError:
        raise ProjectionError(
            f"unknown projection {kind!r}; choose one of {', '.join(KINDS)}"
        ) from None
    return cls(int(d), int(D), int(seed))
