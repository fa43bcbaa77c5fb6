"""Task catalogue: bundled CSVs under assets/, GLUE tasks from the hub, your own CSV, the image tasks.

Each source of tasks is one module of ``idim_core/sources/`` (the registry: ``idim_core.sources.REGISTRY``);
this module is the catalogue's one door (``resolve``, ``load_task``, ``train_size``, ``task_stats``,
``list_tasks``) and dispatches on the registry, naming no source.

Importing this module is cheap (no torch, no datasets).  Splits are seeded and
stratified; the split seed is fixed per run (default 0) so that trials with
different seeds differ only in projection and data order, never in data.
"""
from __future__ import annotations

from . import sources
from .common import bundled_path
from .errors import UserError
from .sources.base import MAX_NAME, TaskData, TaskSpec, catalogue_size


def fixed(name: str) -> bool:
    """The task ships with idim and cannot change between runs (its source says so); False for unknown names."""
    try:
        return sources.fixed(resolve(name).source)
    except UserError:
        return False


def list_tasks() -> list[dict]:
    return [t.to_dict() for t in sources.listed()]


def resolve(name: str) -> TaskSpec:
    if not name or not isinstance(name, str):
        raise UserError("no task given; use --task mr (see `idim tasks`)")
    if len(name) > MAX_NAME:
        raise UserError(f"the task name is {len(name):,} characters long; the limit is {MAX_NAME:,}")
    spec = sources.resolve(name)
    if spec is not None:
        return spec
    hints = sources.hints()
    raise UserError(f"unknown task {name!r}; use one of {', '.join(sources.names())}"
                    + (f", or {' or '.join(hints)}" if hints else ""))


def load_task(name: str, split_seed: int = 0, max_train: int | None = None, max_eval: int | None = None,
              text_column: str = "text", text_pair_column: str | None = None,
              label_column: str = "label") -> TaskData:
    spec = resolve(name)
    return sources.get(spec.source).load(spec, split_seed, max_train, max_eval, text_column, text_pair_column,
                                         label_column)


# ---------------------------------------------------------------------------
# the size of a task's training split, without tokenising (for the budget warnings)
# ---------------------------------------------------------------------------
def train_size(name: str, max_train: int | None = None, text_column: str = "text",
               text_pair_column: str | None = None, label_column: str = "label") -> tuple[int | None, int | None]:
    """(about how many training examples a run gets, how many classes); None where unknown before a download.

    Light: catalogue sizes for shipped tasks; a CSV file is read once (cached by its path and mtime).
    Raises UserError like ``resolve`` and ``load_task``."""
    spec = resolve(name)
    fn = sources.get(spec.source).train_size
    n, classes = (fn(spec, text_column, text_pair_column, label_column) if fn is not None
                  else catalogue_size(spec))
    if max_train:
        n = int(max_train) if n is None else min(n, int(max_train))
    return n, classes


# ---------------------------------------------------------------------------
# statistics shown in `idim tasks --json` and on the Explore page
# ---------------------------------------------------------------------------
_STATS: dict[tuple, dict] = {}


def _tokenizer():
    """The bundled model's fast tokenizer, without torch or transformers."""
    from tokenizers import Tokenizer

    tok = Tokenizer.from_file(str(bundled_path() / "tokenizer.json"))
    tok.no_truncation()
    tok.no_padding()
    return tok


def _text_stats(name, max_length, split_seed, text_column, text_pair_column, label_column) -> dict:
    """A text task's classes, splits and lengths in tokens: what a source without ``stats`` shows."""
    t = load_task(name, split_seed, None, None, text_column, text_pair_column, label_column)
    tok = _tokenizer()
    texts = t.train.text + t.val.text + t.test.text
    if t.train.text_pair is not None:
        pairs = t.train.text_pair + t.val.text_pair + t.test.text_pair
        lens = [len(e.ids) for e in tok.encode_batch(list(zip(texts, pairs)))]
    else:
        lens = [len(e.ids) for e in tok.encode_batch(texts)]
    counts = [t.train.labels.count(k) + t.val.labels.count(k) + t.test.labels.count(k)
              for k in range(t.num_labels)]
    return dict(num_labels=t.num_labels, chance=t.chance(), majority=t.majority(),
                splits={"train": len(t.train), "val": len(t.val), "test": len(t.test)},
                # examples left out of validation and test because their text is in an earlier split
                overlaps_dropped=sum((t.info.get("overlaps_dropped") or {}).values()),
                avg_tokens=sum(lens) / len(lens), truncated=sum(n > max_length for n in lens) / len(lens),
                max_length=max_length, classes=dict(zip(t.label_names, counts)))


def task_stats(name: str, max_length: int = 64, split_seed: int = 0, text_column: str = "text",
               text_pair_column: str | None = None, label_column: str = "label") -> dict:
    """Classes, split sizes, chance and majority-class accuracy, and length of a task.

    Lengths are in tokens of the bundled MiniLM tokenizer ([CLS] and [SEP] included);
    ``truncated`` is the share of examples longer than ``max_length``.  Majority is
    the share of the most frequent class in the test split (what always answering that
    class scores).  Hub tasks are only described (they need a download).
    """
    spec = resolve(name)
    src = sources.get(spec.source)
    key = (spec.name, max_length, split_seed, text_column, text_pair_column, label_column,
           src.stamp(spec) if src.stamp is not None else None)
    if key in _STATS:
        return _STATS[key]
    out = {"name": spec.name, "source": spec.source, "num_labels": spec.num_labels, "pair": spec.pair,
           "chance": 1 / spec.num_labels if spec.num_labels else None}
    if src.stats is not None:
        out.update(src.stats(spec, max_length, split_seed, text_column, text_pair_column, label_column))
    else:
        out.update(_text_stats(name, max_length, split_seed, text_column, text_pair_column, label_column))
    if spec.note:
        out["note"] = spec.note
    _STATS[key] = out
    return out
