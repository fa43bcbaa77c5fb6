"""Real processes against a real store: cancel, kill, resume, divergence, auto search."""
import json
import os
import signal
import subprocess
import sys
import time

import pytest
from conftest import ROOT, run_cli, untimed
from test_cli import SMALL

pytestmark = pytest.mark.slow  # end to end: real processes, real training (bash scripts/test.sh runs them)


@pytest.fixture(autouse=True)
def short_staleness(monkeypatch):
    """A run whose owner died reads as interrupted after 8 s here instead of 20 (heartbeats come every 3 s)."""
    monkeypatch.setenv("IDIM_STALE_AFTER", "8")


def _spawn(home, *args):
    env = dict(os.environ, IDIM_HOME=str(home))
    return subprocess.Popen([sys.executable, "-m", "idim_core.cli", *map(str, args)], env=env, cwd=ROOT,
                            stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)


def _wait(pred, timeout, what):
    t0 = time.time()
    while time.time() - t0 < timeout:
        v = pred()
        if v:
            return v
        time.sleep(0.5)
    raise AssertionError(f"timed out waiting for {what}")


def _store(home):
    from idim_core.store import Store

    return Store(home)


def _finished(home, baseline=False):
    s = _store(home)
    runs = s.list_runs()
    if not runs:
        return None
    rid = runs[0]["id"]
    trials = s.trials(rid)
    done = [t for t in trials if t["status"] == "done" and t["kind"] == "subspace"]
    if baseline and not any(t["status"] == "done" and t["kind"] == "baseline" for t in trials):
        return None
    return (rid, done) if done else None


def test_cancel_keeps_finished_trials(home):
    p = _spawn(home, "run", *SMALL, "--dims", "10,20,30,40,50,60,70,80", "--epochs", "3")
    try:
        rid, _ = _wait(lambda: _finished(home, baseline=True), 180, "the baseline and a finished trial")
        r = run_cli("cancel", rid, home=home)
        assert r.returncode == 0 and "cancelling" in r.stdout
        _wait(lambda: _store(home).get_run(rid)["status"] == "cancelled", 5, "cancel within 5 s")
        p.wait(timeout=60)
    finally:
        p.kill()
    run = _store(home).get_run(rid)
    assert run["status"] == "cancelled"
    res = json.loads(run_cli("show", rid, "--json", home=home).stdout)
    assert 1 <= len(res["points"]) < 8
    assert res["baseline_accuracy"] is not None


def test_sigkill_then_resume_runs_only_missing_trials(home):
    p = _spawn(home, "run", *SMALL, "--dims", "10,100,1000", "--seeds", "2")
    rid, done = _wait(lambda: _finished(home), 180, "a finished trial")
    before = {(t["kind"], t["d"], t["seed"]): t for t in _store(home).trials(rid) if t["status"] == "done"}
    p.send_signal(signal.SIGKILL)
    p.wait(timeout=10)
    # within 30 s every reader sees it as interrupted, not running
    _wait(lambda: json.loads(run_cli("show", rid, "--json", home=home).stdout)["status"] == "interrupted", 30,
          "interrupted status")
    ls = json.loads(run_cli("ls", "--json", home=home).stdout)
    assert ls[0]["status"] == "interrupted"
    r = run_cli("resume", rid, "--json", home=home)
    assert r.returncode == 0, r.stderr
    res = json.loads(r.stdout)
    assert res["status"] == "done" and len(res["points"]) == 6
    after = {(t["kind"], t["d"], t["seed"]): t for t in _store(home).trials(rid) if t["status"] == "done"}
    for key, t in before.items():  # finished trials unchanged (same row, same accuracy)
        assert after[key]["id"] == t["id"] and after[key]["accuracy"] == t["accuracy"]
    # same seeds: the resumed run equals an uninterrupted one
    ref = json.loads(run_cli("run", *SMALL, "--dims", "10,100,1000", "--seeds", "2", "--json", home=home).stdout)
    assert untimed(ref["points"]) == untimed(res["points"]) and ref["baseline_accuracy"] == res["baseline_accuracy"]


def test_divergence_marks_trial_and_sweep_goes_on(home):
    r = run_cli("run", *SMALL, "--method", "did", "--dims", "10,1000", "--lr-subspace", "1e30", "--json", home=home)
    assert r.returncode == 0, r.stderr
    res = json.loads(r.stdout)
    assert res["status"] == "done"
    statuses = {p["d"]: p["status"] for p in res["points"]}
    assert statuses == {10: "diverged", 1000: "diverged"}
    assert all(p["accuracy"] is None for p in res["points"])
    assert res["d90"] is None


