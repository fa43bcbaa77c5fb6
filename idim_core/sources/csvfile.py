"""Your own CSV file: ``csv:PATH`` (a text column, an optional second text column, a label column)."""
from __future__ import annotations

from .base import TaskSpec, file_functions, file_spec
from .csvread import encode_labels, read_csv

NAME = "csv"
LABEL = "your own CSV file, csv:PATH (labels are text; split 80 / 10 / 10)"
ORDER = 90
HINT = "csv:PATH"  # named in the message for an unknown task
PREFIX = "csv:"  # file-backed: a task is csv: + the path of a file the user can change or upload
EXTENSIONS = (".csv",)  # what the app's uploader accepts for it
KIND = "CSV"  # how messages name its files


def resolve(name: str) -> TaskSpec | None:
    return file_spec(name, PREFIX, KIND, NAME, "reviews.csv")


load, train_size, stamp = file_functions(read_csv, encode_labels)
