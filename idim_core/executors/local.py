"""The local executor: trials train in this process, one after another (a laptop, a class)."""
from __future__ import annotations

from typing import Callable


NAME = "local"
LABEL = "this machine"
HELP = "this process, one trial after another"
ORDER = 0
SERVED = True  # the app served to a class trains here
OPTIONS = ()  # none of its own (--threads and --device are the run's)


def executor_class():
    return LocalExecutor


class LocalExecutor:
    name = NAME
    slots = 1  # one trial at a time
    lost_reason = None  # a trial here is never lost: it finishes, fails or is cancelled

    def __init__(self, prep, cfg, should_stop: Callable[[], bool]):
        self.prep, self.cfg = prep, cfg
        self._stop = should_stop
        self._cancelled = False
        self._pending: list[tuple] = []

    def should_stop(self) -> bool:
        return self._cancelled or self._stop()

    def submit(self, spec, on_start: Callable[[], None], on_point: Callable[[dict], None]) -> None:
        self._pending.append((spec, on_start, on_point))

    def wait(self):
        """Train every submitted trial in turn, yielding each result as it finishes.  An exception
        (Cancelled included) is yielded and ends the wait."""
        from ..train import run_trial

        while self._pending:
            spec, on_start, on_point = self._pending.pop(0)
            on_start()
            try:
                d, method = spec.trains(self.cfg.method)
                res = run_trial(self.prep, self.cfg, d=d, seed=spec.seed, method=method,
                                projection=self.cfg.projection, on_point=on_point, should_stop=self.should_stop,
                                probe=spec.kind == "probe")
            except Exception as e:  # noqa: BLE001 - handed to the owner, which records and decides
                self._pending.clear()
                yield spec, e
                return
            yield spec, res

    def describe(self) -> None:
        return None  # the default: nothing to say where trials train

    def cancel(self) -> None:
        self._cancelled = True
        self._pending.clear()