def test_auto_search(home):
    r = run_cli("run", *SMALL, "--method", "did", "--dims", "auto", "--json", home=home)
    assert r.returncode == 0, r.stderr
    res = json.loads(r.stdout)
    ds = sorted({p["d"] for p in res["points"]})
    assert ds[0] == 10 and len(ds) < 10
    if res["d90"] is not None:
        below = [d for d in ds if d < res["d90"]]
        assert not below or res["d90"] / max(below) <= 1.4 or res["d90"] == 10


def test_two_runs_queued_at_once_both_finish_with_one_worker(home):
    """Two runs queued at the same moment (two processes), two workers started at once:
    exactly one worker serves, both runs finish, no 'database is locked' reaches anyone."""
    q = [_spawn(home, "run", *SMALL, "--method", m, "--dims", "10,100", "--queue", "--json") for m in ("did", "said")]
    outs = [p.communicate(timeout=120) for p in q]
    assert all(p.returncode == 0 for p in q), [o[1] for o in outs]
    ids = [json.loads(o[0])["run_id"] for o in outs]
    w = [_spawn(home, "worker", "--once", "--poll", "0.2") for _ in range(2)]
    res = [p.communicate(timeout=600) for p in w]
    assert all(p.returncode == 0 for p in w), [r[1] for r in res]
    errs = "".join(r[1] for r in res)
    assert errs.count("another worker is already running") == 1, errs
    assert "locked" not in errs
    for rid in ids:
        out = json.loads(run_cli("show", rid, "--json", home=home).stdout)
        assert out["status"] == "done" and len(out["points"]) == 2


def test_worker_sigkilled_mid_trial_then_resume(home):
    r = run_cli("run", *SMALL, "--dims", "10,100,1000,2000,3000", "--epochs", "2", "--queue", "--json", home=home)
    rid = json.loads(r.stdout)["run_id"]
    w = _spawn(home, "worker", "--poll", "0.2")
    try:
        _wait(lambda: _finished(home), 180, "a finished trial")
        # wait until the next trial is under way, then kill the worker outright
        _wait(lambda: any(t["status"] == "running" and t["kind"] == "subspace" for t in _store(home).trials(rid)), 60,
              "a trial in progress")
        kept = {(t["d"], t["seed"]): t["accuracy"] for t in _store(home).trials(rid) if t["status"] == "done"}
        w.send_signal(signal.SIGKILL)
        w.wait(timeout=10)
    finally:
        w.kill()
    t0 = time.time()
    _wait(lambda: json.loads(run_cli("show", rid, "--json", home=home).stdout)["status"] == "interrupted", 30,
          "interrupted status after the worker died")
    assert time.time() - t0 < 30
    r = run_cli("resume", rid, "--json", home=home)
    assert r.returncode == 0, r.stderr
    res = json.loads(r.stdout)
    assert res["status"] == "done" and len(res["points"]) == 5
    done = {(t["d"], t["seed"]): t["accuracy"] for t in _store(home).trials(rid) if t["status"] == "done"}
    assert all(done[k] == v for k, v in kept.items())


def test_full_disk_is_a_clear_message_and_keeps_what_was_stored(home):
    """The store's file may not grow past a limit (as on a full disk): the run stops with one
    line saying what to do, and everything recorded before is still readable."""
    import resource

    first = run_cli("run", *SMALL, "--dims", "10", "--json", home=home)
    assert first.returncode == 0, first.stderr
    kept = json.loads(first.stdout)
    size = sum(f.stat().st_size for f in home.iterdir() if f.name.startswith("idim.db"))

    def limit():
        signal.signal(signal.SIGXFSZ, signal.SIG_IGN)
        resource.setrlimit(resource.RLIMIT_FSIZE, (size + 20_000, size + 20_000))

    env = dict(os.environ, IDIM_HOME=str(home))
    r = subprocess.run([sys.executable, "-m", "idim_core.cli", "run", *SMALL, "--dims", "10,20,30,40,50,60,70,80",
                        "--epochs", "3"], env=env, cwd=ROOT, capture_output=True, text=True, timeout=600,
                       preexec_fn=limit)
    assert r.returncode == 2, r.stderr[-2000:]
    last = r.stderr.strip().splitlines()[-1]
    assert last.startswith("idim: error:") and "disk is full" in last and "Traceback" not in r.stderr
    again = json.loads(run_cli("show", kept["run_id"], "--json", home=home).stdout)
    assert (untimed(again["points"]) == untimed(kept["points"])
            and again["baseline_accuracy"] == kept["baseline_accuracy"])


