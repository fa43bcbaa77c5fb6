"""The experiment that chooses the default learning rates, on the VALIDATION split only.

    python bench/tune_defaults.py --kind lm        # minilm-l6 on mr, SAID (about 10 min, 2-core CPU)
    python bench/tune_defaults.py --kind classic   # mlp on mnist5k, DID (about 3 min)
    python bench/tune_defaults.py --kind adapters  # minilm-l6 on mr: lora, vera, bitfit, head (about 10 min)

For full fine-tuning it tries each rate in --full-lrs over --full-seeds seeds (3 by default) and
keeps the best validation mean, with no rule that favours the current default: the baseline is
the ruler, and a weaker one lowers the threshold and so d90.  For z it tries each reference
rate in --sub-lrs (the rate at d = 1,000; z's rate at d is lr * sqrt(1000 / d), the
default --lr-scaling sqrt) at every d in --dims.  It prints the validation accuracy of
each setting and picks, for z, the reference rate with the best mean validation
accuracy over the d values.  Test accuracy is never looked at here: it is reserved
for the reported numbers.

``--kind adapters`` picks each parameter-efficient method's own default rate (the
``LR`` in its module under idim_core/methods/) by the same rule as full fine-tuning's: the
best validation mean over at least 3 seeds, no preference for the current default; each rate
in --adapter-lrs at one level (LoRA rank 4, VeRA rank 64; BitFit and head-only have one).
The classifier head trains at head-only's own rate in every method but head-only (--lr-head).
"""
import argparse
import math
import statistics
import sys
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from idim_core.prep import prepare  # noqa: E402
from idim_core.runconfig import make_config  # noqa: E402
from idim_core.train import run_trial  # noqa: E402

KINDS = {
    "lm": dict(model="minilm-l6", task="mr", method="said", full_lrs="3e-5,1e-4,3e-4", sub_lrs="0.05,0.15,0.5",
               dims="100,1000,10000"),
    "classic": dict(model="mlp", task="mnist5k", method="did", full_lrs="3e-3,1e-2,3e-2", sub_lrs="0.03,0.1,0.3",
                    dims="100,1000,10000,30000"),
}


ADAPTER_LEVELS = {"lora": 4, "vera": 64, "bitfit": 0, "head": 0}


