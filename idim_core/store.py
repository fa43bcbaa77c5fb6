"""The run store: one SQLite file (WAL mode), the single source of truth.

Tables: ``runs`` (config as JSON, status, device, timings, error, facts such as D and chance),
``trials`` (one per baseline or (d, seed)), ``points`` (training curve: step, loss,
validation accuracy) and ``events`` (a log a person can read).  The CLI, the worker
and the app all read and write through this module; it never imports torch.

Statuses: queued, running, done, failed, cancelled, interrupted.  A run whose owner
stopped heart-beating for ``STALE_AFTER`` seconds is shown as interrupted.
"""
from __future__ import annotations

import json
import os
import re
import shutil
import sqlite3
import sys
import time
import uuid
from contextlib import contextmanager
from pathlib import Path

from .errors import UserError

SCHEMA_VERSION = 5  # 2: runs.active_seconds, trials.correct; 3: trials.peak_mb; 4: trials.train_accuracy, extra;
# 5: runs.visitor (the browser that started a run in served mode), guesses
# seconds without a heartbeat before a running run counts as interrupted (tests shorten it)
STALE_AFTER = float(os.environ.get("IDIM_STALE_AFTER", "20"))
RUN_ID_RE = re.compile(r"^[0-9a-f]{12}$")
FINAL = ("done", "failed", "cancelled")
# what a run whose stored config cannot be read shows instead (it reads as failed; nothing is rewritten)
UNREADABLE = "unreadable"

_SCHEMA = """
CREATE TABLE IF NOT EXISTS runs (
    id TEXT PRIMARY KEY,
    created REAL NOT NULL,
    updated REAL NOT NULL,
    status TEXT NOT NULL,
    config TEXT NOT NULL,
    device TEXT,
    started REAL,
    finished REAL,
    heartbeat REAL,
    owner TEXT,
    cancel_requested INTEGER NOT NULL DEFAULT 0,
    error TEXT,
    summary TEXT,
    active_seconds REAL,           -- seconds of earlier segments (a resumed run's wall time skips the gap)
    visitor TEXT                   -- served mode: a hash of the browser that started it (NULL: the CLI, the teacher)
);
CREATE TABLE IF NOT EXISTS trials (
    id INTEGER PRIMARY KEY AUTOINCREMENT,
    run_id TEXT NOT NULL REFERENCES runs(id) ON DELETE CASCADE,
    kind TEXT NOT NULL,            -- baseline | subspace
    d INTEGER,                     -- null for the baseline
    seed INTEGER NOT NULL,
    status TEXT NOT NULL,          -- running | done | diverged | failed | cancelled | provisional (a baseline
                                   -- whose rate search trained its first rate, the rest to come)
    accuracy REAL,
    val_accuracy REAL,
    steps INTEGER,
    total_steps INTEGER,
    seconds REAL,
    trainable INTEGER,
    started REAL,
    finished REAL,
    error TEXT,
    correct TEXT,                  -- the test pass, one '0'/'1' per example (for d90's interval)
    peak_mb REAL,                  -- peak memory of the trial (GPU allocated, or the process's RSS on a CPU)
    train_accuracy REAL,           -- the kept state on the training examples (generalisation gap = this - accuracy)
    extra TEXT                     -- JSON: SAID's lambdas (and their history), accuracy with z quantised
);
CREATE UNIQUE INDEX IF NOT EXISTS trials_key ON trials(run_id, kind, IFNULL(d, -1), seed);
CREATE TABLE IF NOT EXISTS points (
    trial_id INTEGER NOT NULL REFERENCES trials(id) ON DELETE CASCADE,
    step INTEGER NOT NULL,
    loss REAL,
    accuracy REAL,
    t REAL NOT NULL
);
CREATE INDEX IF NOT EXISTS points_trial ON points(trial_id, step);
CREATE TABLE IF NOT EXISTS events (
    id INTEGER PRIMARY KEY AUTOINCREMENT,
    run_id TEXT NOT NULL REFERENCES runs(id) ON DELETE CASCADE,
    t REAL NOT NULL,
    level TEXT NOT NULL,
    message TEXT NOT NULL
);
CREATE INDEX IF NOT EXISTS events_run ON events(run_id, id);
CREATE INDEX IF NOT EXISTS runs_status ON runs(status);
CREATE TABLE IF NOT EXISTS guesses (
    run_id TEXT NOT NULL REFERENCES runs(id) ON DELETE CASCADE,
    visitor TEXT NOT NULL,         -- one guess per browser and run
    d REAL NOT NULL,
    t REAL NOT NULL,
    PRIMARY KEY (run_id, visitor)
);
"""


