"""App side: the new-run form's helpers: the pre-queue check in a subprocess, uploads, CSV preview, columns."""
from __future__ import annotations

import json
import os
import re
import subprocess
import sys
from pathlib import Path

from ..errors import UserError
from .workers import ROOT


def preflight_isolated(cfg, timeout: float = 120.0) -> None:
    """Run runconfig.preflight in a subprocess for hub/local models and non-bundled tasks.

    Checking a hub model imports transformers (and counting its parameters imports
    torch); doing that in a child process keeps the UI process light.  Bundled
    models and tasks are checked in-process (no heavy import).  Raises UserError.
    """
    from .. import models, tasks
    from ..runconfig import preflight

    try:
        light = models.resolve(cfg.model).source in ("bundled", "classic") and tasks.fixed(cfg.task)
    except UserError:
        raise
    if light:
        preflight(cfg)
        return
    code = ("import json,sys\nfrom idim_core.errors import UserError\n"
            "from idim_core.runconfig import RunConfig, preflight\n"
            "try:\n    preflight(RunConfig.from_stored(json.loads(sys.stdin.read())))\n"
            "except UserError as e:\n    print(e); sys.exit(2)\n")
    env = dict(os.environ)
    env.setdefault("TOKENIZERS_PARALLELISM", "false")
    try:
        out = subprocess.run([sys.executable, "-c", code], input=json.dumps(cfg.to_dict()), capture_output=True,
                             text=True, timeout=timeout, cwd=str(ROOT), env=env)
    except subprocess.TimeoutExpired:
        raise UserError(f"checking {cfg.model} took more than {timeout:.0f} s; check your connection, "
                        "or use a bundled model such as minilm-l6") from None
    if out.returncode == 2:
        raise UserError(out.stdout.strip().splitlines()[-1] if out.stdout.strip() else "the model check failed")
    if out.returncode != 0:
        last = (out.stderr.strip().splitlines() or ["unknown error"])[-1]
        raise UserError(f"the model check failed ({last})")


def served_allows(model: str, task: str, home) -> bool:
    """In served mode: a bundled or classic model, a bundled or image task, or a file-backed task (a CSV file ...)
    under <store>/uploads/."""
    from .. import models, sources, tasks

    if not (model in models.CATALOGUE or models._BUNDLED_RE.match(model or "")):  # no path, no hub id is looked at
        return False
    path = sources.file_path(task)
    if path is not None:
        folder = (Path(home) / "uploads").resolve()
        try:
            return Path(path).resolve().parent == folder
        except OSError:
            return False
    try:
        return tasks.fixed(task)
    except UserError:
        return False


UPLOADS_QUOTA = 200 * 2**20  # bytes the uploads folder may hold; the oldest uploads no run uses go first


def uploads_in_use(store) -> set[str]:
    """The upload files some run of the store reads (its task is a file-backed one, csv:<store>/uploads/...)."""
    from .. import sources

    folder = str((Path(store.home) / "uploads").resolve())
    used = set()
    for r in store.list_runs():
        path = sources.file_path(r["config"].get("task"))
        if path is not None and str(Path(path).resolve()).startswith(folder):
            used.add(Path(path).name)
    return used


def make_room(home, need: int, in_use: set[str], quota: int = UPLOADS_QUOTA) -> None:
    """Remove the oldest uploads no run uses until ``need`` more bytes fit under ``quota``; a one-line refusal
    when even that is not enough (the uploads runs read are never removed)."""
    from .. import sources

    folder = Path(home) / "uploads"
    files = sorted((p for p in folder.iterdir() if p.is_file() and sources.for_file(p.name) is not None),
                   key=lambda p: p.stat().st_mtime) if folder.is_dir() else []
    total = sum(p.stat().st_size for p in files)
    for p in files:
        if total + need <= quota:
            break
        if p.name in in_use:
            continue
        size = p.stat().st_size
        try:
            p.unlink()
            total -= size
        except OSError:
            pass
    if total + need > quota:
        raise UserError(f"the server's uploads are full ({total / 2**20:.0f} of {quota / 2**20:.0f} MiB, all used by "
                        "runs); ask the teacher to delete old runs")


def discard_upload(path, in_use: set[str]) -> None:
    """Remove an upload that was refused (and that no run reads): refused files are not kept."""
    p = Path(path)
    if p.parent.name == "uploads" and p.name not in in_use:
        try:
            p.unlink(missing_ok=True)
        except OSError:
            pass


