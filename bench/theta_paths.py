"""theta = theta0 + lambda * P z, forward and backward, on minilm-l6's D: fused vs plain.

Prints the median seconds per (forward + backward) of the chunked, fused Fastfood
path and of the plain path (one D-sized P z, then per-segment adds), interleaved in
one process, and their ratio.

    .venv/bin/python bench/theta_paths.py [--dims 1000,10000] [--reps 7]
"""
from __future__ import annotations

import argparse
import json
import statistics
import time

import torch

from idim_core.models import load_model
from idim_core.subspace import FlatParams, SubspaceModel


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("--dims", default="1000,10000")
    ap.add_argument("--method", default="said")
    ap.add_argument("--reps", type=int, default=7)
    a = ap.parse_args()
    lm = load_model("minilm-l6", 2, 0)
    flat = FlatParams(lm.module)
    g = torch.randn(flat.D)
    out = {"D": flat.D, "threads": torch.get_num_threads(), "method": a.method}
    for d in [int(x) for x in a.dims.split(",")]:
        sub = SubspaceModel(lm.module, flat, d, a.method, "fastfood", seed=0)
        fused = type(sub.P).fused_theta

        def step(use_fused: bool) -> float:
            if not use_fused:
                type(sub.P).fused_theta = property(lambda self: (_ for _ in ()).throw(AttributeError))
            try:
                t = time.perf_counter()
                sub.theta().backward(g)
                return time.perf_counter() - t
            finally:
                type(sub.P).fused_theta = fused

        step(True), step(False)  # warm-up
        ts = {True: [], False: []}
        for _ in range(a.reps):
            for f in (True, False):
                ts[f].append(step(f))
        fm, pm = statistics.median(ts[True]), statistics.median(ts[False])
        out[f"d{d}"] = {"fused_s": round(fm, 4), "plain_s": round(pm, 4), "speedup": round(pm / fm, 2)}
    print(json.dumps(out))


if __name__ == "__main__":
    main()