def test_a_run_whose_data_is_gone_before_it_starts_says_so(home, tmp_path):
    """A queued run whose CSV was deleted before it started fails in preparation with that one line, not as an
    internal error (the runner had no executor to close yet), and its record says the same."""
    rows = (ROOT / "assets" / "mr.csv").read_text(encoding="utf-8").splitlines()
    csv = tmp_path / "reviews.csv"
    csv.write_text("\n".join(rows[:61] + rows[-60:]) + "\n", encoding="utf-8")
    q = run_cli("run", "--model", "minilm-l1", "--task", f"csv:{csv}", "--max-train", "16", "--max-eval", "8",
                "--dims", "10", "--queue", "--json", home=home)
    assert q.returncode == 0, q.stderr
    rid = json.loads(q.stdout)["run_id"]
    csv.unlink()
    r = run_cli("resume", rid, "--force", home=home)
    assert r.returncode == 2, r.stderr[-2000:]
    last = r.stderr.strip().splitlines()[-1]
    assert last == f"idim: error: CSV file {csv} does not exist", r.stderr[-2000:]
    run = _store(home).get_run(rid)
    assert run["status"] == "failed" and run["error"] == f"CSV file {csv} does not exist"
    # the background worker says the same of a queued run, and goes on serving the queue
    csv.write_text("\n".join(rows[:61] + rows[-60:]) + "\n", encoding="utf-8")
    q = run_cli("run", "--model", "minilm-l1", "--task", f"csv:{csv}", "--max-train", "16", "--max-eval", "8",
                "--dims", "10", "--queue", "--json", home=home)
    second = json.loads(q.stdout)["run_id"]
    csv.unlink()
    w = run_cli("worker", "--once", "--poll", "0.2", home=home)
    assert w.returncode == 0, w.stderr[-2000:]
    assert f"run {second} failed: CSV file {csv} does not exist" in w.stderr, w.stderr[-2000:]
    assert _store(home).get_run(second)["error"] == f"CSV file {csv} does not exist"


def test_the_ruler_comes_first_then_the_first_point(home):
    """The baseline trains first (the full-training line and the threshold on the chart before any point), then
    the smallest d, so a point follows one trial later."""
    r = run_cli("run", *SMALL, "--dims", "100,10", "--json", home=home)
    assert r.returncode == 0, r.stderr
    trials = _store(home).trials(json.loads(r.stdout)["run_id"])
    # then the linear probe (a language model), then the rest of the grid
    assert [(t["kind"], t["d"]) for t in sorted(trials, key=lambda t: t["id"])][:4] == [
        ("baseline", None), ("subspace", 10), ("probe", None), ("subspace", 100)]