def save_upload(home, name: str, data: bytes, in_use: set[str] | None = None) -> Path:
    """Write an uploaded file (a CSV, or any file-backed source's type: its extension is kept) under
    <store>/uploads/ (content-addressed; the same file is kept once), within the uploads' quota (``make_room``;
    ``in_use``: the uploads runs read, never removed)."""
    import hashlib

    from .. import sources
    from ..sources.csvread import CSV_MAX_BYTES

    src = sources.for_file(name)
    suffix = Path(name).suffix.lower() if src is not None else ".csv"
    if len(data) > CSV_MAX_BYTES:
        raise UserError(f"{name} is {len(data) / 2**20:.0f} MiB; the limit is {CSV_MAX_BYTES / 2**20:.0f} MiB")
    if not data.strip():
        raise UserError(f"{name} is empty")
    stem = re.sub(r"[^A-Za-z0-9._-]+", "_", Path(name).stem)[:40] or "upload"
    folder = Path(home) / "uploads"
    path = folder / f"{stem}-{hashlib.sha256(data).hexdigest()[:12]}{suffix}"
    tmp = path.with_suffix(".part")
    try:
        folder.mkdir(parents=True, exist_ok=True)
        if not path.exists():
            make_room(home, len(data), in_use or set())
            tmp.write_bytes(data)
            tmp.replace(path)
        else:
            path.touch()  # used again: the newest, the last to go
    except OSError as e:  # a full disk, a read-only store: one line, and no half-written file left
        try:
            tmp.unlink(missing_ok=True)
        except OSError:
            pass
        why = e.strerror or type(e).__name__
        raise UserError(f"{name} could not be saved on the server ({why}); free some space or ask the teacher "
                        "to check the run store") from None
    return path


def file_preview(path, rows: int = 5, shown: str | None = None):
    """(columns, first rows as a DataFrame) of a file-backed task's file: its source's ``preview`` (by the file's
    extension), a CSV's (``csv_preview``) for a source without one."""
    from .. import sources

    src = sources.for_file(path)
    if src is not None and src.preview is not None:
        return src.preview(path, rows, shown)
    return csv_preview(path, rows, shown)


def csv_preview(path, rows: int = 5, shown: str | None = None):
    """(columns, first rows as a DataFrame) of a CSV, or a UserError that says what is wrong.

    ``shown``: how messages name the file (an upload's own name: the server's upload path is never shown).
    The delimiter (comma, semicolon or tab) is detected; quoted fields keep their line breaks.
    """
    import csv as _csv
    import io

    import pandas as pd

    from ..sources.csvread import CSV_MAX_BYTES

    p = Path(path).expanduser()
    name = shown or str(p)
    if not p.is_file():
        raise UserError(f"CSV file {name} does not exist")
    if p.stat().st_size > CSV_MAX_BYTES:
        raise UserError(f"{name} is {p.stat().st_size / 2**20:.0f} MiB; the limit is {CSV_MAX_BYTES / 2**20:.0f} MiB")
    with open(p, "rb") as f:
        head = f.read(256 * 1024)
    if head.startswith((b"\xff\xfe", b"\xfe\xff")):
        raise UserError(f"{name} is UTF-16 text; re-save it as UTF-8 CSV")
    try:
        text = head.decode("utf-8-sig")
    except UnicodeDecodeError as e:
        if e.start < len(head) - 4:  # not just a character cut at the end of the sample
            raise UserError(f"{name} is not UTF-8 text; re-save it as UTF-8 CSV") from None
        text = head[: e.start].decode("utf-8-sig")
    if "\x00" in text:
        raise UserError(f"{name} is not a CSV text file")
    from ..sources.csvread import sniff_delimiter  # one rule for the preview and the run

    reader = _csv.reader(io.StringIO(text, newline=""), delimiter=sniff_delimiter(text))
    try:
        header = next(reader)
    except (StopIteration, _csv.Error):
        raise UserError(f"{name} is empty") from None
    if not any(c.strip() for c in header):
        raise UserError(f"{name} has no header row")
    body = []
    try:
        for r in reader:
            if len(body) >= rows:
                break
            body.append((r + [""] * len(header))[: len(header)])
    except _csv.Error:  # a quoted field cut at the end of the sample
        pass
    if len(header) < 2:
        raise UserError(f"{name} has one column ({header[0]!r}); it needs a text column and a label column, "
                        "separated by commas, semicolons or tabs")
    return header, pd.DataFrame(body, columns=_unique(header))


