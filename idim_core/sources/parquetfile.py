"""Your own Parquet file: ``parquet:PATH`` (a text column, an optional second text column, a label column), the
CSV source's twin: the same columns, checks and 80 / 10 / 10 split; read with pyarrow (a dependency of datasets)."""
from __future__ import annotations

from pathlib import Path

from ..errors import UserError
from .base import TaskSpec, file_functions, file_spec
from .csvread import CSV_MAX_BYTES, check_columns, check_names, encode_labels, labelled_rows

NAME = "parquet"
LABEL = "your own Parquet file, parquet:PATH (labels are text; split 80 / 10 / 10)"
ORDER = 91
HINT = "parquet:PATH"  # named in the message for an unknown task
PREFIX = "parquet:"  # file-backed: a task is parquet: + the path of a file the user can change or upload
EXTENSIONS = (".parquet",)  # what the app's uploader accepts for it
KIND = "Parquet"  # how messages name its files


def resolve(name: str) -> TaskSpec | None:
    return file_spec(name, PREFIX, KIND, NAME, "reviews.parquet")


def _table(path: Path, shown: str, columns: list[str] | None = None):
    """The file as a pyarrow table (only ``columns`` when given); one line when it is too big or not Parquet."""
    import pyarrow.parquet as pq

    size = path.stat().st_size
    if size > CSV_MAX_BYTES:
        raise UserError(f"{shown} is {size / 2**20:.0f} MiB; the limit is {CSV_MAX_BYTES / 2**20:.0f} MiB")
    if size == 0:
        raise UserError(f"{shown} is empty")
    try:
        return pq.read_table(path, columns=columns)
    except Exception as e:  # noqa: BLE001  (pyarrow's errors: not a Parquet file, a damaged one)
        raise UserError(f"{shown} cannot be read as Parquet ({str(e).splitlines()[0][:120]})") from None


def _cells(values) -> list[str]:
    """A column's values as text (labels are text, as in a CSV; a missing value is an empty cell)."""
    return ["" if v is None else str(v) for v in values]


def read_parquet(path: Path, text_col: str, pair_col: str | None, label_col: str, shown: str | None = None):
    """(texts, second texts or None, raw label strings) of the rows that have both a text and a label."""
    shown = shown or path.name
    check_names(text_col, label_col, shown)
    import pyarrow.parquet as pq

    try:
        cols = list(pq.read_schema(path).names)
    except Exception:  # noqa: BLE001
        cols = list(_table(path, shown).column_names)  # (says in one line why it cannot be read)
    check_columns(cols, text_col, pair_col, label_col, shown)
    want = [c for c in (text_col, pair_col, label_col) if c]
    table = _table(path, shown, want)
    data = [_cells(table.column(c).to_pylist()) for c in want]
    rows = zip(*data)
    pi = 1 if pair_col else None
    return labelled_rows(rows, 0, pi, len(want) - 1, shown, text_col, label_col)


load, train_size, stamp = file_functions(read_parquet, encode_labels)


def preview(path, rows: int = 5, shown: str | None = None):
    """(columns, first rows as a DataFrame) for Explore's column choice; one line when it cannot be read."""
    p = Path(path).expanduser()
    name = shown or str(p)
    if not p.is_file():
        raise UserError(f"{KIND} file {name} does not exist")
    table = _table(p, name)
    header = [str(c) for c in table.column_names]
    if len(header) < 2:
        raise UserError(f"{name} has one column ({header[0]!r}); it needs a text column and a label column"
                        if header else f"{name} has no columns")
    frame = table.slice(0, rows).to_pandas()
    frame.columns = [f"{h} ({i + 1})" if header.count(h) > 1 else (h or "(unnamed)") for i, h in enumerate(header)]
    return header, frame.astype(str)
