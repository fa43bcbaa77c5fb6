import sqlite3
import time

import pytest

from idim_core import d90
from idim_core.errors import UserError
from idim_core.results import result
from idim_core.store import SCHEMA_VERSION, STALE_AFTER, Store, check_run_id


def test_round_trip(tmp_path):
    s = Store(tmp_path)
    cfg = {"model": "minilm-l6", "task": "mr", "method": "said", "projection": "fastfood", "dims": [10, 100]}
    rid = s.create_run(cfg)
    assert check_run_id(rid) == rid
    t = s.start_trial(rid, "baseline", None, 0)
    s.add_points(t, [{"step": 1, "loss": 0.7, "accuracy": None, "total": 4},
                     {"step": 2, "loss": 0.6, "accuracy": 0.55}])
    s.finish_trial(t, "done", accuracy=0.8, steps=2, seconds=1.5)
    t2 = s.start_trial(rid, "subspace", 10, 0)
    s.finish_trial(t2, "done", accuracy=0.75)
    assert not s.end_run(rid, "done")  # a queued run cannot end: only its owner ends a running run
    assert s.claim(rid, "test", "cpu") and s.end_run(rid, "done")
    assert not s.end_run(rid, "failed")  # ended once
    s.update_run(rid, summary={"D": 1234})
    s.close()

    s2 = Store(tmp_path)  # a new process would see the same
    run = s2.get_run(rid)
    assert run["config"] == cfg and run["status"] == "done"
    assert [p["step"] for p in s2.points(t)] == [1, 2]
    res = result(s2, rid)
    assert res["baseline_accuracy"] == 0.8 and res["threshold"] == pytest.approx(0.72)
    assert res["points"] == [{"d": 10, "seed": 0, "accuracy": 0.75, "status": "done", "params": 10}]  # DID: d
    assert res["d90"] == 10 and res["D"] == 1234
    assert s2.path.exists()
    assert s2._q("PRAGMA journal_mode")[0][0] == "wal"
    assert s2._q("PRAGMA user_version")[0][0] == SCHEMA_VERSION


def test_stale_running_run_reads_as_interrupted(tmp_path):
    s = Store(tmp_path)
    rid = s.create_run({"model": "m"}, status="running", owner="x")
    assert s.get_run(rid)["status"] == "running"
    s.update_run(rid, heartbeat=time.time() - STALE_AFTER - 1)
    assert s.get_run(rid)["status"] == "interrupted"
    assert s.claim(rid, "me", "cpu")
    assert s.get_run(rid)["status"] == "running"
    assert not s.claim(rid, "other", "cpu")  # fresh heartbeat: not claimable


def test_cancel(tmp_path):
    s = Store(tmp_path)
    q = s.create_run({"model": "m"})
    assert s.request_cancel(q) == "cancelled"
    with pytest.raises(UserError, match="already cancelled"):
        s.request_cancel(q)
    r = s.create_run({"model": "m"}, status="running", owner="x")
    assert s.request_cancel(r) == "cancelling" and s.cancel_requested(r)


def test_retrying_a_trial_replaces_unfinished_rows_only(tmp_path):
    s = Store(tmp_path)
    rid = s.create_run({"model": "m"})
    s.start_trial(rid, "subspace", 10, 0)
    b = s.start_trial(rid, "subspace", 10, 0)  # the first never finished: replaced
    assert [t["id"] for t in s.trials(rid)] == [b]
    s.finish_trial(b, "done", accuracy=0.5)
    with pytest.raises(UserError):
        s.start_trial(rid, "subspace", 10, 0)  # a finished trial is never overwritten


@pytest.mark.parametrize("bad", ["", "abc", "../../etc", "ABCDEF123456", "1234567890123", "12345678901g", None])
def test_run_id_validation(bad):
    with pytest.raises(UserError):
        check_run_id(bad)


def test_corrupt_store_is_reported_not_reset(tmp_path):
    db = tmp_path / "idim.db"
    db.write_bytes(b"this is not a database, but it is somebody's file" * 100)
    before = db.read_bytes()
    with pytest.raises(UserError, match="damaged"):
        Store(tmp_path)
    assert db.read_bytes() == before


