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
        self.bars: dict = {}  # a trial's key -> its tqdm bar (several when trials train side by side)
        self.open: set = set()  # the trials training now
        self.t0 = time.time()

    def _line(self, text: str) -> None:
        if not self.quiet:
            print(f"[{time.time() - self.t0:6.0f}s] {text}", file=sys.stderr, flush=True)

    def __call__(self, e: dict) -> None:
        kind = e["type"]
        key = (e.get("kind"), e.get("d"), e.get("seed"))
        label = lambda: ("baseline (full fine-tuning)" + (f" seed {e['seed']}" if e.get("seed") else "")  # noqa: E731
                         if e.get("kind") == "baseline"
                         else f"{self.level(e['d'], e.get('kind', 'subspace'))} seed {e['seed']}")
        if kind == "loading":
            self._line("loading model and data ...")
        elif kind == "trial_start":
            self.open.add(key)
            if self.tty and not self.quiet:
                from tqdm import tqdm

                self.bars[key] = tqdm(desc=label(), total=None, unit="step", file=sys.stderr, leave=False,
                                      position=len(self.bars))
            else:
                self._line(f"training {label()}")
        elif kind == "step":
            bar = self.bars.get(key)
            if bar is not None:
                bar.total = e.get("total")
                bar.update(e["step"] - bar.n)
                bar.set_postfix(loss=f"{e['loss']:.3f}", refresh=False)
            elif e.get("accuracy") is not None:  # trials side by side: each line says whose it is
                who = f"{label()}: " if len(self.open) > 1 else ""
                self._line(f"  {who}step {e['step']}/{e.get('total')}  loss {e['loss']:.3f}  "
                           f"val acc {e['accuracy']:.3f}")
        elif kind in ("trial_end", "ruler_provisional"):  # the latter: a searched baseline's first rate, the ruler
            self.open.discard(key)                         # until its other rates end
            bar = self.bars.pop(key, None)
            if bar is not None:
                bar.close()
            acc = e.get("accuracy")
            ruler = (f" at its first rate, the ruler for now (rate search {e.get('tried', 1)} of {e.get('of', 3)}; "
                     "the other rates train after the first point)") if kind == "ruler_provisional" else ""
            self._line(f"{label()}: " + (f"test accuracy {acc:.3f}" if acc is not None else e["status"])
                       + f"{ruler} ({e['seconds']:.0f} s)")
        elif kind == "cancelled":
            self._line("cancelled; finished trials are kept")
        elif kind == "pretrain":
            self._line(e["message"])
        elif kind == "baseline_shared":
            self._line(f"full fine-tuning baseline shared with run {e['from']} (reused with its rate search, if any: "
                       "same model, task, budget and device)")

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
