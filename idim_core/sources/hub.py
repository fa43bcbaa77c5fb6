"""GLUE classification tasks from the Hugging Face hub (``glue/sst2`` ...): a download, so not offline.

Where GLUE is read from is ``GLUE_SOURCE`` here (the hub dataset ``nyu-mll/glue``, or a local copy
in the hub's layout through ``IDIM_GLUE_SOURCE``), read when a task loads.  ``datasets`` is imported then too.
"""
from __future__ import annotations

import os

from ..common import stratified_indices
from ..errors import UserError
from .base import Split, TaskSpec, finish

NAME = "hub"
LABEL = "GLUE tasks from the Hugging Face hub (downloaded once, then cached)"
ORDER = 30

# GLUE classification tasks: (text column, second text column, evaluation split, classes)
GLUE = {
    "sst2": ("sentence", None, "validation", 2),
    "cola": ("sentence", None, "validation", 2),
    "mrpc": ("sentence1", "sentence2", "validation", 2),
    "qqp": ("question1", "question2", "validation", 2),
    "rte": ("sentence1", "sentence2", "validation", 2),
    "qnli": ("question", "sentence", "validation", 2),
    "mnli": ("premise", "hypothesis", "validation_matched", 3),
    "wnli": ("sentence1", "sentence2", "validation", 2),
}
TASKS: dict[str, TaskSpec] = {
    f"glue/{c}": TaskSpec(
        f"glue/{c}", f"GLUE {c.upper()} from the Hugging Face hub (evaluated on its {e} split)",
        "hub", k, None, b is not None, False,
    )
    for c, (a, b, e, k) in GLUE.items()
}


# Where GLUE is read from: the hub dataset, or a local copy in the hub's layout; read when a task loads, so a caller
# or a test may set it.
GLUE_SOURCE = os.environ.get("IDIM_GLUE_SOURCE", "nyu-mll/glue")


def glue_source() -> str:
    return GLUE_SOURCE  # the one setting, read at load time (IDIM_GLUE_SOURCE, or set by a caller)


def load(spec: TaskSpec, split_seed=0, max_train=None, max_eval=None, text_column="text", text_pair_column=None,
         label_column="label"):
    """GLUE's train split (less a validation split of at most 1,000) for training; its labelled validation
    split for testing (GLUE's test labels are hidden).  The column arguments are not used (GLUE names them)."""
    config = spec.name.split("/", 1)[1]
    col_a, col_b, eval_split, k = GLUE[config]
    seed = split_seed
    try:
        from datasets import load_dataset

        ds = load_dataset(glue_source(), config)
    except Exception as e:
        offline = os.environ.get("HF_HUB_OFFLINE", "0").lower() in ("1", "true", "yes", "on")
        why = " ".join(str(e).split())[:200]  # the library's own sentence, on one line; never its class name
        if offline:
            raise UserError(
                f"task {spec.name} is not in the local cache and HF_HUB_OFFLINE=1 forbids downloading it; "
                "run once on a connected machine, or use a bundled task such as mr"
            ) from None
        raise UserError(f"task {spec.name} cannot be loaded from the hub"
                        + (f" ({why})" if why else "") + "; check your connection") from None

    def split(part) -> Split:
        return Split(list(part[col_a]), list(part[col_b]) if col_b else None, [int(v) for v in part["label"]])

    full_train = split(ds["train"])
    test = split(ds[eval_split])  # GLUE test labels are hidden: evaluate on validation, as the papers do
    n_val = min(1000, max(1, len(full_train) // 10))
    va, tr = stratified_indices(full_train.labels, (n_val / len(full_train), 1 - n_val / len(full_train)), seed)
    names = (ds["train"].features["label"].names if hasattr(ds["train"].features["label"], "names")
             else [str(i) for i in range(k)])
    return finish(spec, names, full_train.subset(tr), full_train.subset(va), test, seed, max_train, max_eval)


def stats(spec: TaskSpec, max_length=64, split_seed=0, text_column="text", text_pair_column=None,
          label_column="label") -> dict:
    """Only described: the numbers need a download."""
    return dict(splits=None, majority=None, avg_tokens=None, truncated=None,
                note="statistics appear once the task is downloaded and run")
