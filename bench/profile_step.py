"""Where a subspace step's extra time goes, against a full fine-tuning step of the same model and batch.

    python bench/profile_step.py                     # minilm-l6, SAID, Fastfood, d = 1,000 and 10,000
    python bench/profile_step.py --dims 10000 --steps 8 --top 12

The same steppers as `idim bench step` (idim_core/bench.py), warmed up, then ``--steps`` steps of each kind
under torch.profiler (CPU); it prints each kind's total and the top operators by self CPU time, and for the
subspace step the time in the projection (its forward, the assembly of theta, its adjoint) as a share of the
step.  Figures, not assertions: quote them with the machine's load (bench/RESULTS.md).
"""
import argparse
import os
import sys
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--model", default="minilm-l6")
    ap.add_argument("--method", default="said")
    ap.add_argument("--projection", default="fastfood")
    ap.add_argument("--dims", default="1000,10000")
    ap.add_argument("--batch", type=int, default=32)
    ap.add_argument("--seq", type=int, default=64)
    ap.add_argument("--steps", type=int, default=6)
    ap.add_argument("--top", type=int, default=10)
    args = ap.parse_args()

    import torch
    from torch.profiler import ProfilerActivity, profile

    from idim_core.bench import _make_steppers, _setup

    print(f"{args.model}, {args.method}, {args.projection}, batch {args.batch} x {args.seq} tokens, "
          f"{torch.get_num_threads()} threads, load {os.getloadavg()[0]:.2f} on {os.cpu_count()} cores")
    module, inputs, labels = _setup(args.model, args.batch, args.seq, "cpu", None)
    for dim in (int(x) for x in args.dims.split(",")):
        steps = _make_steppers(module, inputs, labels, args.method, args.projection, dim)
        for _ in range(2):
            steps["full"]()
            steps["subspace"]()
        totals = {}
        for kind in ("full", "subspace"):
            with profile(activities=[ProfilerActivity.CPU]) as prof:
                t0 = time.perf_counter()
                for _ in range(args.steps):
                    steps[kind]()
                totals[kind] = (time.perf_counter() - t0) / args.steps
            print(f"\nd = {dim:,}, {kind} step: {totals[kind] * 1000:.0f} ms (mean of {args.steps})")
            print(prof.key_averages().table(sort_by="self_cpu_time_total", row_limit=args.top))
        print(f"d = {dim:,}: subspace / full = {totals['subspace'] / totals['full']:.3f}")


if __name__ == "__main__":
    main()