def _unique(header: list[str]) -> list[str]:
    """Column names a DataFrame can show (a repeated or empty name gets a number)."""
    seen: dict[str, int] = {}
    out = []
    for h in header:
        h = h or "(unnamed)"
        seen[h] = seen.get(h, 0) + 1
        out.append(h if seen[h] == 1 else f"{h} ({seen[h]})")
    return out


def hide_path(message: str, path, shown: str) -> str:
    """``message`` with the file ``path`` (as given, expanded or resolved) named ``shown`` instead."""
    p = Path(str(path)).expanduser()
    forms_of = {str(path), str(p)}
    try:
        forms_of.add(str(p.resolve()))
    except OSError:
        pass
    for f in sorted(forms_of, key=len, reverse=True):
        if f:
            message = message.replace(f, shown)
    return message


def guess_columns(header: list[str]) -> tuple[str, str | None, str]:
    """Sensible first choices for the text, second text and label columns."""
    low = [h.lower() for h in header]

    def pick(names, default):
        for n in names:
            if n in low:
                return header[low.index(n)]
        return default

    text = pick(("text", "sentence", "sentence1", "question", "review", "message", "document"), header[0])
    pair = pick(("text_pair", "sentence2", "hypothesis", "text2"), None)
    label = pick(("label", "labels", "class", "category", "target", "y"), header[-1])
    return text, pair, label


def task_facts(task: str, text_column=None, text_pair_column=None, label_column=None, max_length: int = 64) -> str:
    """One line about a task for the Explore page (task_stats caches the work; raises UserError for a bad CSV)."""
    from ..tasks import task_stats

    s = task_stats(task, max_length, 0, text_column or "text", text_pair_column, label_column or "label")
    parts = [f"{s['num_labels']} classes" if s.get("num_labels") else None]
    if s.get("splits"):
        sp = s["splits"]
        parts.append(f"{sp['train']:,} / {sp['val']:,} / {sp['test']:,} train / validation / test")
    if s.get("chance"):
        parts.append(f"chance {s['chance']:.2f}")
    if s.get("majority") is not None:
        parts.append(f"majority class {s['majority']:.2f}")
    if s.get("avg_tokens"):
        parts.append(f"{s['avg_tokens']:.0f} tokens on average ({s['truncated']:.0%} cut at {max_length})")
    if s.get("input"):
        parts.append(s["input"])
    line = " · ".join(p for p in parts if p)
    if s.get("note"):
        line += f". {s['note'][0].upper()}{s['note'][1:]}."
    return line


# The run settings the Explore form can take from a link or from a stored run, by URL name.
PREFILL_KEYS = ("model", "task", "method", "projection", "dims", "ranks", "seeds", "epochs", "max_train", "lr_full",
                "lr_subspace", "lr_scaling", "said_groups", "lr_adapter", "lora_targets", "lora_layers", "lr_head",
                "max_length", "max_eval", "batch_size", "threads", "shuffle_labels", "shuffle_pixels", "claims_facts")


def prefill_from_config(stored: dict) -> dict[str, str]:
    """A stored run's settings as the Explore form's URL values (``/?model=...&dims=...``).

    Explore opened with ``?run=ID`` (the browser's back button from Live lands there) fills the
    form with these, so the form shows what was submitted, not the defaults."""
    from ..methods import axis as method_axis

    out: dict[str, str] = {}
    for k in PREFILL_KEYS:
        v = stored.get(k)
        if v is None or v is False:
            continue
        if k == "dims" and method_axis(stored.get("method")) != "d":
            continue  # adapters keep their levels in ranks (dims there is derived)
        if k in ("lora_targets", "lora_layers") and method_axis(stored.get("method")) != "rank":
            continue
        if isinstance(v, (list, tuple)):
            v = ",".join(str(x) for x in v)
        elif v is True:
            v = "1"
        out[k] = str(v)
    return out


def header_doubt(header: list[str]) -> str | None:
    """Why the first row may be an example rather than a header (a column named by a number, or by a sentence);
    None when it reads as column names."""
    import re as _re

    odd = [h for h in header if _re.fullmatch(r"\s*[-+]?\d+(\.\d+)?\s*", h or "") or len(h or "") > 60
           or len((h or "").split()) > 6]
    if not odd:
        return None
    return (f"The first row is read as the column names, but {odd[0][:40]!r} looks like a value, not a name: if the "
            "file has no header row, add one (such as text,label) so its first example is not lost")
