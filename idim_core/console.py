"""What the command line's commands share: the progress display, the store of the command, this
process's owner id (`idim run` and `idim series` both use them; no command lives here)."""
from __future__ import annotations

import sys
import time

from .runconfig import DEFAULTS


class Progress:
    """tqdm bars on a terminal, plain lines otherwise (always on stderr)."""

    def __init__(self, quiet: bool = False):
        self.tty = sys.stderr.isatty()
        self.quiet = quiet
        self.bar = None
        self.t0 = time.time()

    def _line(self, text: str) -> None:
        if not self.quiet:
            print(f"[{time.time() - self.t0:6.0f}s] {text}", file=sys.stderr, flush=True)

    def __call__(self, e: dict) -> None:
        kind = e["type"]
        label = lambda: ("baseline (full fine-tuning)" if e.get("kind") == "baseline"  # noqa: E731
                         else f"{self.level(e['d'], e.get('kind', 'subspace'))} seed {e['seed']}")
        if kind == "loading":
            self._line("loading model and data ...")
        elif kind == "trial_start":
            if self.tty and not self.quiet:
                from tqdm import tqdm

                self.bar = tqdm(desc=label(), total=None, unit="step", file=sys.stderr, leave=False)
            else:
                self._line(f"training {label()}")
        elif kind == "step":
            if self.bar is not None:
                self.bar.total = e.get("total")
                self.bar.update(e["step"] - self.bar.n)
                self.bar.set_postfix(loss=f"{e['loss']:.3f}", refresh=False)
            elif e.get("accuracy") is not None:
                self._line(f"  step {e['step']}/{e.get('total')}  loss {e['loss']:.3f}  val acc {e['accuracy']:.3f}")
        elif kind == "trial_end":
            if self.bar is not None:
                self.bar.close()
                self.bar = None
            acc = e.get("accuracy")
            self._line(f"{label()}: " + (f"test accuracy {acc:.3f}" if acc is not None else e["status"]) + f" ({e['seconds']:.0f} s)")
        elif kind == "cancelled":
            self._line("cancelled; finished trials are kept")
        elif kind == "pretrain":
            self._line(e["message"])
        elif kind == "baseline_shared":
            self._line(f"full fine-tuning baseline shared with run {e['from']} (same model, task, budget and device)")

    method = DEFAULTS["method"]

    def level(self, d, kind: str = "subspace") -> str:
        from .executors import TrialSpec
        from .runner import level_name  # one wording for the log, the progress lines and the pages

        return level_name(self.method, TrialSpec(kind, d, 0))


def _store(args):
    from .store import Store

    return Store(args.home)


def _owner() -> str:
    from .store import owner_id

    return owner_id()
