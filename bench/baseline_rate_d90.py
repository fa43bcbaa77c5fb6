"""How much does d90 move with full fine-tuning's learning rate?  The baseline is the ruler: it sets the
threshold (90 % of its accuracy), so a weaker baseline lowers the threshold and with it d90.

    python bench/baseline_rate_d90.py                       # minilm-l6 on mr, the default budget, 3 seeds
    python bench/baseline_rate_d90.py --record minilm-l6-mr --rates 3e-5,1e-4,3e-4 --seeds 3

For each rate it trains full fine-tuning with each seed (the defaults of `idim run` otherwise) and reads
validation and test accuracy; one more row keeps, per seed, the rate with the best validation accuracy
(what `--baseline-lr-search` does in a run).  Each row's baseline is then put under the recorded run's
subspace points (assets/recorded/RECORD.json: the same model, task, budget and seeds) and d90 is derived
again by idim_core.d90, with its interval.  The refinement's extra values of d were chosen with the
recorded baseline; they are kept as they are.  Choices are read on validation; the test columns are
what a run reports.
"""
import argparse
import json
import statistics
import sys
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from idim_core.d90 import interval_text  # noqa: E402
from idim_core.demo import RECORDED_DIR  # noqa: E402
from idim_core.prep import prepare  # noqa: E402
from idim_core.results import recompute  # noqa: E402
from idim_core.runconfig import make_config  # noqa: E402
from idim_core.train import run_trial  # noqa: E402


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--record", default="minilm-l6-mr")
    ap.add_argument("--rates", default="3e-5,1e-4,3e-4")
    ap.add_argument("--seeds", type=int, default=3)
    args = ap.parse_args()
    raw = json.loads((RECORDED_DIR / f"{args.record}.json").read_text(encoding="utf-8"))
    keep = ("model", "task", "epochs", "max_steps", "batch_size", "max_train", "max_eval", "max_length",
            "split_seed", "init_seed")
    cfg = make_config(**{k: raw["config"][k] for k in keep if raw["config"].get(k) is not None})
    prep, _, _ = prepare(cfg, "cpu")
    rates = [float(x) for x in args.rates.split(",")]
    runs = {lr: [run_trial(prep, cfg.but(lr_full=lr), d=None, seed=s) for s in range(args.seeds)] for lr in rates}
    for lr, rs in runs.items():
        print(f"full fine-tuning at {lr:g}: validation {[round(r.val_accuracy, 3) for r in rs]}, "
              f"test {[round(r.accuracy, 3) for r in rs]}", file=sys.stderr, flush=True)
    rows = [(f"{lr:g}", rs) for lr, rs in runs.items()]
    best = [max((runs[lr][s] for lr in rates), key=lambda r: r.val_accuracy) for s in range(args.seeds)]
    rows.append(("per seed, best on validation (--baseline-lr-search)", best))
    print(f"{cfg.model} on {cfg.task}, default budget, {args.seeds} seeds; the subspace points of "
          f"assets/recorded/{args.record}.json (recorded with full fine-tuning at {raw['config']['lr_full']:g})")
    print()
    print("| full fine-tuning's rate | validation (mean) | test (mean) | threshold | d90 (interpolated) "
          "| 95 % interval |")
    print("|---|---|---|---|---|---|")
    for name, rs in rows:
        res = recompute({**raw, "baseline_accuracies": [r.accuracy for r in rs], "baseline_accuracy": None})
        d90 = "not reached" if res.get("d90_status") == "not_reached" else \
            f"{res['d90']:,} ({res['d90_interpolated']:,.0f})" if res.get("d90") else res.get("d90_status")
        print(f"| {name} | {statistics.fmean(r.val_accuracy for r in rs):.3f} | "
              f"{statistics.fmean(r.accuracy for r in rs):.3f} | "
              f"{res['threshold']:.3f} ({res.get('threshold_rule')}) | "
              f"{d90} | {interval_text(res.get('d90_ci'), empty='–')} |", flush=True)


if __name__ == "__main__":
    main()
