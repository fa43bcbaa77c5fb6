"""The local executor's worker processes (--processes N): real spawned processes training real trials of the
classic nets against a real store.  Same numbers as this process at the same threads, the same d values, a
cancel that stops them, an owner's death that ends them, and a worker process's death that loses only its
trial (resume reruns it)."""
import json
import os
import signal

import pytest
from conftest import run_cli, untimed
from test_lifecycle import _spawn, _store, _wait

SMALL = ("--model", "mlp", "--task", "digits", "--seeds", "2", "--dims", "30,300", "--refine", "0", "--epochs", "2")


def _children(pid: int) -> set[int]:
    out = set()
    for d in os.listdir("/proc"):
        if d.isdigit():
            try:
                with open(f"/proc/{d}/stat") as f:
                    stat = f.read()
            except OSError:
                continue
            if int(stat.rsplit(")", 1)[1].split()[1]) == pid:
                out.add(int(d))
    return out


def _alive(pid: int) -> bool:
    try:
        with open(f"/proc/{pid}/stat") as f:
            return f.read().rsplit(")", 1)[1].split()[0] != "Z"
    except OSError:
        return False


def _with_workers(home, dims: str, epochs: int = 4):
    """The classic preset's task on two worker processes, training in the background: (owner, its workers)."""
    p = _spawn(home, "run", "--model", "mlp", "--task", "mnist5k", "--processes", "2", "--seeds", "2",
               "--dims", dims, "--epochs", str(epochs))
    return p, _wait(lambda: len(_children(p.pid)) >= 2 and _children(p.pid), 120, "two worker processes")


def test_the_default_rule():
    from idim_core.executors.local import processes_for
    from idim_core.runconfig import make_config

    def n(cores=2, device="cpu", **kw):
        return processes_for(make_config(**kw), device, cores)

    assert n(model="mlp", task="mnist5k") == 2  # the classic preset: two one-thread trials side by side
    assert n(model="lenet", task="mnist5k:ge5") == 2
    assert n(model="mlp", task="digits", seeds=1) == 1  # a sweep of seconds: about what starting processes costs
    assert n(model="mlp", task="digits") == 2  # three seeds (the default): 1.7x sooner on two processes
    assert n(model="mlp", task="mnist5k", cores=1) == 1
    assert n(model="mlp", task="mnist5k", device="cuda") == 1
    assert n(model="mlp", task="mnist5k", dims="auto", seeds=1) == 1  # one trial at a time to train
    assert n(model="mlp", task="mnist5k", dims="auto", seeds=3) == 2
    assert n(model="tiny-bert", task="mr") == 1  # a language model: two threads do speed its steps up
    assert n(model="mlp", task="mnist5k", processes=1) == 1  # given: kept
    assert n(model="mlp", task="digits", processes=os.cpu_count() or 1) == (os.cpu_count() or 1)


@pytest.mark.parametrize("value, words", [
    ("0", "whole number from 1 to"), ("-2", "whole number from 1 to"), (str((os.cpu_count() or 1) + 1), "CPU core"),
    ("100000", "CPU core"), ("two", "invalid int value"), ("1.5", "invalid int value"),
])
def test_bad_values_are_one_line_and_store_nothing(home, value, words):
    p = run_cli("run", *SMALL, "--processes", value, home=home)
    assert p.returncode != 0 and words in p.stderr
    assert len(p.stderr.strip().splitlines()) == 1
    assert not (home / "idim.db").exists() or not _store(home).list_runs()


def test_more_than_one_process_is_for_the_cpu(home):
    p = run_cli("run", *SMALL, "--processes", "2", "--device", "cuda", home=home)
    assert p.returncode != 0 and "CPU only" in p.stderr and len(p.stderr.strip().splitlines()) == 1


@pytest.mark.slow
def test_side_by_side_gives_the_numbers_of_this_process_at_the_same_threads(home):
    two = run_cli("run", *SMALL, "--processes", "2", "--threads", "2", "--json", home=home)  # 1 thread each
    assert two.returncode == 0, two.stderr
    one = run_cli("run", *SMALL, "--processes", "1", "--threads", "1", "--json", home=home)
    assert one.returncode == 0, one.stderr
    a, b = json.loads(two.stdout), json.loads(one.stdout)
    assert untimed(a["points"]) == untimed(b["points"]) and len(a["points"]) == 4
    assert a["baseline_accuracies"] == b["baseline_accuracies"] and a["d90"] == b["d90"]
    store = _store(home)
    events = [e["message"] for e in store.events(a["run_id"])]
    assert any("2 at a time" in m and "worker processes" in m for m in events), events
    assert not any("worker processes" in m for m in store.events(b["run_id"]) for m in [m["message"]])
    assert store.get_run(a["run_id"])["summary"]["slots"] == 2
    # two trials at once: the console's lines say whose step each is
    assert "baseline (full fine-tuning) seed 1" in two.stderr


@pytest.mark.slow
def test_the_search_tries_the_same_d_as_this_process(home):
    args = ("--model", "mlp", "--task", "digits", "--seeds", "2", "--dims", "auto", "--epochs", "2", "--json")
    a = json.loads(run_cli("run", *args, "--processes", "2", "--threads", "2", home=home).stdout)
    b = json.loads(run_cli("run", *args, "--processes", "1", "--threads", "1", home=home).stdout)
    assert [p["d"] for p in a["points"]] == [p["d"] for p in b["points"]]
    assert untimed(a["points"]) == untimed(b["points"]) and a["d90"] == b["d90"]


