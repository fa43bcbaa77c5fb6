"""How the order of the Walsh-Hadamard factors sets Fastfood's speed.

    python bench/hadamard_factors.py                         # the transform of one chunk, every L up to 2^15
    python bench/hadamard_factors.py --search --Ls 2048,16384  # every order of up to k/5 + 1 factors (<= 64)
    python bench/hadamard_factors.py --passes --D 199210 --dims 100,1000,1500,3000 --threads 1   # the MLP
    python bench/hadamard_factors.py --passes --dims 1000,1732,10000                             # minilm-l6

fwht applies H_L as a few batches of small matrix products, one per Kronecker factor (idim_core/projection.py).
A factor applied with only a few elements after it runs several times slower than the same factor with 32 or
more after it, so the code puts the small remainder first and the factors of 32 last (_factors); before
2026-12-01 it put the 32s first ("largest first": 32, 32, 2 for L = 2,048).  This times both orders on one
chunk of FastfoodProjection.CHUNK floats (the fused passes transform one chunk at a time), interleaved, medians;
--passes times the whole fused forward and adjoint of a projection of size D with each order.  All of it
times the torch code (where idim_core/native.py's C library is built, training runs that instead:
bench/native_passes.py compares the two).
"""
from __future__ import annotations

import argparse
import functools
import itertools
import statistics
import sys
import time
from pathlib import Path

import torch

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from idim_core import native, projection  # noqa: E402
from idim_core.projection import FastfoodProjection, _factors, fwht  # noqa: E402

D_MINILM_L6 = 22_566_146


def largest_first(L: int) -> list[int]:
    """The order before 2026-12-01: factors of 32 first, the remainder last."""
    k, out = L.bit_length() - 1, []
    while k > 0:
        out.append(1 << min(5, k))
        k -= min(5, k)
    return out


def timed(fn, repeats: int) -> list[float]:
    out = []
    for _ in range(repeats):
        t = time.perf_counter()
        fn()
        out.append(time.perf_counter() - t)
    return out


def orders(k: int, most: int) -> list[list[int]]:
    """Every split of 2^k into at most ``most`` power-of-two factors of at most 64, in every order."""
    out = []
    for n in range(1, most + 1):
        for bits in itertools.product(range(1, 7), repeat=n):
            if sum(bits) == k:
                out.append([1 << b for b in bits])
    return out


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--Ls", default=",".join(str(1 << k) for k in range(4, 16)))
    ap.add_argument("--repeats", type=int, default=25)
    ap.add_argument("--threads", type=int, default=1)
    ap.add_argument("--search", action="store_true", help="time every order, print the four fastest")
    ap.add_argument("--passes", action="store_true", help="the fused forward and adjoint over D, not one chunk")
    ap.add_argument("--D", type=int, default=D_MINILM_L6)
    ap.add_argument("--dims", default="1000,1732,10000")
    args = ap.parse_args()
    with native.off():  # the factors are the torch code's: the C library of native.py does butterflies
        run(args)


def run(args) -> None:
    torch.set_num_threads(args.threads)
    g = torch.Generator().manual_seed(0)
    print(f"{args.threads} thread(s), medians of {args.repeats}")
    if args.passes:
        D = args.D
        segs, scales = [(0, D // 8, 0), (D // 8, D // 2, 1), (D // 2, D, 2)], [1.0, 0.5, 2.0]
        theta0, grad, out = torch.randn(D, generator=g), torch.randn(D, generator=g), torch.empty(D)
        code = projection._factors
        for d in (int(v) for v in args.dims.split(",")):
            p = FastfoodProjection(d, D, 0)
            pieces, z = p.pieces(segs), torch.randn(d, generator=g)
            times = {"largest first": [], "the code's": []}
            for _ in range(max(2, args.repeats // 3)):  # alternate the two orders, a few passes each
                for name, rule in (("largest first", largest_first), ("the code's", code)):
                    projection._factors = lambda L, max_bits=5, rule=rule: rule(L)
                    try:
                        p.fused_theta(z, theta0, pieces, scales, out=out)
                        times[name] += [a + b for a, b in zip(
                            timed(functools.partial(p.fused_theta, z, theta0, pieces, scales, out=out), 3),
                            timed(functools.partial(p.fused_grad, grad, z, pieces, scales, want_dots=True), 3))]
                    finally:
                        projection._factors = code
            old, new = (statistics.median(v) * 1e3 for v in times.values())
            print(f"D = {D:,}, d = {d:,}, L = {p.L:,}: forward + adjoint {old:8.2f} ms largest first "
                  f"{largest_first(p.L)}, {new:8.2f} ms the code's {_factors(p.L)}  ({old / new:.2f}x)")
        return
    chunk = FastfoodProjection.CHUNK
    for L in (int(v) for v in args.Ls.split(",")):
        x = torch.randn(max(1, chunk // L), L, generator=g)
        k = L.bit_length() - 1
        cands = orders(k, (k + 4) // 5 + 1) if args.search else [largest_first(L), _factors(L)]
        cands = [c for i, c in enumerate(cands) if c not in cands[:i]]
        times: dict[tuple, list[float]] = {tuple(c): [] for c in cands}
        for c in cands:
            fwht(x, c)
        for _ in range(args.repeats):  # interleaved
            for c in cands:
                times[tuple(c)] += timed(functools.partial(fwht, x, c), 1)
        med = {c: statistics.median(v) * 1e3 for c, v in times.items()}
        old, new = med[tuple(largest_first(L))], med[tuple(_factors(L))]
        line = (f"L = {L:6,}: largest first {largest_first(L)} {old:6.3f} ms, the code's {_factors(L)} "
                f"{new:6.3f} ms ({old / new:.2f}x)")
        if args.search:
            best = sorted(med.items(), key=lambda kv: kv[1])[:4]
            line += "; fastest: " + ", ".join(f"{list(c)} {t:.3f}" for c, t in best)
        print(line, flush=True)


if __name__ == "__main__":
    main()
