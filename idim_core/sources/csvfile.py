"""Your own CSV file: ``csv:PATH`` (a text column, an optional second text column, a label column)."""
from __future__ import annotations

from pathlib import Path

from .base import Split, TaskSpec, file_spec, split_rows
from .csvread import encode_labels, read_csv

NAME = "csv"
LABEL = "your own CSV file, csv:PATH (labels are text; split 80 / 10 / 10)"
ORDER = 90
HINT = "csv:PATH"  # named in the message for an unknown task
PREFIX = "csv:"  # file-backed: a task is csv: + the path of a file the user can change or upload
EXTENSIONS = (".csv",)  # what the app's uploader accepts for it
KIND = "CSV"  # how messages name its files

_SIZES: dict[tuple, tuple] = {}


def resolve(name: str) -> TaskSpec | None:
    return file_spec(name, PREFIX, KIND, NAME, "reviews.csv")


def load(spec: TaskSpec, split_seed=0, max_train=None, max_eval=None, text_column="text", text_pair_column=None,
         label_column="label"):
    a, b, raw = read_csv(Path(spec.file), text_column, text_pair_column, label_column)
    labels, names = encode_labels(raw)
    return split_rows(spec, Split(a, b, labels), names, split_seed, max_train, max_eval)


def train_size(spec: TaskSpec, text_column="text", text_pair_column=None, label_column="label"):
    """The file is read once (cached by its path, its mtime and the columns)."""
    path = Path(spec.file)
    key = (str(path), path.stat().st_mtime, text_column, text_pair_column, label_column)
    if key not in _SIZES:
        _, _, raw = read_csv(path, text_column, text_pair_column, label_column)
        _SIZES[key] = (len(raw), len(set(raw)))
    rows, classes = _SIZES[key]
    return int(0.8 * rows), classes


def stamp(spec: TaskSpec):
    """The file's mtime: statistics are cached until the file changes."""
    return Path(spec.file).stat().st_mtime