def test_worker_preloads_the_default_model_and_reuses_it(home):
    from idim_core import prep, runconfig

    cfg = runconfig.make_config(model="minilm-l1", max_train=16, max_eval=8)
    a = prep.prepare_warm(cfg, "cpu")
    assert prep.prepare_warm(cfg.but(), "cpu") is a  # same model and data: no reload
    assert prep.prepare_warm(cfg.but(max_train=24), "cpu") is not a  # other data: loaded afresh
    env = dict(os.environ, IDIM_HOME=str(home), IDIM_WORKER_WARM="1")
    w = subprocess.Popen([sys.executable, "-m", "idim_core.cli", "worker", "--poll", "0.2"], env=env, cwd=ROOT,
                         stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
    try:
        line = ""
        t0 = time.time()
        while "ready" not in line and time.time() - t0 < 120:
            line = w.stderr.readline()
        assert "default model and task ready" in line
        # then it times a few steps of that model: the estimates speak of this machine from now on
        while "per full fine-tuning step" not in line and time.time() - t0 < 180:
            line = w.stderr.readline()
        assert "s per full fine-tuning step of minilm-l6" in line
    finally:
        w.terminate()
        w.wait(timeout=30)
    from idim_core.calibrate import lookup
    from idim_core.store import Store
    from idim_core.ui import estimates

    entry = lookup(home, runconfig.make_config(), "cpu")
    assert entry["model"] == "minilm-l6" and entry["seconds_per_step"] > 0
    factor = estimates.calibration_factor(entry)
    assert factor == pytest.approx(entry["seconds_per_step"]
                                   / estimates.seconds_per_step(runconfig.make_config(), "cpu"))
    store = Store(home)
    cfg = runconfig.make_config()
    guess = estimates.estimate(store, cfg, "cpu")
    formula = estimates.estimate_seconds(cfg, "cpu")
    load = estimates.load_seconds(cfg)
    assert guess["seconds"] == pytest.approx(load + (formula - load) * factor)
    assert "timed when the worker started" in estimates.basis_text(guess, "minilm-l6")
    # another model on the same machine borrows the factor, and says whose it is
    other = estimates.estimate(store, runconfig.make_config(model="minilm-l2"), "cpu")
    assert other["calibration"] is not None
    assert "measured on minilm-l6" in estimates.basis_text(other, "minilm-l2")


def test_an_idle_worker_exits_and_one_whose_store_is_deleted_too(home, tmp_path):
    env = dict(os.environ, IDIM_HOME=str(home), IDIM_WORKER_IDLE_S="2")
    w = subprocess.Popen([sys.executable, "-m", "idim_core.cli", "worker", "--poll", "0.2"], env=env, cwd=ROOT,
                         stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
    try:
        assert w.wait(timeout=60) == 0
        assert "idle for 2 s; exiting" in w.stderr.read()
    finally:
        if w.poll() is None:
            w.kill()
    other = tmp_path / "gone"
    env = dict(os.environ, IDIM_HOME=str(other))
    w = subprocess.Popen([sys.executable, "-m", "idim_core.cli", "worker", "--poll", "0.2"], env=env, cwd=ROOT,
                         stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
    try:
        _wait(lambda: (other / "idim.db").exists(), 60, "the worker's store")
        time.sleep(1)
        import shutil

        shutil.rmtree(other)
        assert w.wait(timeout=30) == 0
        assert "is gone; exiting" in w.stderr.read()
    finally:
        if w.poll() is None:
            w.kill()


@pytest.mark.slow
def test_a_paused_process_that_wakes_after_a_resume_leaves_the_run_alone(home, monkeypatch):
    """The stop/continue race, with real processes: `idim run` is stopped (SIGSTOP) after its first trial, the
    run reads interrupted, `idim resume` finishes it in another process, then the first wakes (SIGCONT). The run
    ends done, with every trial once and no error event; the woken process exits saying it stopped."""
    import os
    import signal
    import subprocess
    import sys
    import time

    from idim_core import store as store_mod
    from idim_core.store import Store

    monkeypatch.setattr(store_mod, "STALE_AFTER", 2.0)  # this process reads the run as the others do
    env = dict(os.environ, IDIM_HOME=str(home), IDIM_STALE_AFTER="2", IDIM_YIELD="0")
    args = [sys.executable, "-m", "idim_core.cli", "run", "--model", "mlp", "--task", "digits", "--seeds", "1",
            "--dims", "10,30,100,300,1000,3000", "--refine", "0", "--threads", "1", "--no-baseline-lr-search"]
    first = subprocess.Popen(args, env=env, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
    store = Store(home)
    try:
        end = time.monotonic() + 120
        while time.monotonic() < end:
            runs = store.list_runs()
            if runs and any(t["status"] == "done" and t["kind"] == "subspace" for t in store.trials(runs[0]["id"])):
                break
            time.sleep(0.05)
        rid = store.list_runs()[0]["id"]
        os.kill(first.pid, signal.SIGSTOP)
        time.sleep(3)  # no heartbeat for longer than IDIM_STALE_AFTER: the run reads interrupted
        assert store.get_run(rid)["status"] == "interrupted"
        second = subprocess.run([sys.executable, "-m", "idim_core.cli", "resume", rid, "--quiet"], env=env,
                                capture_output=True, text=True, timeout=300)
        assert second.returncode == 0, second.stderr
        assert store.get_run(rid)["status"] == "done"
    finally:
        os.kill(first.pid, signal.SIGCONT)
    out, err = first.communicate(timeout=120)
    run = store.get_run(rid)
    assert run["status"] == "done" and not run.get("error")
    assert not [e for e in store.events(rid) if e["level"] == "error"]
    keys = [(t["kind"], t["d"], t["seed"]) for t in store.trials(rid)]
    assert len(keys) == len(set(keys)) and all(t["status"] == "done" for t in store.trials(rid))
    if first.returncode != 0:  # woken mid-trial: it says why in one line, and wrote nothing
        assert "no longer this process's" in err, err[-3000:]
