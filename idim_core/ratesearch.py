"""Which trials search their learning rate on validation: one rule the trainer, the run's log and the estimate read.

Its own small module (no imports) so that ``train`` reads it without importing ``runconfig``, which imports the
executors, which import ``train``: that was an import circle.  ``runconfig.searches_rate`` is this function."""
from __future__ import annotations


def searches_rate(cfg, kind: str) -> bool:
    """Whether a trial of ``kind`` ("baseline", "probe" or "subspace") searches its rate on validation: the one rule
    the trainer, the run's log and the estimate read.  ``cfg``: a RunConfig."""
    if kind == "baseline":
        return bool(cfg.baseline_lr_search)
    if kind == "probe":
        return bool(cfg.lr_search) or not cfg.probe_fixed_rate
    return bool(cfg.lr_search)