def test_newer_schema_is_refused(tmp_path):
    c = sqlite3.connect(tmp_path / "idim.db")
    c.execute(f"PRAGMA user_version={SCHEMA_VERSION + 1}")
    c.close()
    with pytest.raises(UserError, match="newer idim"):
        Store(tmp_path)


def test_unwritable_home(tmp_path):
    f = tmp_path / "file"
    f.write_text("x")
    with pytest.raises(UserError, match="IDIM_HOME"):
        Store(f / "sub")


def test_older_store_is_migrated_keeping_its_runs(tmp_path):
    """A store from before schema versioning (user_version 0, fewer columns) is upgraded in place."""
    c = sqlite3.connect(tmp_path / "idim.db")
    c.executescript("""
        CREATE TABLE runs (id TEXT PRIMARY KEY, created REAL NOT NULL, updated REAL NOT NULL,
                           status TEXT NOT NULL, config TEXT NOT NULL, device TEXT);
        CREATE TABLE trials (id INTEGER PRIMARY KEY AUTOINCREMENT, run_id TEXT NOT NULL, kind TEXT NOT NULL,
                             d INTEGER, seed INTEGER NOT NULL, status TEXT NOT NULL, accuracy REAL);
        INSERT INTO runs VALUES ('0123456789ab', 1.0, 1.0, 'done',
            '{"model": "minilm-l6", "task": "mr", "method": "did", "projection": "fastfood"}', 'cpu');
        INSERT INTO trials(run_id, kind, d, seed, status, accuracy)
            VALUES ('0123456789ab', 'baseline', NULL, 0, 'done', 0.8);
        INSERT INTO trials(run_id, kind, d, seed, status, accuracy)
            VALUES ('0123456789ab', 'subspace', 100, 0, 'done', 0.75);
    """)
    c.close()
    s = Store(tmp_path)
    assert s._q("PRAGMA user_version")[0][0] == SCHEMA_VERSION
    res = result(s, "0123456789ab")
    assert res["status"] == "done" and res["baseline_accuracy"] == 0.8 and res["d90"] == 100
    assert s.cancel_requested("0123456789ab") is False
    t = s.start_trial("0123456789ab", "subspace", 1000, 0)  # new columns usable
    s.add_points(t, [{"step": 1, "loss": 0.5, "accuracy": None}])
    assert s.points(t)[0]["loss"] == 0.5


def test_status_changes_are_guarded(tmp_path):
    s = Store(tmp_path)
    rid = s.create_run({"model": "m"})
    assert not s.requeue(rid)  # already queued
    assert s.request_cancel(rid) == "cancelled"
    with pytest.raises(UserError, match="already cancelled"):
        s.request_cancel(rid)
    assert s.requeue(rid) and s.get_run(rid)["status"] == "queued"
    assert s.claim(rid, "w", "cpu")
    assert not s.requeue(rid)  # a running run with a live owner is not requeued
    assert s.request_cancel(rid) == "cancelling" and s.cancel_requested(rid)
    assert s.end_run(rid, "cancelled")
    assert not s.reopen(rid) and s.reopen(rid, force=True)
    assert s.get_run(rid)["status"] == "interrupted"
    with pytest.raises(ValueError):
        s.end_run(rid, "queued")
    with pytest.raises(ValueError):
        s.update_run(rid, status="done")  # status only through the guarded methods


def test_env_seconds_falls_back_on_bad_values(monkeypatch, capsys):
    from idim_core.common import env_seconds

    monkeypatch.setenv("IDIM_X_S", "3.5")
    assert env_seconds("IDIM_X_S", 2.0) == 3.5
    for bad in ("soon", "nan", "-1"):
        monkeypatch.setenv("IDIM_X_S", bad)
        assert env_seconds("IDIM_X_S", 2.0) == 2.0
        assert "IDIM_X_S" in capsys.readouterr().err
    monkeypatch.delenv("IDIM_X_S")
    assert env_seconds("IDIM_X_S", 2.0) == 2.0


