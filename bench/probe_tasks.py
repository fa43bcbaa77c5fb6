"""How far above a linear probe is full fine-tuning, task by task?  The reference for the default task.

    python bench/probe_tasks.py                         # every bundled text task, minilm-l6, 3 seeds
    python bench/probe_tasks.py --tasks mr,trec6 --seeds 2
    python bench/probe_tasks.py --lr-head 1e-2                # the probe at another rate than head-only's default
    python bench/probe_tasks.py --search                      # each seed's probe rate chosen on validation, as a run's

For each task, on the default budget (the defaults of `idim run`), it trains full fine-tuning and a
linear probe (the head alone on the frozen features, the `head` method) for each seed, and prints
their validation and test accuracy (means and standard deviations over seeds), the threshold each
split's baseline sets (max of 0.9 x full fine-tuning and the floor: chance or the majority class plus
two binomial standard errors) and whether the probe clears it.  The verdict is read on the
VALIDATION split (a choice, such as which task is the default, is never made on test); the test
columns are what a run would report.  A probe that clears the threshold means 90 % of full
fine-tuning is already reached without moving a single pretrained weight: d90 then measures how
many random directions it takes to get to where the frozen features already are.
"""
import argparse
import statistics
import sys
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from idim_core.d90 import threshold_of  # noqa: E402
from idim_core.prep import prepare  # noqa: E402
from idim_core.runconfig import make_config  # noqa: E402
from idim_core.train import run_trial  # noqa: E402

TEXT_TASKS = "mr,trec6,trec50,fine-foods,sms-spam,r8"


def stats(xs: list[float]) -> str:
    return f"{statistics.fmean(xs):.3f} ± {statistics.pstdev(xs) if len(xs) > 1 else 0.0:.3f}"


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--model", default="minilm-l6")
    ap.add_argument("--tasks", default=TEXT_TASKS)
    ap.add_argument("--seeds", type=int, default=3)
    ap.add_argument("--lr-head", type=float, default=None,
                    help="the probe's rate (default: the head-only method's, idim_core/methods/head.py)")
    ap.add_argument("--search", action="store_true",
                    help="each seed's probe keeps the best of 1/3, 1 and 3 times the rate (and past an end) on "
                         "validation, as a run's probe does; the rate each seed kept is printed")
    args = ap.parse_args()
    rows = []
    from idim_core import methods

    lr_head = args.lr_head or methods.default_lr("head")
    print(f"{args.model}, default budget, {args.seeds} seeds, the probe "
          + (f"searched from {lr_head:g} per seed on validation" if args.search else f"at {lr_head:g}")
          + "; the verdict is read on validation")
    print()
    print("| task | full, validation | threshold (rule) | probe, validation | probe clears it (validation) "
          "| full, test | probe, test | probe clears it (test) |")
    print("|---|---|---|---|---|---|---|---|", flush=True)
    for task in args.tasks.split(","):
        t0 = time.perf_counter()
        cfg = make_config(model=args.model, task=task, method="said")
        prep, _, task_ = prepare(cfg, "cpu")
        tc = cfg
        full = [run_trial(prep, tc, d=None, seed=s) for s in range(args.seeds)]
        pc = tc.but(lr_adapter=lr_head, probe_fixed_rate=not args.search)
        probe = [run_trial(prep, pc, d=None, seed=s, probe=True) for s in range(args.seeds)]
        chance, majority = task_.chance(), task_.majority()
        row = {"task": task}
        for split, key, n in (("val", "val_accuracy", len(prep.val)), ("test", "accuracy", len(prep.test))):
            f = [r.__dict__[key] for r in full]
            p = [r.__dict__[key] for r in probe]
            thr, rule = threshold_of(statistics.fmean(f), chance, majority, n)
            row[split] = (stats(f), thr, rule, stats(p), statistics.fmean(p) >= thr)
        row["seconds"] = time.perf_counter() - t0
        rows.append(row)
        fv, tv, rv, pv, cv = row["val"]  # each task's row as soon as it is measured
        ft, tt, rt, pt, ct = row["test"]
        print(f"| `{task}` | {fv} | {tv:.3f} ({rv}) | {pv} | {'yes' if cv else 'no'} | {ft} | {pt} "
              f"| {'yes' if ct else 'no'} |", flush=True)
        kept = ", ".join(f"{r.lr:.3g}" for r in probe)
        print(f"{task}: done in {row['seconds']:.0f} s; the probe's rate per seed: {kept}", file=sys.stderr,
              flush=True)


if __name__ == "__main__":
    main()
