"""What every task source shares: the task's description (TaskSpec), its data (Split, TaskData) and the
seeded, stratified splitting.  No torch, no datasets."""
from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path

from ..common import stratified_indices
from ..errors import UserError

ASSETS = Path(__file__).resolve().parent.parent.parent / "assets"
MAX_NAME = 1024  # characters of a task name or CSV path (a path longer than this is a mistake)


@dataclass
class TaskSpec:
    name: str
    description: str
    source: str  # the NAME of the source module that loads it: bundled | hub | csv | image | ...
    num_labels: int | None = None
    size: int | None = None
    pair: bool = False
    offline: bool = True
    label_names: list[str] | None = None
    file: str | None = None
    license: str | None = None
    split_column: str | None = None  # a column holding an official train/test split
    note: str | None = None

    def to_dict(self) -> dict:
        return dict(self.__dict__)


@dataclass
class Split:
    text: list[str]
    text_pair: list[str] | None
    labels: list[int]

    def __len__(self) -> int:
        return len(self.labels)

    def subset(self, idx: list[int]) -> "Split":
        return Split([self.text[i] for i in idx],
                     None if self.text_pair is None else [self.text_pair[i] for i in idx],
                     [self.labels[i] for i in idx])


@dataclass
class TaskData:
    name: str
    num_labels: int
    label_names: list[str]
    train: Split
    val: Split
    test: Split
    info: dict = field(default_factory=dict)

    def chance(self) -> float:
        return 1.0 / self.num_labels

    def majority(self) -> float:
        counts = [self.test.labels.count(k) for k in range(self.num_labels)]
        return max(counts) / max(1, len(self.test))


def cap(split: Split, n: int | None, seed: int) -> Split:
    """At most ``n`` examples of a split, stratified and seeded."""
    if n is None or n >= len(split):
        return split
    frac = n / len(split)
    keep = stratified_indices(split.labels, (frac, 1 - frac), seed)[0]
    return split.subset(sorted(keep)[: n] if len(keep) > n else sorted(keep))


def _keys(split: "Split") -> list:
    pairs = split.text_pair or [None] * len(split)
    return [(" ".join(str(t).split()).casefold(), None if p is None else " ".join(str(p).split()).casefold())
            for t, p in zip(split.text, pairs)]


def without(split: "Split", earlier: list["Split"]) -> tuple["Split", int]:
    """``split`` less every example whose text (and pair text; case and spacing ignored) is in an ``earlier`` split,
    and how many were dropped."""
    seen = {k for e in earlier for k in _keys(e)}
    keep = [i for i, k in enumerate(_keys(split)) if k not in seen]
    return (split, 0) if len(keep) == len(split) else (split.subset(keep), len(split) - len(keep))


def finish(spec: TaskSpec, names, train: Split, val: Split, test: Split, seed: int, max_train, max_eval) -> TaskData:
    """The task's data from its three splits, capped by ``max_train`` / ``max_eval``."""
    train = cap(train, max_train, seed)
    val = cap(val, max_eval, seed + 1)
    test = cap(test, max_eval, seed + 2)
    # an example whose text also appears in an earlier split would be scored on something trained (or chosen)
    # on: validation loses what training holds, test what either holds (after capping, so a task without such
    # overlaps keeps exactly the examples it had)
    val, dropped_val = without(val, [train])
    test, dropped_test = without(test, [train, val])
    for name, part, dropped in (("validation", val, dropped_val), ("test", test, dropped_test)):
        if dropped and not len(part):
            shown = Path(spec.file).name if spec.file else spec.name  # a file by its name, never a server path
            raise UserError(f"{shown}: every {name} example ({dropped}) also appears in an earlier split, so "
                            f"nothing is left to score on; the task's splits repeat each other")
    info = {"train": len(train), "val": len(val), "test": len(test)}
    if dropped_val or dropped_test:
        info["overlaps_dropped"] = {"val": dropped_val, "test": dropped_test}
    return TaskData(spec.name, len(names), list(names), train, val, test, info)