def test_curve_points_are_stored_once_per_step(tmp_path):
    """A batch sent twice (a retried attempt's replay) does not duplicate the curve."""
    s = Store(tmp_path)
    rid = s.create_run({"model": "m"})
    tid = s.start_trial(rid, "subspace", 10, 0)
    batch = [{"step": i, "loss": 1.0 / i, "accuracy": None} for i in range(1, 6)]
    s.add_points(tid, batch)
    s.add_points(tid, batch + [{"step": 6, "loss": 0.1, "accuracy": 0.5}])
    assert [p["step"] for p in s.points(tid)] == [1, 2, 3, 4, 5, 6]
    # a restarted attempt starts the trial afresh: the earlier attempt's points go with its row
    again = s.start_trial(rid, "subspace", 10, 0)
    assert s.points(tid) == [] and s.points(again) == []


def test_the_schema_check_comes_before_the_switch_to_wal(tmp_path):
    c = sqlite3.connect(tmp_path / "idim.db")
    c.execute("CREATE TABLE t(x)")
    c.execute(f"PRAGMA user_version={SCHEMA_VERSION + 1}")
    c.close()
    before = (tmp_path / "idim.db").read_bytes()
    with pytest.raises(UserError, match="newer idim"):
        Store(tmp_path)
    assert (tmp_path / "idim.db").read_bytes() == before  # not switched to WAL: byte for byte as it was


def test_a_config_that_does_not_parse_reads_as_a_failed_run(tmp_path):
    s = Store(tmp_path)
    good = s.create_run({"model": "m", "task": "t", "method": "did", "projection": "fastfood"})
    with s._tx() as c:
        c.execute("INSERT INTO runs(id, created, updated, status, config) "
                  "VALUES ('aaaaaaaaaaaa', 1, 1, 'queued', 'nope')")
    runs = {r["id"]: r for r in s.list_runs()}
    assert runs[good]["status"] == "queued"
    bad = runs["aaaaaaaaaaaa"]
    assert bad["status"] == "failed" and "cannot be read" in bad["error"] and bad["config"]["model"] == "?"
    from idim_core.results import result

    assert result(s, "aaaaaaaaaaaa")["status"] == "failed"
    assert s.fail_unstarted("aaaaaaaaaaaa", bad["error"]) and s.next_queued() == good


def test_the_app_does_not_start_a_worker_where_the_store_cannot_be_written(tmp_path, monkeypatch):
    from idim_core.ui import workers

    monkeypatch.delenv("IDIM_NO_AUTOSTART_WORKER", raising=False)
    blocker = tmp_path / "a-file"
    blocker.write_text("not a directory")
    assert workers.ensure_worker(blocker / "idim") == "read-only"  # no exception reaches the page


def test_an_unexpected_failure_is_stored_as_a_sentence_without_a_class_name():
    from idim_core.errors import unexpected

    msg = unexpected(KeyError("weight"))
    assert "KeyError" not in msg and "weight" in msg and msg.startswith("the run stopped on an unexpected error")
    assert "out of memory" in unexpected(MemoryError())
    assert "no such file" in unexpected(FileNotFoundError(2, "No such file or directory"))


def test_diverged_trials_count_the_same_everywhere(tmp_path):
    # a diverged baseline seed is counted at chance and marked, as a diverged subspace seed is, in the
    # baseline, the threshold, d90's table and the stats behind the claims and the bound
    s = Store(tmp_path)
    cfg = {"model": "mlp", "task": "digits", "method": "did", "projection": "fastfood", "dims": [10, 100], "seeds": 2}
    rid = s.create_run(cfg)
    s.update_run(rid, summary={"chance": 0.1, "majority": 0.11, "splits": {"test": 360, "train": 1000}})
    for seed, status, acc in ((0, "done", 0.9), (1, "diverged", None)):
        s.finish_trial(s.start_trial(rid, "baseline", None, seed), status, accuracy=acc)
    for d, seed, status, acc in ((10, 0, "done", 0.5), (10, 1, "diverged", None), (100, 0, "done", 0.8),
                                 (100, 1, "done", 0.82)):
        s.finish_trial(s.start_trial(rid, "subspace", d, seed), status, accuracy=acc, train_accuracy=acc)
    res = result(s, rid)
    assert res["baseline_accuracies"] == [0.9, 0.1] and res["baseline_diverged"] == 1
    assert res["baseline_accuracy"] == pytest.approx(0.5)
    by_d = {r["d"]: r for r in res["by_d"]}
    stats = {r["d"]: r for r in res["stats"]}
    assert by_d[10]["mean"] == pytest.approx(0.3) == stats[10]["mean"] and stats[10]["diverged"] == 1
    assert stats[10]["n"] == by_d[10]["n"] == 2
    assert "1 baseline seed diverged (counted at chance)" in d90.describe(res)


