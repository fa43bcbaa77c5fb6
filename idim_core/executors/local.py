"""The local executor: trials train in this process, one after another (a laptop, a class)."""
from __future__ import annotations

from typing import Callable


class LocalExecutor:
    name = "local"

    def __init__(self, prep, tcfg, method: str, projection: str, should_stop: Callable[[], bool]):
        self.prep, self.tcfg, self.method, self.projection = prep, tcfg, method, projection
        self._stop = should_stop
        self._cancelled = False
        self._pending: list[tuple] = []

    def should_stop(self) -> bool:
        return self._cancelled or self._stop()

    def submit(self, spec, on_start: Callable[[], None], on_point: Callable[[dict], None]) -> None:
        self._pending.append((spec, on_start, on_point))

    def wait(self) -> list[tuple]:
        """Train every submitted trial in turn.  A Cancelled exception ends the wait at once."""
        from ..train import run_trial

        out = []
        while self._pending:
            spec, on_start, on_point = self._pending.pop(0)
            on_start()
            try:
                res = run_trial(self.prep, self.tcfg, d=spec.d, seed=spec.seed, method=self.method,
                                projection=self.projection, on_point=on_point, should_stop=self.should_stop)
            except Exception as e:  # noqa: BLE001 - handed to the owner, which records and decides
                out.append((spec, e))
                self._pending.clear()
                return out
            out.append((spec, res))
        return out

    def cancel(self) -> None:
        self._cancelled = True
        self._pending.clear()
