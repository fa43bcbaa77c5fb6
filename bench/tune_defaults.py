"""The experiment that chose the default learning rates (README "Defaults").

    python bench/tune_defaults.py [--model minilm-l6]

On the default data budget (1,024 training sentences of `mr`, 256 validation, 256 test,
64 tokens, 2 epochs, batch 32), it trains full fine-tuning at two learning rates and
SAID (Fastfood) at d = 10,000 and 1,000 at two learning rates of z, printing the test
accuracy of each.  About 10 minutes on a quiet 2-core CPU.
"""
import argparse
import sys
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from idim_core.sweep import make_config, prepare  # noqa: E402
from idim_core.train import TrainConfig, run_trial  # noqa: E402


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("--model", default="minilm-l6")
    ap.add_argument("--full-lrs", default="1e-4,3e-5")
    ap.add_argument("--sub-lrs", default="0.05,0.2")
    ap.add_argument("--dims", default="10000,1000")
    args = ap.parse_args()
    cfg = make_config(model=args.model)
    prep, _, _ = prepare(cfg, "cpu")

    def go(d, **kw):
        r = run_trial(prep, TrainConfig(epochs=cfg["epochs"], **kw), d=d, seed=0, method="said")
        what = "full fine-tuning" if d is None else f"SAID d={d}"
        print(f"{args.model} {what:18} {kw}  test acc {r.accuracy}  val acc {r.val_accuracy}  {r.seconds:.0f} s", flush=True)

    for lr in map(float, args.full_lrs.split(",")):
        go(None, lr_full=lr)
    for d in map(int, args.dims.split(",")):
        for lr in map(float, args.sub_lrs.split(",")):
            go(d, lr_subspace=lr)


if __name__ == "__main__":
    main()
