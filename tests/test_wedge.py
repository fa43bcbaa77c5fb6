"""The worker never wedges and the store notices damage: real worker processes on real SQLite files.

A queued run that cannot start (a device the machine lacks, a config that does not parse, a full
disk) ends failed with one sentence and the worker goes on to the next run; `idim worker --once`
always returns; the worker's log stays short; a read-only store is still readable; a store from a
newer schema is left byte for byte; a damaged store is refused with a backup copy; a store
deleted and made anew makes the old worker exit.
"""
import json
import os
import shutil
import signal
import sqlite3
import subprocess
import sys
import time

import pytest
from conftest import ROOT, run_cli

from idim_core.runconfig import make_config
from idim_core.store import SCHEMA_VERSION, Store

TINY = dict(model="mlp", task="digits", dims=[10], epochs=1, max_train=200, max_eval=100)


def _worker(home, *args, timeout=240, env_extra=None, **kw):
    env = dict(os.environ, IDIM_HOME=str(home), IDIM_WORKER_WARM="0", **(env_extra or {}))
    t0 = time.monotonic()
    p = subprocess.run([sys.executable, "-m", "idim_core.cli", "worker", "--once", *args], env=env, cwd=ROOT,
                       capture_output=True, text=True, timeout=timeout, **kw)
    return p, time.monotonic() - t0


def _bad_json_run(store: Store, run_id: str = "0123456789ab") -> str:
    now = time.time()
    with store._tx() as c:
        c.execute("INSERT INTO runs(id, created, updated, status, config) "
                  "VALUES (?,?,?,'queued','{\"model\": \"mlp\",')",
                  (run_id, now - 10, now - 10))
    return run_id


@pytest.mark.slow
def test_a_run_that_cannot_start_fails_in_one_sentence_and_the_next_run_trains(home):
    s = Store(home)
    cuda = s.create_run(make_config(**TINY, device="cuda"))
    bad = _bad_json_run(s)
    good = s.create_run(make_config(**TINY))
    s.close()
    import torch

    if torch.cuda.is_available():
        pytest.skip("this machine has CUDA: a cuda run can start here")
    p, secs = _worker(home)
    assert p.returncode == 0, p.stderr[-2000:]
    s = Store(home)
    runs = {r["id"]: r for r in s.list_runs()}
    assert runs[good]["status"] == "done"
    assert runs[cuda]["status"] == "failed" and "cuda" in runs[cuda]["error"].lower()
    assert "\n" not in runs[cuda]["error"] and "Traceback" not in runs[cuda]["error"]
    assert runs[bad]["status"] == "failed" and "cannot be read" in runs[bad]["error"]
    raw = dict(s._q("SELECT id, status FROM runs"))
    assert raw[cuda] == "failed" and raw[bad] == "failed"  # stored as failed, not only shown so
    assert len(p.stderr.strip().splitlines()) <= 5, p.stderr  # a few lines, not a flood


def test_a_config_that_does_not_parse_leaves_ls_show_cancel_and_the_pages_working(home):
    s = Store(home)
    ok = s.create_run(make_config(**TINY))
    bad = _bad_json_run(s)
    s.close()
    ls = run_cli("ls", "--json", home=home, timeout=120)
    assert ls.returncode == 0, ls.stderr
    rows = {r["run_id"]: r for r in json.loads(ls.stdout)}
    assert rows[bad]["status"] == "failed" and rows[ok]["status"] == "queued"
    show = run_cli("show", bad, home=home, timeout=120)
    assert show.returncode == 0 and "cannot be read" in show.stdout, show.stderr
    from idim_core.ui.views import run_label, runs_table

    s = Store(home)
    assert {r["run"] for r in runs_table(s)} == {ok, bad}
    assert bad in run_label(s.get_run(bad))
    s.close()
    cancel = run_cli("cancel", bad, home=home, timeout=120)
    assert cancel.returncode in (0, 2) and len((cancel.stdout + cancel.stderr).strip().splitlines()) == 1
    assert run_cli("cancel", ok, home=home, timeout=120).returncode == 0