def tune_adapters(args) -> None:
    from idim_core import methods

    cfg = make_config(model=args.model or "minilm-l6", task="mr")
    prep, _, _ = prepare(cfg, "cpu")
    lrs = [float(x) for x in (args.adapter_lrs or "3e-4,1e-3,3e-3,1e-2").split(",")]
    seeds = max(3, args.seeds)  # every method's rate from at least 3 seeds, the same rule for all
    n = len(prep.val) * seeds
    for name in (args.methods or ",".join(ADAPTER_LEVELS)).split(","):
        levels = methods.default_levels(name) or [0]  # a method not listed above: the middle of its own levels
        level = ADAPTER_LEVELS.get(name, levels[len(levels) // 2])
        scores = {}
        for lr in lrs:
            accs = []
            for s in range(seeds):
                tc = cfg.but(lr_adapter=lr, method=name)
                r = run_trial(prep, tc, d=level, seed=s)
                accs.append(r.val_accuracy if r.val_accuracy is not None else 0.0)
            scores[lr] = statistics.fmean(accs)
            each = ", ".join(f"{a:.4f}" for a in accs)
            print(f"{name:7} level {level:<4} lr {lr:g}: validation accuracy {scores[lr]:.4f} (seeds: {each})",
                  flush=True)
        current = methods.get(name).LR
        pick = max(scores, key=scores.get)  # the best mean, as for full fine-tuning: no preference for the incumbent
        se = math.sqrt(max(scores[pick] * (1 - scores[pick]), 1e-9) / n)
        print(f"{name}: " + ", ".join(f"{lr:g}: {v:.3f}" for lr, v in scores.items())
              + f"  -> {best_text(scores)} (the best mean over {seeds} seeds; one standard error {se:.3f}; "
              f"the default in idim_core/methods/{name}.py is {current:g})", flush=True)


def best_text(scores: dict[float, float]) -> str:
    """The rate with the best mean, or every rate that ties with it exactly: the rule does not decide a tie."""
    top = max(scores.values())
    tied = [lr for lr, v in scores.items() if v == top]
    if len(tied) > 1:
        return "tied: " + " and ".join(f"{lr:g}" for lr in tied) + f" ({top:.4f}); the rule does not decide"
    return f"{tied[0]:g} (the best)"


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("--kind", choices=[*KINDS, "adapters"], default="lm")
    ap.add_argument("--adapter-lrs")
    ap.add_argument("--methods")
    ap.add_argument("--model")
    ap.add_argument("--task", help="the task to tune on (default: the kind's own, mr or mnist5k)")
    ap.add_argument("--full-lrs")
    ap.add_argument("--sub-lrs")
    ap.add_argument("--dims")
    ap.add_argument("--seeds", type=int, default=1)
    ap.add_argument("--full-seeds", type=int, default=3, help="seeds per full fine-tuning rate (at least 3)")
    ap.add_argument("--only", choices=("full", "sub"), help="tune only full fine-tuning's rate or only z's")
    args = ap.parse_args()
    if args.kind == "adapters":
        return tune_adapters(args)
    k = KINDS[args.kind]
    model = args.model or k["model"]
    cfg = make_config(model=model, task=args.task or k["task"], method=k["method"])
    prep, _, _ = prepare(cfg, "cpu")
    seeds = range(args.seeds)

    def val(d, seeds=seeds, **kw) -> float:
        accs = []
        for s in seeds:
            tc = cfg.but(**kw)
            r = run_trial(prep, tc, d=d, seed=s)
            accs.append(r.val_accuracy if r.val_accuracy is not None else 0.0)
        what = "full" if d is None else f"d={d}"
        print(f"{model} {what:9} {kw}  validation accuracy {statistics.fmean(accs):.3f}", flush=True)
        return statistics.fmean(accs)

    full_seeds = range(max(3, args.full_seeds))
    full = {} if args.only == "sub" else {lr: val(None, seeds=full_seeds, lr_full=lr)
                                          for lr in map(float, (args.full_lrs or k["full_lrs"]).split(","))}
    dims = [int(x) for x in (args.dims or k["dims"]).split(",")]
    sub = {} if args.only == "full" else {lr: statistics.fmean(val(d, lr_subspace=lr) for d in dims)
                                          for lr in map(float, (args.sub_lrs or k["sub_lrs"]).split(","))}
    n_val = len(prep.val)

    def choose(scores: dict, current: float, n: int) -> float:
        """The best on validation, unless the current default is within one binomial standard error of it."""
        best = max(scores, key=scores.get)
        se = math.sqrt(max(scores[best] * (1 - scores[best]), 1e-9) / n)
        if current in scores and scores[best] - scores[current] <= se:
            return current
        return best

    if full:
        # the ruler at its best: the best mean, no preference for the incumbent
        print(f"full fine-tuning, validation mean over {len(full_seeds)} seeds: "
              + ", ".join(f"{lr:g}: {v:.3f}" for lr, v in full.items()) + f"  -> {best_text(full)}")
    if sub:
        sub_pick = choose(sub, cfg.lr_subspace, n_val * args.seeds * len(dims))
        print(f"z's reference rate, validation mean over d = {dims}: "
              + ", ".join(f"{lr:g}: {v:.3f}" for lr, v in sub.items()) + f"  -> {sub_pick:g}")
        print("(z's rule: the best validation accuracy, unless the current default is within one binomial "
              "standard error of it; test accuracy is never read)")


if __name__ == "__main__":
    main()
