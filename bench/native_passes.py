"""Fastfood's fused passes in C against idim's torch code, side by side.

    python bench/native_passes.py                                 # minilm-l6's D, d = 1,000 / 1,732 / 10,000
    python bench/native_passes.py --D 199210 --dims 100,1000,1500,3000 --threads 1    # the classic MLP

The forward pass (theta = theta0 + scale * P z, written into theta) and the adjoint (P^T g with SAID's
per-segment dots) of a FastfoodProjection of size D, timed with the C library of idim_core/native.py and
with the torch code (native.off()), alternated a few passes at a time; medians, and how far the two
results are apart (relative to the largest entry: they sum in different orders).
"""
from __future__ import annotations

import argparse
import contextlib
import functools
import statistics
import sys
from pathlib import Path

import torch

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from hadamard_factors import D_MINILM_L6, timed  # noqa: E402  (this folder: the torch code's own bench)

from idim_core import native  # noqa: E402
from idim_core.projection import FastfoodProjection  # noqa: E402


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--D", type=int, default=D_MINILM_L6)
    ap.add_argument("--dims", default="1000,1732,10000")
    ap.add_argument("--repeats", type=int, default=15, help="passes of each kind (alternated in threes)")
    ap.add_argument("--threads", type=int, default=0, help="torch's threads (0: torch's default)")
    args = ap.parse_args()
    if args.threads:
        torch.set_num_threads(args.threads)
    st = native.status()
    print(f"{torch.get_num_threads()} thread(s); {st['why']}")
    if not st["native"]:
        raise SystemExit("the C library is not available here, so there is nothing to compare")
    g = torch.Generator().manual_seed(0)
    D = args.D
    segs, scales = [(0, D // 8, 0), (D // 8, D // 2, 1), (D // 2, D, 2)], [1.0, 0.5, 2.0]
    theta0, grad = torch.randn(D, generator=g), torch.randn(D, generator=g)
    outs = {"C": torch.empty(D), "torch": torch.empty(D)}
    for d in (int(v) for v in args.dims.split(",")):
        p = FastfoodProjection(d, D, 0)
        pieces, z = p.pieces(segs), torch.randn(d, generator=g)
        fwd: dict[str, list[float]] = {"C": [], "torch": []}
        adj: dict[str, list[float]] = {"C": [], "torch": []}
        grads = {}
        for _ in range(max(1, args.repeats // 3)):
            for name in ("C", "torch"):
                with native.off() if name == "torch" else contextlib.nullcontext():
                    out = outs[name]
                    p.fused_theta(z, theta0, pieces, scales, out=out)
                    fwd[name] += timed(functools.partial(p.fused_theta, z, theta0, pieces, scales, out=out), 3)

                    def adjoint(name=name, p=p, z=z, pieces=pieces, grads=grads):  # bound now: timed calls it here
                        grads[name] = p.fused_grad(grad, z, pieces, scales, True)

                    adj[name] += timed(adjoint, 3)
        med = {k: (statistics.median(fwd[k]) * 1e3, statistics.median(adj[k]) * 1e3) for k in fwd}
        dt = float((outs["C"] - outs["torch"]).abs().max() / (outs["torch"] - theta0).abs().max())
        dg = float((grads["C"][0] - grads["torch"][0]).abs().max() / grads["torch"][0].abs().max())
        c, t = med["C"], med["torch"]
        print(f"D = {D:,}, d = {d:,}, L = {p.L:,}: forward {c[0]:7.2f} ms C, {t[0]:7.2f} ms torch; adjoint "
              f"{c[1]:7.2f} ms C, {t[1]:7.2f} ms torch; both {sum(c):7.2f} against {sum(t):7.2f} ms "
              f"({sum(t) / sum(c):.2f}x); apart by {dt:.1e} (theta), {dg:.1e} (grad z)", flush=True)


if __name__ == "__main__":
    main()