def default_home() -> Path:
    env = os.environ.get("IDIM_HOME")
    if env:
        return Path(env).expanduser()
    if sys.platform == "win32":
        base = Path(os.environ.get("LOCALAPPDATA", Path.home() / "AppData" / "Local"))
    elif sys.platform == "darwin":
        base = Path.home() / "Library" / "Application Support"
    else:
        base = Path(os.environ.get("XDG_DATA_HOME", Path.home() / ".local" / "share"))
    return base / "idim"


def owner_id(prefix: str = "") -> str:
    """Who owns a running run: host and process (the worker prefixes "worker:")."""
    import socket

    return f"{prefix}{socket.gethostname()}:{os.getpid()}"


def unreadable_error(run_id: str) -> str:
    return (f"run {run_id}'s stored settings cannot be read (its config is not valid JSON); "
            "it cannot be trained, start it again with `idim run`")


def check_run_id(run_id: str) -> str:
    if not isinstance(run_id, str) or not RUN_ID_RE.match(run_id):
        raise UserError(f"{run_id!r} is not a run id (12 hex digits, as `idim ls` shows)")
    return run_id


class LostRun(Exception):
    """This process no longer owns the run it was writing: another process resumed it (``Store.fence``).  Not a
    UserError: the process stops without writing anything more to the run, no error event included."""


class TakenOver(UserError):
    """What a process that met LostRun says (one line): it stopped; the run goes on elsewhere, untouched."""


