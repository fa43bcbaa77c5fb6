"""Keeping freed memory for the next training step instead of handing it back to the system.

Every step of a trial frees and allocates again the same large tensors (activations, the per-parameter
gradients, the optimiser's temporaries).  glibc's allocator returns blocks above its mmap threshold to the
system at once, and trims the heap's top whenever it frees more than its trim threshold, so the next step
takes the same memory back one page fault at a time, each page zeroed by the kernel.  A subspace step of
minilm-l6 took about 9,500 more minor page faults than a full step and 77 ms more system CPU (bench/RESULTS.md,
2026-12-02).  While a trial trains, :func:`hold` raises the mmap threshold to glibc's largest (32 MiB), pads the
heap's growth and stops the trimming; :func:`release` gives the free memory back when the trial ends, so an
idle worker does not keep a trial's peak.

Only glibc has these knobs (Linux); elsewhere both calls do nothing.  ``IDIM_HEAP=0`` turns it off.  The
numbers a trial computes do not change: only where its memory comes from.
"""
from __future__ import annotations

import ctypes
import ctypes.util
import os

M_TRIM_THRESHOLD, M_TOP_PAD, M_MMAP_THRESHOLD = -1, -2, -3  # glibc's malloc.h
MMAP_THRESHOLD = 32 * 1024 * 1024  # glibc's upper limit for it on 64-bit systems
TOP_PAD = 256 * 1024 * 1024  # the heap grows by at least this much at a time
TRIM_THRESHOLD = 2**31 - 1  # (the most mallopt takes) not trimmed while a trial trains

_libc = None
_held = False


def _glibc():
    global _libc
    if _libc is None:
        _libc = False
        try:
            lib = ctypes.CDLL(ctypes.util.find_library("c") or "libc.so.6")
            if hasattr(lib, "mallopt") and hasattr(lib, "malloc_trim") and hasattr(lib, "gnu_get_libc_version"):
                lib.mallopt.argtypes, lib.mallopt.restype = [ctypes.c_int, ctypes.c_int], ctypes.c_int
                lib.malloc_trim.argtypes, lib.malloc_trim.restype = [ctypes.c_size_t], ctypes.c_int
                _libc = lib
        except (OSError, AttributeError):
            _libc = False
    return _libc or None


def enabled() -> bool:
    return os.environ.get("IDIM_HEAP", "1").strip().lower() not in ("0", "false", "no", "off") and _glibc() is not None


def hold() -> bool:
    """Keep freed memory in the process from now on (idempotent); whether the allocator took the settings."""
    global _held
    if _held:
        return True
    if not enabled():
        return False
    lib = _glibc()
    ok = all(lib.mallopt(opt, val) == 1 for opt, val in (
        (M_MMAP_THRESHOLD, MMAP_THRESHOLD), (M_TOP_PAD, TOP_PAD), (M_TRIM_THRESHOLD, TRIM_THRESHOLD)))
    _held = ok
    return ok


def release() -> None:
    """Hand the free memory back to the system (the end of a trial); the settings stay for the next one."""
    if _held:
        _glibc().malloc_trim(0)