@pytest.mark.slow
def test_a_full_disk_does_not_wedge_the_worker(home):
    """The store may not grow (as on a full disk): `--once` returns within seconds with a short log,
    and the next time, with room again, the queue trains."""
    import resource

    s = Store(home)
    first = s.create_run(make_config(**{**TINY, "dims": [10, 20, 30, 40, 50, 60]}))
    second = s.create_run(make_config(**TINY))
    s.close()
    size = sum(f.stat().st_size for f in home.iterdir() if f.name.startswith("idim.db"))

    def limit():
        signal.signal(signal.SIGXFSZ, signal.SIG_IGN)
        resource.setrlimit(resource.RLIMIT_FSIZE, (size + 8_000, size + 8_000))

    p, secs = _worker(home, preexec_fn=limit, timeout=300)
    assert p.returncode in (0, 2), p.stderr[-2000:]
    lines = p.stderr.strip().splitlines()
    assert len(lines) <= 8 and "Traceback" not in p.stderr, p.stderr[-3000:]
    assert any("disk is full" in ln or "disk I/O" in ln for ln in lines), p.stderr
    s = Store(home)
    assert {r["id"] for r in s.list_runs()} == {first, second}  # nothing stored was lost
    s.close()


def test_the_worker_log_is_cut_when_it_grows(home):
    home.mkdir(parents=True)
    Store(home).close()
    log = home / "worker.log"
    log.write_bytes(b"an old line\n" * 2000)  # 24 kB
    with open(log, "ab") as f:
        env = dict(os.environ, IDIM_HOME=str(home), IDIM_WORKER_WARM="0", IDIM_WORKER_LOG_MAX="4000")
        r = subprocess.run([sys.executable, "-m", "idim_core.cli", "worker", "--once"], env=env, cwd=ROOT,
                           stdout=subprocess.DEVNULL, stderr=f, timeout=120)
    assert r.returncode == 0
    assert log.stat().st_size < 4000 and (home / "worker.log.1").stat().st_size >= 24_000
    assert "watching" in log.read_text()


def test_repeated_messages_are_written_once_a_minute(tmp_path, capsys):
    from idim_core.worker import _Log

    say = _Log(tmp_path)
    for _ in range(10_000):
        say("idim worker: cannot read the queue: the store is locked")
    say("something else")
    time_travel = say._last
    for k in time_travel:
        time_travel[k] -= 120
    say("idim worker: cannot read the queue: the store is locked")
    err = capsys.readouterr().err.splitlines()
    assert len(err) == 3 and "9999 more like it" in err[2], err


def test_poll_must_be_positive(home):
    for bad in ("-1", "0"):
        p = run_cli("worker", "--once", "--poll", bad, home=home, timeout=120)
        assert p.returncode == 2 and len(p.stderr.strip().splitlines()) == 1 and "--poll" in p.stderr, p.stderr


def test_a_damaged_store_is_refused_by_the_worker_with_a_backup_copy(home):
    s = Store(home)
    rid = s.create_run(make_config(**TINY))
    tid = s.start_trial(rid, "subspace", 10, 0)
    s.add_points(tid, [{"step": i, "loss": 0.5, "accuracy": None} for i in range(1, 3000)])
    s.finish_trial(tid, "done", 0.5)
    s._q("PRAGMA wal_checkpoint(TRUNCATE)")
    pages = s._q("PRAGMA page_count")[0][0]
    s.close()
    db = home / "idim.db"
    data = bytearray(db.read_bytes())
    off = (pages - 3) * 4096  # a leaf page of the points table: its cell pointers become nonsense
    data[off + 100:off + 3996] = b"\xff" * 3896
    db.write_bytes(bytes(data))
    before = db.read_bytes()
    p, _ = _worker(home, timeout=120)
    assert p.returncode == 2, p.stderr
    (line,) = p.stderr.strip().splitlines()
    assert "integrity check" in line and "a copy was kept at" in line
    copy = line.split("a copy was kept at ")[1].split(":")[0]
    assert os.path.exists(copy) and open(copy, "rb").read() == before
    assert db.read_bytes() == before  # the worker wrote nothing