def file_spec(name: str, prefix: str, kind: str, source: str, example: str) -> TaskSpec | None:
    """The spec of a file-backed task ``prefix`` + path (``csv:reviews.csv``): the path stored absolute (a worker
    started elsewhere finds the same file); None for a name without the prefix; a one-line UserError for an empty
    path or one that is not a file.  ``kind`` names the file in messages ("CSV"), ``example`` is a file name."""
    if not name.startswith(prefix):
        return None
    typed = name[len(prefix):].strip()
    if not typed:
        raise UserError(f"{prefix} needs the path of a {kind} file, as in {prefix}{example}")
    if "\x00" in typed:
        raise UserError(f"the {kind} path contains a NUL character")
    path = Path(typed).expanduser()
    try:
        path = path.resolve()
        found = path.is_file()
    except (OSError, RuntimeError):
        found = False
    if not found:
        try:
            there = path.exists()
        except (OSError, ValueError):
            there = False
        raise UserError(f"{kind} file {typed} " + ("is not a file (a folder or a device?)" if there
                                                   else "does not exist"))
    return TaskSpec(f"{prefix}{path}", f"your {kind} file {path.name}", source, file=str(path))


def split_rows(spec: TaskSpec, whole: Split, names, split_seed: int, max_train, max_eval) -> TaskData:
    """Labelled rows split 80 / 10 / 10 (stratified, seeded by ``split_seed``); refused in one line when too few."""
    shown = Path(spec.file).name if spec.file else spec.name
    if len(whole) < 10:
        raise UserError(f"{shown} has only {len(whole)} usable rows; at least 10 are needed")
    tr, va, te = stratified_indices(whole.labels, (0.8, 0.1, 0.1), split_seed)
    if not tr or not va or not te:
        raise UserError(f"{shown} is too small to split: its {len(whole)} rows in {len(names)} classes give "
                        f"{len(tr)} training, {len(va)} validation and {len(te)} test examples; each split needs "
                        f"some, so give about 10 rows per class (at least {10 * len(names)} rows)")
    return finish(spec, names, whole.subset(tr), whole.subset(va), whole.subset(te), split_seed, max_train, max_eval)


def catalogue_size(spec: TaskSpec) -> tuple[int | None, int | None]:
    """(about how many training examples, how many classes) from the catalogue's numbers (no reading)."""
    share = 0.72 if spec.split_column else 0.8  # an official split: 80 % train, a tenth of it validation
    return (int(share * spec.size) if spec.size else None), spec.num_labels


def file_functions(read, encode):
    """``load``, ``train_size`` and ``stamp`` of a file-backed source (the CSV and Parquet ones share them):
    ``read(path, text_column, text_pair_column, label_column)`` gives (texts, second texts or None, raw labels)
    and ``encode(raw)`` the label ids and names."""
    sizes: dict[tuple, tuple] = {}

    def load(spec: TaskSpec, split_seed=0, max_train=None, max_eval=None, text_column="text",
             text_pair_column=None, label_column="label"):
        a, b, raw = read(Path(spec.file), text_column, text_pair_column, label_column)
        labels, names = encode(raw)
        return split_rows(spec, Split(a, b, labels), names, split_seed, max_train, max_eval)

    def train_size(spec: TaskSpec, text_column="text", text_pair_column=None, label_column="label"):
        """The file is read once (cached by its path, its mtime and the columns)."""
        path = Path(spec.file)
        key = (str(path), path.stat().st_mtime, text_column, text_pair_column, label_column)
        if key not in sizes:
            _, _, raw = read(path, text_column, text_pair_column, label_column)
            sizes[key] = (len(raw), len(set(raw)))
        rows, classes = sizes[key]
        return int(0.8 * rows), classes

    def stamp(spec: TaskSpec):
        """The file's mtime: statistics are cached until the file changes."""
        return Path(spec.file).stat().st_mtime

    return load, train_size, stamp
