"""Reading a CSV file of labelled text (the bundled tasks and ``csv:PATH``): UTF-8, comma, semicolon or tab,
the csv module on the whole text; every refusal one line naming the file by its base name.

A helper, not a source (it has no ``NAME``): ``bundled.py`` and ``csvfile.py`` read with it (``parquetfile.py``
its column checks and row rules)."""
from __future__ import annotations

import csv
import io
import os
import re
from pathlib import Path

from ..errors import UserError

CSV_MAX_BYTES = int(os.environ.get("IDIM_CSV_MAX_BYTES", str(50 * 2**20)))
CSV_MAX_ROWS = 200_000
DELIMITERS = (",", ";", "\t")
DELIM_NAMES = {",": "comma", ";": "semicolon", "\t": "tab"}
INT_LABEL = re.compile(r"-?[0-9]+")


def decode_csv(data: bytes, shown: str) -> str:
    """A CSV file's bytes as text: UTF-8 (a byte-order mark is dropped); anything else refused in one line
    that names the file as ``shown`` (its base name, never a server path)."""
    if data.startswith((b"\xff\xfe", b"\xfe\xff")):
        raise UserError(f"{shown} is UTF-16 text; re-save it as UTF-8 CSV")
    try:
        text = data.decode("utf-8-sig")
    except UnicodeDecodeError:
        raise UserError(f"{shown} is not UTF-8 text (Latin-1 or another encoding?); re-save it as UTF-8 CSV") \
            from None
    if "\x00" in text:
        raise UserError(f"{shown} is not a CSV text file")
    return text


def sniff_delimiter(text: str, want: tuple = ()) -> str:
    """Comma, semicolon or tab: the one whose header holds the ``want`` columns, else the one csv.Sniffer
    picks among those three, else the one that splits the header into the most columns (comma on a tie)."""
    heads = {}
    for d in DELIMITERS:
        try:
            heads[d] = next(csv.reader(io.StringIO(text[:65536], newline=""), delimiter=d), [])
        except csv.Error:
            heads[d] = []
    try:
        sniffed = csv.Sniffer().sniff(text[:65536], delimiters="".join(DELIMITERS)).delimiter
    except csv.Error:
        sniffed = None
    want = [w for w in want if w]
    if want:
        fits = [d for d in DELIMITERS if all(w in heads[d] for w in want)]
        if fits:
            return sniffed if sniffed in fits else fits[0]
    if sniffed in DELIMITERS and len(heads[sniffed]) > 1:
        return sniffed
    return max(DELIMITERS, key=lambda d: (len(heads[d]), -DELIMITERS.index(d)))


def csv_rows(text: str, shown: str, want: tuple = ()):
    """(header, delimiter, an iterator of rows as lists) of CSV text: the csv module on the whole text, so a
    newline inside a quoted field and a U+2028 inside a field stay in it."""
    delim = sniff_delimiter(text, want)
    reader = csv.reader(io.StringIO(text, newline=""), delimiter=delim)
    try:
        header = next(reader)
    except StopIteration:
        raise UserError(f"{shown} is empty") from None
    except csv.Error:
        raise UserError(f"{shown} cannot be read as CSV: its first line is malformed") from None
    header = [h.strip() for h in header]
    if not any(header):
        raise UserError(f"{shown} has no header row")

    def rows():
        try:
            yield from reader
        except csv.Error:
            raise UserError(f"{shown} cannot be read as CSV near line {reader.line_num:,} (a field over "
                            f"{csv.field_size_limit():,} characters, or a stray quote)") from None

    return header, delim, rows()


def check_names(text_col: str, label_col: str, shown: str) -> None:
    """The text and label columns are named (any file of labelled rows: CSV, Parquet ...)."""
    for what, col in (("text", text_col), ("label", label_col)):
        if not col or not str(col).strip():
            raise UserError(f"the {what} column's name is empty; give the name of a column of {shown}")


def check_columns(cols: list[str], text_col: str, pair_col: str | None, label_col: str, shown: str) -> None:
    """The label column is not a text column, and the file has every column named."""
    if label_col in (text_col, pair_col):
        raise UserError(f"the label column {label_col!r} is the same column as a text column; choose another")
    missing = [c for c in (text_col, pair_col, label_col) if c and c not in cols]
    if missing:
        raise UserError(f"{shown} has no column {', '.join(map(repr, missing))}; its columns are "
                        f"{', '.join(map(repr, cols))}")


def labelled_rows(rows, ti: int, pi: int | None, li: int, shown: str, text_col: str, label_col: str):
    """(texts, second texts or None, raw label strings) of the rows (sequences of cells, stripped text) that have
    both a text and a label; at most ``CSV_MAX_ROWS`` rows."""
    a, b, y = [], [] if pi is not None else None, []
    cell = lambda row, i: row[i].strip() if i < len(row) else ""  # noqa: E731  (a short row: empty cells)
    for i, row in enumerate(rows):
        if i >= CSV_MAX_ROWS:
            raise UserError(f"{shown} has more than {CSV_MAX_ROWS:,} rows; use a sample of it")
        t, lab = cell(row, ti), cell(row, li)
        if not t or not lab:
            continue
        a.append(t)
        if b is not None:
            b.append(cell(row, pi))
        y.append(lab)
    if not y:
        raise UserError(f"{shown} has no rows with both {text_col!r} and {label_col!r}")
    return a, b, y


def read_csv(path: Path, text_col: str, pair_col: str | None, label_col: str, shown: str | None = None):
    """(texts, second texts or None, raw label strings) of the rows that have both a text and a label."""
    shown = shown or path.name
    check_names(text_col, label_col, shown)
    size = path.stat().st_size
    if size > CSV_MAX_BYTES:
        raise UserError(f"{shown} is {size / 2**20:.0f} MiB; the limit is {CSV_MAX_BYTES / 2**20:.0f} MiB")
    if size == 0:
        raise UserError(f"{shown} is empty")
    text = decode_csv(path.read_bytes(), shown)
    cols, delim, reader = csv_rows(text, shown, (text_col, pair_col, label_col))
    if len(cols) < 2:
        others = " or ".join(DELIM_NAMES[d] for d in DELIMITERS if d != delim)
        raise UserError(f"{shown} needs a text column and a label column; found one column {cols[0]!r}: are its "
                        f"columns separated by something other than {DELIM_NAMES[delim]} ({others} are read too)?")
    check_columns(cols, text_col, pair_col, label_col, shown)
    pi = cols.index(pair_col) if pair_col else None
    return labelled_rows(reader, cols.index(text_col), pi, cols.index(label_col), shown, text_col, label_col)


def label_order(s: str):
    """Whole-number labels (ASCII digits, an optional minus) in numeric order, then the others as text."""
    return (0, int(s), "") if INT_LABEL.fullmatch(s) else (1, 0, s)


def encode_labels(raw: list[str]) -> tuple[list[int], list[str]]:
    """Labels are text: each distinct string is a class (never converted to a number)."""
    names = sorted(set(raw), key=label_order)
    if len(names) < 2:
        raise UserError(f"the label column has only one class ({names[0]!r}); a task needs at least two")
    index = {n: i for i, n in enumerate(names)}
    return [index[v] for v in raw], names
