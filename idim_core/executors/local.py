"""The local executor: trials train in this process, one after another (a laptop, a class)."""
from __future__ import annotations

from typing import Callable


class LocalExecutor:
    name = "local"

    slots = 1  # one trial at a time

    def __init__(self, prep, tcfg, method: str, projection: str, should_stop: Callable[[], bool],
                 cfg: dict | None = None):
        self.prep, self.tcfg, self.method, self.projection = prep, tcfg, method, projection
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
                d, method = spec.trains(self.method)
                res = run_trial(self.prep, self.tcfg, d=d, seed=spec.seed, method=method,
                                projection=self.projection, on_point=on_point, should_stop=self.should_stop)
            except Exception as e:  # noqa: BLE001 - handed to the owner, which records and decides
                self._pending.clear()
                yield spec, e
                return
            yield spec, res

    def cancel(self) -> None:
        self._cancelled = True
        self._pending.clear()
