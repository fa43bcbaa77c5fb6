"""Your own CSV file: ``csv:PATH`` (a text column, an optional second text column, a label column)."""
from __future__ import annotations

from pathlib import Path

from ..errors import UserError
from .base import Split, TaskSpec, split_rows
from .csvread import encode_labels, read_csv

NAME = "csv"
LABEL = "your own CSV file, csv:PATH (labels are text; split 80 / 10 / 10)"
ORDER = 90
HINT = "csv:PATH"  # named in the message for an unknown task

_SIZES: dict[tuple, tuple] = {}


def resolve(name: str) -> TaskSpec | None:
    if not name.startswith("csv:"):
        return None
    typed = name[4:].strip()
    if not typed:
        raise UserError("csv: needs the path of a CSV file, as in csv:reviews.csv")
    if "\x00" in typed:
        raise UserError("the CSV path contains a NUL character")
    path = Path(typed).expanduser()
    try:
        path = path.resolve()  # stored absolute: a worker started elsewhere finds the same file
        found = path.is_file()
    except (OSError, RuntimeError):
        found = False
    if not found:
        try:
            there = path.exists()
        except (OSError, ValueError):
            there = False
        raise UserError(f"CSV file {typed} " + ("is not a file (a folder or a device?)" if there
                                                else "does not exist"))
    return TaskSpec(f"csv:{path}", f"your CSV file {path.name}", "csv", file=str(path))


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