def test_a_cancel_is_seen_while_the_worker_processes_keep_the_queue_busy():
    """The owner looks at cancel requests on a clock: points arriving more often than its poll (two processes
    pushing at every step) never hide a cancel.  A real queue, kept busy by a thread."""
    import multiprocessing as mp
    import threading
    import time

    from idim_core.executors import TrialSpec
    from idim_core.executors.local import POLL, _Pool
    from idim_core.train import Cancelled

    pool = _Pool.__new__(_Pool)  # the owner's side alone: no processes, a real queue
    pool.results, pool.tasks, pool.stop = mp.Queue(), mp.Queue(), mp.Event()
    pool.procs, pool.ready, pool.busy, pool.handed = {}, {1}, {1: ("subspace", 10, 1)}, 0
    spec = TrialSpec("subspace", 10, 1)
    seen, done = [], threading.Event()

    def flood():  # for 8 s at most: an owner that waits for a quiet queue fails the test rather than hanging
        end = time.monotonic() + 8.0
        while not done.is_set() and time.monotonic() < end:
            pool.results.put(("points", ("subspace", 10, 1), 1, [{"step": 1, "total": 2}]))
            time.sleep(POLL / 10)

    t = threading.Thread(target=flood, daemon=True)
    t.start()
    asked = []
    try:
        time.sleep(0.5)  # the queue is never empty from here on
        it = pool.run([(spec, lambda: None, seen.append)], lambda: bool(asked))
        threading.Timer(1.0, lambda: asked.append(time.monotonic())).start()
        t0 = time.monotonic()
        sp, res = next(it)
        waited = time.monotonic() - asked[0]
    finally:
        done.set()
        t.join()
    assert sp == spec and isinstance(res, Cancelled) and pool.stop.is_set()
    assert seen and waited < 5 * POLL, (waited, time.monotonic() - t0)


@pytest.mark.slow
def test_cancel_stops_the_worker_processes(home):
    # trials of a few seconds each (about one at 4 epochs with Fastfood's C passes): the run must still be
    # training when the cancel arrives, or it ends "done" first
    p, kids = _with_workers(home, "10,20,30,40,50,60,70,80,90", epochs=16)
    try:
        rid = _wait(lambda: next((t["run_id"] for r in _store(home).list_runs() for t in _store(home).trials(r["id"])
                                  if t["status"] == "done" and t["kind"] == "subspace"), None), 180, "a trial")
        r = run_cli("cancel", rid, home=home)
        assert r.returncode == 0
        _wait(lambda: _store(home).get_run(rid)["status"] == "cancelled", 10, "cancel within 10 s")
        p.wait(timeout=30)
    finally:
        p.kill()
    _wait(lambda: not any(_alive(k) for k in kids), 10, "the worker processes to end")
    res = json.loads(run_cli("show", rid, "--json", home=home).stdout)
    assert 1 <= len(res["points"]) < 18
    assert not [t for t in _store(home).trials(rid) if t["status"] == "running"]


@pytest.mark.slow
def test_an_owner_killed_takes_its_worker_processes_with_it(home):
    p, kids = _with_workers(home, "10,20,30,40,50")
    try:
        _wait(lambda: any(t["status"] == "running" for r in _store(home).list_runs()
                          for t in _store(home).trials(r["id"])), 120, "a trial training")
        p.send_signal(signal.SIGKILL)
        p.wait(timeout=10)
    finally:
        p.kill()
    _wait(lambda: not any(_alive(k) for k in kids), 10, "the orphaned worker processes to end")


@pytest.mark.slow
def test_a_dead_worker_process_loses_its_trials_only_and_resume_reruns_them(home):
    from idim_core.executors.local import KILL_D_ENV

    args = ("--model", "mlp", "--task", "digits", "--processes", "2", "--seeds", "2", "--dims", "10,30,100",
            "--epochs", "2", "--refine", "0")
    r = run_cli("run", *args, env_extra={KILL_D_ENV: "30"}, home=home)  # every process that starts d = 30 dies
    assert r.returncode != 0 and "idim resume" in r.stderr
    store = _store(home)
    run = store.list_runs()[0]
    assert run["status"] == "failed" and "d=30" in (run["error"] or "")
    trials = store.trials(run["id"])
    lost = [t for t in trials if t["status"] == "failed"]
    assert {(t["d"], t["seed"]) for t in lost} == {(30, 0), (30, 1)}
    assert all("worker process ended" in t["error"] for t in lost)
    done = {(t["kind"], t["d"], t["seed"]) for t in trials if t["status"] == "done"}
    assert {("subspace", 10, 0), ("subspace", 10, 1), ("subspace", 100, 0), ("subspace", 100, 1)} <= done
    r = run_cli("resume", run["id"], "--json", home=home)  # a fresh process: the trials at d = 30 train now
    assert r.returncode == 0, r.stderr
    res = json.loads(r.stdout)
    assert res["status"] == "done" and len(res["points"]) == 6
