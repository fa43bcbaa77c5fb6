"""How long Fastfood's fused passes take per step over all of minilm-l6's D, for several chunk sizes.

    python bench/fastfood_chunks.py                      # d = 1,000 and 10,000, chunks 2^14 ... 2^19
    python bench/fastfood_chunks.py --dims 1000 --chunks 65536,262144 --repeats 7

The fused forward writes theta = theta0 + scale * (P z) chunk by chunk, and the fused adjoint gathers
P^T g the same way (idim_core/projection.py, FastfoodProjection.CHUNK).  Each pass streams theta0 or the
gradient and the Gaussian diagonal G (D floats each) through the cache, so its time is set mostly by
memory traffic; this prints the median forward and adjoint time per chunk size, on random data of the
model's size (three SAID-like segments with their scales), after two warm-up rounds.
"""
import argparse
import statistics
import sys
import time
from pathlib import Path

import torch

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from idim_core.projection import FastfoodProjection  # noqa: E402

D_MINILM_L6 = 22_566_146


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--D", type=int, default=D_MINILM_L6)
    ap.add_argument("--dims", default="1000,10000")
    ap.add_argument("--chunks", default=",".join(str(1 << k) for k in range(14, 20)))
    ap.add_argument("--repeats", type=int, default=5)
    ap.add_argument("--threads", type=int, default=2)
    args = ap.parse_args()
    torch.set_num_threads(args.threads)
    D = args.D
    segs = [(0, D // 8, 0), (D // 8, D // 2, 1), (D // 2, D, 2)]
    scales = [1.0, 0.5, 2.0]
    g0 = torch.Generator().manual_seed(0)
    theta0, grad = torch.randn(D, generator=g0), torch.randn(D, generator=g0)
    out = torch.empty(D)
    default = FastfoodProjection.CHUNK
    print(f"D = {D:,}, {args.threads} threads, median of {args.repeats}; the code's chunk is {default:,}")
    print("| d | chunk (floats) | pieces | forward (ms) | adjoint (ms) | both (ms) |")
    print("|---|---|---|---|---|---|")
    try:
        for d in map(int, args.dims.split(",")):
            proj = FastfoodProjection(d, D, seed=0)
            z = torch.randn(d, generator=g0)
            for chunk in map(int, args.chunks.split(",")):
                FastfoodProjection.CHUNK = chunk
                pieces = proj.pieces(segs)
                fw, bw = [], []
                for k in range(args.repeats + 2):
                    t0 = time.perf_counter()
                    proj.fused_theta(z, theta0, pieces, scales, out=out)
                    t1 = time.perf_counter()
                    proj.fused_grad(grad, z, pieces, scales, want_dots=True)
                    t2 = time.perf_counter()
                    if k >= 2:
                        fw.append(t1 - t0)
                        bw.append(t2 - t1)
                f, b = statistics.median(fw) * 1000, statistics.median(bw) * 1000
                mark = " (the code's)" if chunk == default else ""
                print(f"| {d:,} | {chunk:,}{mark} | {len(pieces)} | {f:.1f} | {b:.1f} | {f + b:.1f} |", flush=True)
    finally:
        FastfoodProjection.CHUNK = default


if __name__ == "__main__":
    main()