def test_a_newer_schema_is_refused_before_anything_is_written(tmp_path):
    c = sqlite3.connect(tmp_path / "idim.db")
    c.execute("CREATE TABLE runs(id TEXT)")
    c.execute(f"PRAGMA user_version={SCHEMA_VERSION + 1}")
    c.close()
    before = (tmp_path / "idim.db").read_bytes()
    assert before[18:20] == b"\x01\x01"  # a rollback-journal file (WAL would be 2, 2)
    p = run_cli("ls", home=tmp_path, timeout=120)
    assert p.returncode == 2 and len(p.stderr.strip().splitlines()) == 1 and "newer idim" in p.stderr
    assert (tmp_path / "idim.db").read_bytes() == before
    assert sorted(f.name for f in tmp_path.iterdir()) == ["idim.db"]


def _as_reader():
    """Run a command without the right to write the store: as root, without the capabilities that
    override file permissions (setpriv); as anyone else, the permissions themselves suffice."""
    if os.geteuid() != 0:
        return []
    if not shutil.which("setpriv"):
        pytest.skip("root without setpriv: cannot take away the right to write")
    return ["setpriv", "--bounding-set=-dac_override,-dac_read_search,-fowner", "--inh-caps=-all"]


def test_a_read_only_store_still_serves_ls_show_and_export(tmp_path):
    home = tmp_path / "ro"
    s = Store(home)
    rid = s.create_run(make_config(**TINY), status="running", owner="t")
    tid = s.start_trial(rid, "baseline", None, 0)
    s.add_points(tid, [{"step": 1, "loss": 0.5, "accuracy": 0.9}])
    s.finish_trial(tid, "done", 0.9)
    s.end_run(rid, "done")
    s.close()
    for f in home.iterdir():
        f.chmod(0o444)
    home.chmod(0o555)
    before = {f.name: f.read_bytes() for f in home.iterdir()}
    env = dict(os.environ, IDIM_HOME=str(home))
    pre = _as_reader()
    try:
        def cli(*args):
            return subprocess.run([*pre, sys.executable, "-m", "idim_core.cli", *args], env=env, cwd=ROOT,
                                  capture_output=True, text=True, timeout=120)

        ls = cli("ls", "--json")
        assert ls.returncode == 0, ls.stderr
        assert [r["run_id"] for r in json.loads(ls.stdout)] == [rid]
        show = cli("show", rid, "--json")
        assert show.returncode == 0 and json.loads(show.stdout)["baseline_accuracy"] == 0.9, show.stderr
        export = cli("export", rid, "--format", "json")
        assert export.returncode == 0 and rid in export.stdout, export.stderr
        worker = cli("worker", "--once")
        assert worker.returncode == 2 and len(worker.stderr.strip().splitlines()) == 1 and "read-only" in worker.stderr
        assert {f.name: f.read_bytes() for f in home.iterdir()} == before  # nothing written, no -wal/-shm made
    finally:
        home.chmod(0o755)


@pytest.mark.slow
def test_a_store_deleted_and_made_anew_makes_the_old_worker_exit(home):
    Store(home).close()
    env = dict(os.environ, IDIM_HOME=str(home), IDIM_WORKER_WARM="0")
    w = subprocess.Popen([sys.executable, "-m", "idim_core.cli", "worker", "--poll", "0.2"], env=env, cwd=ROOT,
                         stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
    try:
        t0 = time.time()
        while not (home / "worker.lock").exists() or not (home / "worker.lock").read_text().strip():
            assert time.time() - t0 < 120, "the worker never started"
            time.sleep(0.3)
        time.sleep(1)
        for f in home.iterdir():
            if f.name.startswith("idim.db"):
                f.unlink()
        Store(home).close()  # a new, empty store in the same directory
        assert w.wait(timeout=30) == 0
        assert "deleted or replaced; exiting" in w.stderr.read()
    finally:
        if w.poll() is None:
            w.kill()