class Store:
    """The run store.  ``readonly``: open for reading only (``idim ls``, ``show``, ``export``); by default a
    store whose file or directory this process cannot write is opened that way by itself."""

    def __init__(self, home: str | Path | None = None, readonly: bool | None = None):
        self.home = Path(home) if home else default_home()
        self.path = self.home / "idim.db"
        if not self.home.is_dir():
            try:
                self.home.mkdir(parents=True, exist_ok=True)
            except OSError as e:
                raise UserError(f"cannot create the run store directory {self.home} ({e.strerror}); "
                                "set IDIM_HOME to a writable directory") from None
        self.readonly = self._unwritable() if readonly is None else readonly
        self._conn: sqlite3.Connection | None = None
        # Two processes opening a new store at the same moment can meet SQLite's lock while one of
        # them switches the file to WAL or creates the tables (that switch does not wait on the busy
        # timeout): try again for a few seconds before saying anything.
        for attempt in range(50):
            try:
                self._init()
                break
            except UserError as e:
                if "locked" not in str(e) or attempt == 49:
                    raise
                self.close()
                time.sleep(0.1 + 0.01 * attempt)

    def _unwritable(self) -> bool:
        """An existing store this process may not write (the file, or the directory its journal goes in)."""
        if not self.path.exists():
            return False
        return not (os.access(self.path, os.W_OK) and os.access(self.home, os.W_OK))

    # -- connection ----------------------------------------------------------
    def _connect(self) -> sqlite3.Connection:
        if self._conn is None:
            c = None
            try:
                c = self._open_readonly() if self.readonly else sqlite3.connect(
                    self.path, timeout=30, isolation_level=None, check_same_thread=False)
                c.row_factory = sqlite3.Row
                c.execute("PRAGMA busy_timeout=30000")
                # the schema check reads the header only: a store this idim does not understand is refused
                # before anything (the switch to WAL included) writes to it
                version = c.execute("PRAGMA user_version").fetchone()[0]
                if version > SCHEMA_VERSION:
                    c.close()
                    c = None
                    raise UserError(f"the run store {self.path} was written by a newer idim (schema {version}); "
                                    "upgrade idim (the store was left as it is)")
                if not self.readonly:
                    c.execute("PRAGMA journal_mode=WAL")
                    c.execute("PRAGMA synchronous=NORMAL")
                c.execute("PRAGMA foreign_keys=ON")
            except sqlite3.DatabaseError as e:
                if c is not None:
                    c.close()
                raise self._explain(e) from None
            self._conn = c
        return self._conn

    def _open_readonly(self) -> sqlite3.Connection:
        """A read-only connection that writes nothing, not even WAL's shared-memory file where it cannot."""
        from urllib.parse import quote

        if not self.path.exists():
            raise UserError(f"there is no run store at {self.path} (and {self.home} cannot be written); "
                            "set IDIM_HOME to the store's directory")
        uri = f"file:{quote(str(self.path.resolve()))}?mode=ro"
        c = sqlite3.connect(uri, uri=True, timeout=30, isolation_level=None, check_same_thread=False)
        try:
            c.execute("SELECT count(*) FROM sqlite_master").fetchone()
            return c
        except sqlite3.OperationalError as e:
            # a WAL store in a directory this process cannot write: its -shm file cannot be made; read the
            # file as it is (what the last writer checkpointed)
            if "unable to open" not in str(e) and "readonly" not in str(e):
                raise
            c.close()
        return sqlite3.connect(uri + "&immutable=1", uri=True, timeout=30, isolation_level=None,
                               check_same_thread=False)

    def _explain(self, e: Exception) -> UserError:
        msg = str(e)
        if "not a database" in msg or "malformed" in msg:
            return UserError(f"the run store {self.path} is damaged ({msg}); "
                             "move it aside (nothing was changed) or set IDIM_HOME to another directory")
        if self.readonly and ("readonly" in msg or "read-only" in msg or "unable to open" in msg):
            return UserError(f"the run store {self.path} is read-only here: `idim ls`, `show` and `export` read it, "
                             "but this needs to write; fix its permissions or set IDIM_HOME to a writable directory")
        if "readonly" in msg or "unable to open" in msg:
            return UserError(f"the run store {self.path} cannot be written ({msg}); "
                             "fix its permissions or set IDIM_HOME to a writable directory")
        if "disk is full" in msg or "disk I/O error" in msg:
            return UserError(f"the run store {self.path} could not be written ({msg}: the disk is full or failing); "
                             "free some space and run `idim resume` (finished results are kept)")
        return UserError(f"the run store {self.path} failed: {msg}")

    def identity(self) -> tuple[int, int] | None:
        """(device, inode) of the store's file: a store deleted and made anew has another one."""
        try:
            st = os.stat(self.path)
        except OSError:
            return None
        return st.st_dev, st.st_ino

    def quick_check(self) -> str | None:
        """SQLite's quick_check of every page: None when the store is sound, else what it found (first line)."""
        try:
            rows = self._connect().execute("PRAGMA quick_check").fetchall()
        except sqlite3.DatabaseError as e:
            return str(e)
        found = [str(r[0]) for r in rows]
        if found == ["ok"]:
            return None
        lines = [ln.strip() for f in found for ln in f.splitlines() if ln.strip() and not ln.startswith("***")]
        return (lines[0][:200] + (f", and {len(lines) - 1} more problems" if len(lines) > 1 else "")) if lines \
            else "quick_check failed"

    def backup_copy(self) -> Path:
        """A byte copy of the store's files beside it (idim.db.damaged-<time>, with its -wal): nothing is lost."""
        stamp = time.strftime("%Y%m%d-%H%M%S")
        dest = self.home / f"idim.db.damaged-{stamp}"
        n = 1
        while dest.exists():
            n += 1
            dest = self.home / f"idim.db.damaged-{stamp}-{n}"
        shutil.copy2(self.path, dest)
        for suffix in ("-wal",):
            side = Path(str(self.path) + suffix)
            if side.exists():
                shutil.copy2(side, Path(str(dest) + suffix))
        return dest

    @contextmanager
    def _tx(self):
        c = self._connect()
        try:
            c.execute("BEGIN IMMEDIATE")
            yield c
            c.execute("COMMIT")
        except sqlite3.DatabaseError as e:
            try:
                c.execute("ROLLBACK")
            except sqlite3.Error:
                pass
            raise self._explain(e) from None
        except BaseException:
            try:
                c.execute("ROLLBACK")
            except sqlite3.Error:
                pass
            raise

    def _q(self, sql: str, args=()) -> list[sqlite3.Row]:
        try:
            return self._connect().execute(sql, args).fetchall()
        except sqlite3.DatabaseError as e:
            raise self._explain(e) from None

    def _init(self) -> None:
        c = self._connect()  # refuses a newer schema before anything is written
        try:
            version = c.execute("PRAGMA user_version").fetchone()[0]
        except sqlite3.DatabaseError as e:
            raise self._explain(e) from None
        if version < SCHEMA_VERSION and not self.readonly:
            with self._tx() as tx:
                for stmt in _SCHEMA.split(";"):
                    if stmt.strip():
                        tx.execute(stmt)
                self._add_missing_columns(tx)
                tx.execute(f"PRAGMA user_version={SCHEMA_VERSION}")

    @staticmethod
    def _add_missing_columns(tx) -> None:
        """Bring tables written by an older idim up to the current schema, keeping every row.

        Older stores may lack columns added since; each is added with its default.
        """
        wanted: dict[str, list[tuple[str, str]]] = {}
        for stmt in _SCHEMA.split(";"):
            m = re.match(r"\s*CREATE TABLE IF NOT EXISTS (\w+) \((.*)\)\s*$", stmt, re.S)
            if not m:
                continue
            cols = []
            for line in m.group(2).splitlines():
                line = line.split("--")[0].strip().rstrip(",")
                if line and not line.upper().startswith(("PRIMARY", "UNIQUE", "FOREIGN")):
                    name, decl = line.split(None, 1)
                    cols.append((name, decl))
            wanted[m.group(1)] = cols
        for table, cols in wanted.items():
            have = {r[1] for r in tx.execute(f"PRAGMA table_info({table})")}
            for name, decl in cols:
                if name not in have:
                    decl = re.sub(r"\bPRIMARY KEY\b.*|\bREFERENCES\b.*", "", decl).replace("NOT NULL", "").strip()
                    if "DEFAULT" not in decl and name == "cancel_requested":
                        decl += " DEFAULT 0"
                    tx.execute(f"ALTER TABLE {table} ADD COLUMN {name} {decl}")

    def close(self) -> None:
        if self._conn is not None:
            self._conn.close()
            self._conn = None

    # -- the writer's fence -----------------------------------------------------
    def fence(self, run_id: str, owner: str) -> None:
        """From now on this Store writes ``run_id``'s trials, events, summary and end only while ``owner`` owns it
        and it is not waiting to be taken (queued, interrupted): a claim by another process moves the owner, so a
        process that was paused and woke up after ``idim resume`` gave the run to someone else raises LostRun
        instead of writing."""
        self._fences = {**getattr(self, "_fences", {}), run_id: owner}

    def _owned(self, c, run_id: str | None) -> None:
        owner = getattr(self, "_fences", {}).get(run_id) if run_id else None
        if owner is None:
            return
        row = c.execute("SELECT status, owner FROM runs WHERE id=?", (run_id,)).fetchone()
        if row is None or row["owner"] != owner or row["status"] in ("queued", "interrupted"):
            raise LostRun(f"run {run_id} is no longer this process's ({owner}): another process took it over")

    def _run_of_trial(self, c, trial_id: int) -> str | None:
        if not getattr(self, "_fences", None):
            return None
        row = c.execute("SELECT run_id FROM trials WHERE id=?", (trial_id,)).fetchone()
        return row["run_id"] if row else None

    # -- runs ----------------------------------------------------------------
    def create_run(self, config, status: str = "queued", owner: str | None = None,
                   visitor: str | None = None) -> str:
        """A new run of ``config`` (a RunConfig, or a stored run's dict: a record); ``visitor``: the browser that
        started it in served mode (only it, or the teacher, may stop, resume or delete it)."""
        run_id = uuid.uuid4().hex[:12]
        now = time.time()
        with self._tx() as c:
            c.execute(
                "INSERT INTO runs(id, created, updated, status, config, owner, heartbeat, started, visitor) "
                "VALUES (?,?,?,?,?,?,?,?,?)",
                (run_id, now, now, status, json.dumps(config if isinstance(config, dict) else config.to_dict()), owner,
                 now if status == "running" else None, now if status == "running" else None, visitor),
            )
            c.execute("INSERT INTO events(run_id, t, level, message) VALUES (?,?,?,?)",
                      (run_id, now, "info", f"run created ({status})"))
        return run_id

    def _row_to_run(self, r: sqlite3.Row) -> dict:
        """A run row as a dict.  Read tolerantly: a config that does not parse (a damaged row, a hand edit)
        reads as a failed run with placeholder settings, so listing, showing and cancelling still work."""
        run = dict(r)
        try:
            cfg = json.loads(run["config"])
        except (TypeError, ValueError):
            cfg = None
        try:
            run["summary"] = json.loads(run["summary"]) if run.get("summary") else None
        except (TypeError, ValueError):
            run["summary"] = None
        if not isinstance(run["summary"], (dict, type(None))):
            run["summary"] = None
        if not isinstance(cfg, dict):
            run["config"] = {"model": "?", "task": "?", "method": "?", "projection": "?", UNREADABLE: True}
            if run["status"] not in ("cancelled",):
                run["status"] = "failed"
            run["error"] = run.get("error") or unreadable_error(run["id"])
            return run
        run["config"] = cfg
        if run["status"] == "running" and (run["heartbeat"] or 0) < time.time() - STALE_AFTER:
            run["status"] = "interrupted"
        return run

    def get_run(self, run_id: str) -> dict | None:
        rows = self._q("SELECT * FROM runs WHERE id=?", (run_id,))
        return self._row_to_run(rows[0]) if rows else None

    def status_of(self, run_id: str) -> str | None:
        """A run's stored status, read alone (None: no such run)."""
        rows = self._q("SELECT status FROM runs WHERE id=?", (run_id,))
        return rows[0]["status"] if rows else None

    def queued_ids(self) -> list[str]:
        """The ids of the queued runs, oldest first (the worker's queue)."""
        return [r["id"] for r in self._q("SELECT id FROM runs WHERE status='queued' ORDER BY created")]

    def require_run(self, run_id: str) -> dict:
        check_run_id(run_id)
        run = self.get_run(run_id)
        if run is None:
            raise UserError(f"no run {run_id} in {self.path} (see `idim ls`)")
        return run

    def list_runs(self, limit: int | None = None) -> list[dict]:
        sql = "SELECT * FROM runs ORDER BY created DESC" + (" LIMIT ?" if limit else "")
        return [self._row_to_run(r) for r in self._q(sql, (limit,) if limit else ())]

    def update_run(self, run_id: str, **fields) -> None:
        # status is not here: it changes only through the guarded methods below (claim, end_run,
        # mark_interrupted, requeue, reopen, request_cancel), each one transaction with a guard
        allowed = {"device", "started", "finished", "heartbeat", "owner", "error", "summary", "cancel_requested",
                   "config"}
        bad = set(fields) - allowed
        if bad:
            raise ValueError(f"unknown run fields {bad}")
        for k in ("summary", "config"):
            if k in fields and not isinstance(fields[k], str) and fields[k] is not None:
                fields[k] = json.dumps(fields[k])
        fields["updated"] = time.time()
        cols = ", ".join(f"{k}=?" for k in fields)
        with self._tx() as c:
            self._owned(c, run_id)
            c.execute(f"UPDATE runs SET {cols} WHERE id=?", (*fields.values(), run_id))

    def heartbeat(self, run_id: str) -> None:
        owner = getattr(self, "_fences", {}).get(run_id)
        with self._tx() as c:  # a fenced process beats only while it owns the run (a woken one revives nothing)
            c.execute("UPDATE runs SET heartbeat=? WHERE id=?" + (" AND owner=? AND status='running'" if owner else ""),
                      (time.time(), run_id, *((owner,) if owner else ())))

    def claim(self, run_id: str, owner: str, device: str) -> bool:
        """Take a queued or interrupted run for this owner (atomic)."""
        now = time.time()
        with self._tx() as c:
            row = c.execute("SELECT status, heartbeat FROM runs WHERE id=?", (run_id,)).fetchone()
            if row is None:
                return False
            stale = row["status"] == "running" and (row["heartbeat"] or 0) < now - STALE_AFTER
            if row["status"] not in ("queued", "interrupted") and not stale:
                return False
            # A resumed run starts a new segment: the time it spent stopped is not its wall time.
            c.execute(
                "UPDATE runs SET active_seconds = COALESCE(active_seconds, 0) + CASE WHEN started IS NULL THEN 0 "
                "ELSE MAX(0, COALESCE(finished, NULLIF(heartbeat, 0), started) - started) END WHERE id=?", (run_id,))
            c.execute(
                "UPDATE runs SET status='running', owner=?, device=?, heartbeat=?, updated=?, "
                "started=?, finished=NULL, cancel_requested=0, error=NULL WHERE id=?",
                (owner, device, now, now, now, run_id),
            )
        return True

    def fail_unstarted(self, run_id: str, error: str, owner: str | None = None) -> bool:
        """A run that cannot start (its device is missing, its config unreadable, the disk full) ends failed
        with ``error`` instead of staying queued: from queued or interrupted, or running for ``owner``."""
        now = time.time()
        with self._tx() as c:
            cur = c.execute(
                "UPDATE runs SET status='failed', finished=?, updated=?, error=? WHERE id=? AND "
                "(status IN ('queued','interrupted') OR (status='running' AND (owner=? OR COALESCE(heartbeat,0) < ?)))",
                (now, now, error, run_id, owner, now - STALE_AFTER))
            if cur.rowcount != 1:
                return False
            c.execute("INSERT INTO events(run_id, t, level, message) VALUES (?,?,?,?)", (run_id, now, "error", error))
        return True

    def next_queued(self) -> str | None:
        rows = self._q("SELECT id FROM runs WHERE status='queued' ORDER BY created LIMIT 1")
        return rows[0]["id"] if rows else None

    def request_cancel(self, run_id: str) -> str:
        """Ask a run to stop. Returns the status it ends up with (queued runs end at once).

        The status is read inside the same transaction that changes it, so a worker claiming
        the run at the same moment cannot slip between the two.
        """
        self.require_run(run_id)
        now = time.time()
        with self._tx() as c:
            row = c.execute("SELECT status, heartbeat FROM runs WHERE id=?", (run_id,)).fetchone()
            status = row["status"]
            if status == "running" and (row["heartbeat"] or 0) < now - STALE_AFTER:
                status = "interrupted"
            if status in FINAL:
                raise UserError(f"run {run_id} is already {status}; nothing to cancel")
            if status in ("queued", "interrupted"):
                c.execute("UPDATE runs SET status='cancelled', finished=?, updated=? WHERE id=?", (now, now, run_id))
                c.execute("INSERT INTO events(run_id, t, level, message) VALUES (?,?,?,?)",
                          (run_id, now, "info", "cancelled"))
                return "cancelled"
            c.execute("UPDATE runs SET cancel_requested=1, updated=? WHERE id=?", (now, run_id))
            c.execute("INSERT INTO events(run_id, t, level, message) VALUES (?,?,?,?)",
                      (run_id, now, "info", "cancel requested"))
        return "cancelling"

    def _guarded(self, run_id: str, sql: str, args: tuple, allowed: tuple[str, ...], stale_ok: bool = False) -> bool:
        """One UPDATE of a run's status, applied only from the ``allowed`` statuses (True if it was)."""
        now = time.time()
        marks = ",".join("?" * len(allowed))
        guard = f"status IN ({marks})"
        params: tuple = (*allowed,)
        if stale_ok:  # a running run whose owner stopped heart-beating counts as interrupted
            guard = f"({guard} OR (status='running' AND COALESCE(heartbeat, 0) < ?))"
            params += (now - STALE_AFTER,)
        with self._tx() as c:
            cur = c.execute(f"UPDATE runs SET {sql}, updated=? WHERE id=? AND {guard}", (*args, now, run_id, *params))
            return cur.rowcount == 1

    def end_run(self, run_id: str, status: str, error: str | None = None) -> bool:
        """The owner ends a running run: done, failed or cancelled (finished trials are kept).  A fenced process
        that lost the run raises LostRun and changes nothing."""
        if status not in FINAL:
            raise ValueError(f"end_run takes one of {FINAL}, not {status!r}")
        if getattr(self, "_fences", {}).get(run_id):
            with self._tx() as c:
                self._owned(c, run_id)
        return self._guarded(run_id, "status=?, finished=?, error=?", (status, time.time(), error), ("running",))

    def mark_interrupted(self, run_id: str) -> bool:
        """The owner was stopped from outside (Ctrl-C): the run can be resumed."""
        return self._guarded(run_id, "status='interrupted', heartbeat=0", (), ("running", "queued"))

    def requeue(self, run_id: str) -> bool:
        """Resume from the app: a stopped run goes back to the queue for the worker."""
        return self._guarded(run_id, "status='queued', heartbeat=NULL, cancel_requested=0, error=NULL", (),
                             ("interrupted", "failed", "cancelled"), stale_ok=True)

    def reopen(self, run_id: str, force: bool = False) -> bool:
        """Resume in this process (`idim resume`): a stopped run becomes claimable again."""
        allowed = ("interrupted", "failed", "cancelled", "done") if force else ("interrupted", "failed")
        return self._guarded(run_id, "status='interrupted', heartbeat=0, cancel_requested=0", (), allowed,
                             stale_ok=True)

    def cancel_requested(self, run_id: str) -> bool:
        rows = self._q("SELECT cancel_requested FROM runs WHERE id=?", (run_id,))
        return bool(rows and rows[0][0])

    def ahead_of(self, run_id: str) -> int:
        """Runs queued or running that were created before ``run_id``: one indexed count, however many runs the
        store holds (Live asks every few seconds while a run waits)."""
        rows = self._q("SELECT count(*) FROM runs WHERE status IN ('queued','running') AND created < "
                       "(SELECT created FROM runs WHERE id=?)", (run_id,))
        return int(rows[0][0])

    def waiting(self, visitor: str | None = None) -> int:
        """Runs queued or running (of one visitor, when given): what the served app's fair shares count."""
        sql = "SELECT count(*) FROM runs WHERE status IN ('queued','running')"
        rows = self._q(sql + (" AND visitor=?" if visitor else ""), (visitor,) if visitor else ())
        return int(rows[0][0])

    # -- guesses: where the class thinks a run's curve will cross ---------------------------------------
    def add_guess(self, run_id: str, visitor: str, d: float) -> bool:
        """One guess of d90 per browser and run; False (nothing changed) when this browser has guessed already."""
        self.require_run(run_id)
        with self._tx() as c:
            cur = c.execute("INSERT OR IGNORE INTO guesses(run_id, visitor, d, t) VALUES (?,?,?,?)",
                            (run_id, visitor, float(d), time.time()))
            return cur.rowcount == 1

    def guesses(self, run_id: str) -> list[dict]:
        """The guesses of d90 for a run, oldest first (none in a read-only store older than the guesses)."""
        try:
            rows = self._q("SELECT d, t, visitor FROM guesses WHERE run_id=? ORDER BY t", (run_id,))
        except UserError as e:
            if "no such table" in str(e):
                return []
            raise
        return [{"d": r["d"], "t": r["t"], "visitor": r["visitor"]} for r in rows]

    def delete_run(self, run_id: str) -> None:
        with self._tx() as c:
            c.execute("DELETE FROM runs WHERE id=?", (run_id,))

    # -- trials and points -----------------------------------------------------
    def start_trial(self, run_id: str, kind: str, d: int | None, seed: int) -> int:
        now = time.time()
        with self._tx() as c:
            self._owned(c, run_id)
            c.execute("DELETE FROM trials WHERE run_id=? AND kind=? AND IFNULL(d,-1)=IFNULL(?,-1) AND seed=? "
                      "AND status NOT IN ('done','diverged')", (run_id, kind, d, seed))
            cur = c.execute("INSERT INTO trials(run_id, kind, d, seed, status, started) VALUES (?,?,?,?,?,?)",
                            (run_id, kind, d, seed, "running", now))
            return cur.lastrowid

    def reopen_trial(self, trial_id: int) -> None:
        """A provisional trial (a baseline whose rate search trained its first rate: the ruler for now) training
        again, its other rates; its first rate's figures stay until it finishes (``finish_trial``)."""
        with self._tx() as c:
            self._owned(c, self._run_of_trial(c, trial_id))
            c.execute("UPDATE trials SET status='running' WHERE id=?", (trial_id,))

    def finish_trial(self, trial_id: int, status: str, accuracy=None, val_accuracy=None, steps=None,
                     total_steps=None, seconds=None, trainable=None, error=None, correct=None,
                     peak_mb=None, train_accuracy=None, extra=None) -> None:
        """``correct``: per-example correctness of the test pass (a sequence of bools), kept for d90's interval."""
        if correct is not None and not isinstance(correct, str):
            correct = "".join("1" if c else "0" for c in correct)
        with self._tx() as c:
            self._owned(c, self._run_of_trial(c, trial_id))
            c.execute(
                "UPDATE trials SET status=?, accuracy=?, val_accuracy=?, steps=?, total_steps=?, seconds=?, "
                "trainable=?, finished=?, error=?, correct=?, peak_mb=?, train_accuracy=?, extra=? WHERE id=?",
                (status, accuracy, val_accuracy, steps, total_steps, seconds, trainable, time.time(), error, correct,
                 peak_mb, train_accuracy, None if extra is None else json.dumps(extra), trial_id),
            )

    def copy_trial(self, run_id: str, row: dict) -> None:
        """A finished trial of another run, copied into this run as it is (a shared baseline)."""
        cols = ("kind", "d", "seed", "status", "accuracy", "val_accuracy", "steps", "total_steps", "seconds",
                "trainable", "started", "finished", "error", "correct", "peak_mb", "train_accuracy")
        with self._tx() as c:
            self._owned(c, run_id)
            c.execute("INSERT INTO trials(run_id, kind, d, seed, status, accuracy, val_accuracy, steps, total_steps, "
                      "seconds, trainable, started, finished, error, correct, peak_mb, train_accuracy, extra) "
                      "VALUES (?,?,?,?,?,?,?,?,?,?,?,?,?,?,?,?,?,?)",
                      (run_id, *(row.get(k) for k in cols),
                       None if row.get("extra") is None else json.dumps(row["extra"])))

    def add_points(self, trial_id: int, points: list[dict]) -> None:
        """Append a trial's curve points; a step already stored for the trial is not stored again
        (a batch sent twice, a retried attempt's replay), so the write is idempotent."""
        if not points:
            return
        now = time.time()
        with self._tx() as c:
            self._owned(c, self._run_of_trial(c, trial_id))
            c.executemany("INSERT INTO points(trial_id, step, loss, accuracy, t) SELECT ?,?,?,?,? WHERE NOT EXISTS "
                          "(SELECT 1 FROM points WHERE trial_id=? AND step=?)",
                          [(trial_id, p["step"], p.get("loss"), p.get("accuracy"), now, trial_id, p["step"])
                           for p in points])
            c.execute("UPDATE trials SET steps=?, total_steps=COALESCE(?, total_steps) WHERE id=?",
                      (points[-1]["step"], points[-1].get("total"), trial_id))

    def trials(self, run_id: str) -> list[dict]:
        out = []
        for r in self._q("SELECT * FROM trials WHERE run_id=? ORDER BY id", (run_id,)):
            t = dict(r)
            if t.get("extra"):
                try:
                    t["extra"] = json.loads(t["extra"])
                except ValueError:
                    t["extra"] = None
            out.append(t)
        return out

    def points(self, trial_id: int) -> list[dict]:
        return [dict(r) for r in self._q("SELECT step, loss, accuracy, t FROM points WHERE trial_id=? ORDER BY step",
                                         (trial_id,))]

    # -- events ----------------------------------------------------------------
    def event(self, run_id: str, level: str, message: str) -> None:
        with self._tx() as c:
            self._owned(c, run_id)
            c.execute("INSERT INTO events(run_id, t, level, message) VALUES (?,?,?,?)",
                      (run_id, time.time(), level, message))

    def events(self, run_id: str, limit: int = 200) -> list[dict]:
        return [dict(r) for r in self._q("SELECT t, level, message FROM events WHERE run_id=? ORDER BY id DESC LIMIT ?",
                                         (run_id, limit))][::-1]