def test_a_run_is_tied_to_its_csv_and_resume_refuses_a_changed_file(home, tmp_path):
    """The first start stores the file's fingerprint; after the file changed `idim resume` exits 2 with one line
    and changes nothing (status, trials, summary)."""
    from conftest import run_cli

    from idim_core.runconfig import data_fingerprint, make_config

    data = tmp_path / "mine.csv"
    data.write_text("text,label\n" + "".join(f"row {i},{'ab'[i % 2]}\n" for i in range(60)))
    store = Store(home)
    cfg = make_config(model="minilm-l1", task=f"csv:{data}", dims=[10], max_train=32, max_eval=16)
    rid = store.create_run(cfg, status="running", owner="gone:1")
    old = data_fingerprint(cfg.task)
    store.update_run(rid, summary={"data_fingerprint": old})
    store.update_run(rid, heartbeat=0)  # its process went away: interrupted
    assert store.get_run(rid)["status"] == "interrupted"
    data.write_text(data.read_text().replace(",a\n", ",b\n") + "new row,c\n")  # labels flipped, a class added
    r = run_cli("resume", rid, home=home)
    assert r.returncode == 2 and len(r.stderr.strip().splitlines()) == 1
    assert "changed since its first trials trained" in r.stderr
    run = store.get_run(rid)
    assert run["status"] == "interrupted" and store.trials(rid) == []
    assert run["summary"] == {"data_fingerprint": old} != {"data_fingerprint": data_fingerprint(cfg.task)}
    data.unlink()
    r = run_cli("resume", rid, home=home)
    assert r.returncode == 2 and "is gone since" in r.stderr


def test_a_process_that_lost_its_run_writes_nothing_more(home):
    """The stop/continue race: process A trains a run, is paused, the run reads interrupted, `idim resume` (B)
    takes it over; A wakes and tries to write a trial, points, an event, its summary and the run's end: every write
    raises LostRun and the store is as B left it (no error event, the run not ended by A)."""
    from idim_core.store import LostRun

    a, b = Store(home), Store(home)
    rid = a.create_run({"model": "m", "task": "t", "method": "did", "projection": "dense"}, status="running",
                       owner="host:111")
    a.fence(rid, "host:111")
    tid = a.start_trial(rid, "subspace", 10, 0)  # A, the owner, writes
    a.add_points(tid, [{"step": 1, "loss": 0.5, "accuracy": None}])
    a.update_run(rid, heartbeat=0)  # A stopped beating: the run reads interrupted
    assert b.reopen(rid) and b.claim(rid, "host:222", "cpu")  # `idim resume` in process B
    b.fence(rid, "host:222")
    t2 = b.start_trial(rid, "subspace", 100, 0)
    events = len(b.events(rid))
    for write in (lambda: a.finish_trial(tid, "done", accuracy=0.9), lambda: a.add_points(tid, [{"step": 2}]),
                  lambda: a.start_trial(rid, "subspace", 1000, 0), lambda: a.event(rid, "error", "boom"),
                  lambda: a.update_run(rid, summary={"x": 1}), lambda: a.end_run(rid, "failed", "FOREIGN KEY")):
        with pytest.raises(LostRun):
            write()
    beat = b.get_run(rid)["heartbeat"]
    a.heartbeat(rid)  # A's heartbeat thread: a no-op, it revives nothing
    assert b.get_run(rid)["heartbeat"] == beat
    run = b.get_run(rid)
    assert run["status"] == "running" and run["owner"] == "host:222" and run["error"] is None
    assert len(b.events(rid)) == events and not (run["summary"] or {}).get("x")
    b.finish_trial(t2, "done", accuracy=0.8)
    assert b.end_run(rid, "done") and b.get_run(rid)["status"] == "done"
    assert {t["status"] for t in b.trials(rid) if t["d"] == 10} != {"done"}  # A's trial never finished
