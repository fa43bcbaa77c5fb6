"""Giving a core back while another program needs it.

A run on the CPU trains with torch's threads, one per core.  Those threads split every parallel step
evenly and wait for each other at its end, so when another program takes one core for a moment (the
browser drawing Live, a class's other tabs, an editor), the thread on that core holds up all the
others: on 2 cores the training loses about twice the other program's CPU time (bench/RESULTS.md,
the tab's cost).  While the machine has more runnable threads than cores, a run with torch's automatic
thread count therefore trains on one thread, and goes back to all of them once nothing else has wanted
a core for HOLD seconds.  The results change at most in their last digits: the thread count can change the
order of floating-point sums in torch's kernels (on an AMD VM even the MLP on 8x8 digits parts in the seventh
digit; on the Intel VM it does not), so ``--threads N`` is the way to repeat a run to the last digit
(tests/test_yielding.py compares a trial that yields with one that does not).

Only a run whose thread count is automatic yields (``--threads N`` keeps N), only on the CPU, and only
where /proc/loadavg describes the CPUs this process may use (Linux, not pinned to a subset of the
machine's cores, as in a container that shares a larger host).  ``IDIM_YIELD=0`` turns it off.
"""
from __future__ import annotations

import os
import time

EVERY = 0.02  # seconds between two looks at the machine's runnable threads (a look costs about 25 us)
HOLD = 0.25  # seconds with no other program wanting a core before all threads are taken back
# looks in a row that must find the machine oversubscribed before a thread is given up: a kernel thread that
# writes the store out, or any program's blip of a millisecond, is not worth a quarter of a second on one thread
STREAK = 2


def runnable() -> int | None:
    """Threads runnable on the machine now (the kernel's own count, this one included), or None where
    /proc/loadavg cannot be read."""
    try:
        with open("/proc/loadavg") as f:
            return int(f.read().split()[3].split("/")[0])
    except (OSError, ValueError, IndexError):
        return None


def machine_cores() -> int | None:
    """The machine's cores when this process may use all of them (else None: the count of runnable threads
    would include other machines' worth of work, as in a container pinned to part of a host)."""
    total = os.cpu_count()
    try:
        mine = len(os.sched_getaffinity(0))
    except (AttributeError, OSError):
        return None
    return total if total and mine == total else None


class Governor:
    """Drops torch to one thread while the machine is oversubscribed, and back to ``full`` threads after."""

    def __init__(self, full: int, cores: int, set_threads, clock=time.perf_counter, look=runnable):
        self.full, self.cores, self.current = full, cores, full
        self._set, self._clock, self._look = set_threads, clock, look
        self._next = 0.0
        self._quiet_since: float | None = None
        self._over = 0  # looks in a row that found more runnable threads than cores
        self._dropped_at: float | None = None
        self.reduced_s = 0.0  # seconds trained on one thread
        self.drops = 0

    def tick(self) -> None:
        now = self._clock()
        if now < self._next:
            return
        self._next = now + EVERY
        n = self._look()
        if n is None:
            return
        if self.current == self.full:
            self._over = self._over + 1 if n > self.cores else 0  # a thread, ours or another's, waits for a core
            if self._over >= STREAK:
                self._over = 0
                self._set(1)
                self.current, self._dropped_at, self._quiet_since = 1, now, None
                self.drops += 1
        elif n + (self.full - self.current) <= self.cores:  # our threads back would fit beside the others
            if self._quiet_since is None:
                self._quiet_since = now
            elif now - self._quiet_since >= HOLD:
                self.restore(now)
        else:
            self._quiet_since = None

    def restore(self, now: float | None = None) -> None:
        if self.current != self.full:
            now = self._clock() if now is None else now
            self.reduced_s += now - (self._dropped_at or now)
            self._set(self.full)
            self.current, self._dropped_at, self._quiet_since = self.full, None, None


_active: Governor | None = None
allowed = True  # False in an executor's worker processes, which share the cores out between themselves


def tick() -> None:
    """Called once per training step and per evaluation batch: a no-op unless a governor is active."""
    if _active is not None:
        _active.tick()


def start(threads_automatic: bool, device) -> Governor | None:
    """A governor for the trial about to train, or None where it does not apply (see the module's doc)."""
    global _active
    import torch

    if (not allowed or not threads_automatic or str(device) != "cpu" or os.environ.get("IDIM_YIELD", "1").strip() == "0"
            or torch.get_num_threads() < 2):
        return None
    cores = machine_cores()
    if cores is None or runnable() is None:
        return None
    _active = Governor(torch.get_num_threads(), cores, torch.set_num_threads, look=runnable)
    return _active


def stop() -> Governor | None:
    """Ends the trial's governor, with torch's threads as they were at its start."""
    global _active
    gov, _active = _active, None
    if gov is not None:
        gov.restore()
    return gov
