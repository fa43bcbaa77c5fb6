"""The Ray executor on a real local Ray instance (started by each `idim run --executor ray`).

Ray is in the test extra, so CI runs these; elsewhere they skip when Ray is absent.
"""
import json
import os
import subprocess
import sys
import time

import pytest
from conftest import ROOT, run_cli

from idim_core.errors import UserError
from idim_core.store import Store

if os.environ.get("CI"):
    import ray  # noqa: F401  (CI installs the test extra: a missing Ray fails, never skips)
else:
    pytest.importorskip("ray")

pytestmark = pytest.mark.slow
SWEEP = ["--model", "mlp", "--task", "digits", "--dims", "10,100,1000", "--seeds", "2", "--threads", "1", "--json",
         "--quiet"]


def test_ray_agrees_with_local_and_only_the_owner_writes_the_store(tmp_path):
    ray_home, local_home = tmp_path / "ray", tmp_path / "local"
    r = run_cli("run", "--executor", "ray", *SWEEP, home=ray_home, timeout=300)
    assert r.returncode == 0, r.stderr[-2000:]
    a = json.loads(r.stdout)
    b = json.loads(run_cli("run", *SWEEP, home=local_home, timeout=300).stdout)
    assert a["status"] == "done" and a["config"]["executor"] == "ray"
    assert [(p["d"], p["seed"]) for p in a["points"]] == [(p["d"], p["seed"]) for p in b["points"]]
    one = 1 / a["n_test"]
    for p, q in zip(a["points"], b["points"]):
        assert abs(p["accuracy"] - q["accuracy"]) <= one + 1e-9, (p, q)
    assert a["baseline_accuracies"] == pytest.approx(b["baseline_accuracies"], abs=one + 1e-9)
    s = Store(ray_home)
    run = s.get_run(a["run_id"])
    assert run["summary"]["executor"] == "ray" and run["summary"]["cluster"]
    # every trial row was written by the owning process: the store has one writer (WAL, no other connection
    # left a -shm/-wal trace from another host), and no trial is left running
    assert {t["status"] for t in s.trials(a["run_id"])} == {"done"}
    s.close()


def test_a_killed_ray_worker_is_retried_and_the_sweep_finishes(tmp_path):
    flag = tmp_path / "killed-once"
    r = run_cli("run", "--executor", "ray", "--model", "mlp", "--task", "digits", "--dims", "10,100", "--seeds", "1",
                "--refine", "0", "--json", "--quiet", home=tmp_path / "h", timeout=300,
                env_extra={"IDIM_RAY_TEST_KILL_ONCE": str(flag)})
    assert r.returncode == 0, r.stderr[-2000:]
    res = json.loads(r.stdout)
    assert flag.exists()  # a worker process really died (os._exit) in its first trial
    assert res["status"] == "done" and len(res["points"]) == 2
    assert all(p["status"] == "done" for p in res["points"])


def test_cancel_stops_a_ray_run_within_10_s(tmp_path):
    home = tmp_path / "h"
    env = dict(os.environ, IDIM_HOME=str(home))
    proc = subprocess.Popen([sys.executable, "-m", "idim_core.cli", "run", "--executor", "ray", "--model", "mlp",
                             "--task", "mnist5k", "--dims", "10,100,1000,3000,10000", "--seeds", "3", "--quiet"],
                            cwd=ROOT, env=env, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
    try:
        deadline = time.time() + 240
        run_id = None
        while time.time() < deadline:
            time.sleep(1)
            if not (home / "idim.db").exists():
                continue
            s = Store(home)
            runs = s.list_runs()
            if runs and any(t["status"] == "done" for t in s.trials(runs[0]["id"])):
                run_id = runs[0]["id"]
                s.close()
                break
            s.close()
        assert run_id, "the Ray run never finished a trial"
        assert run_cli("cancel", run_id, home=home, timeout=60).returncode == 0
        t0 = time.time()
        while time.time() - t0 < 10:
            s = Store(home)
            status = s.get_run(run_id)["status"]
            s.close()
            if status == "cancelled":
                break
            time.sleep(0.5)
        assert status == "cancelled", status
        s = Store(home)
        assert any(t["status"] == "done" for t in s.trials(run_id))  # finished trials kept
        s.close()
        proc.wait(timeout=60)
    finally:
        if proc.poll() is None:
            proc.kill()


def test_parallel_search_probes_several_d_per_round():
    from idim_core.search import adaptive_search, parallel_search

    def curve(d):  # accuracy rises with log d; the threshold is crossed at d = 700
        import math
        return min(1.0, 0.3 + 0.1 * math.log10(d) + (0.3 if d >= 700 else 0))

    calls = []

    def means_at(ds):
        calls.append(list(ds))
        return {d: curve(d) for d in ds}

    found, rounds, n = parallel_search(means_at, 0.8, 100_000, k=4)
    serial = []
    ref = adaptive_search(lambda d: serial.append(d) or curve(d), 0.8, 100_000)
    assert 700 <= found <= 700 * 1.4 and 700 <= ref <= 700 * 1.4
    assert rounds == len(calls) and rounds < len(serial)  # fewer rounds than the one-at-a-time search
    assert max(len(c) for c in calls) <= 4 and n == len({d for c in calls for d in c})


def test_without_ray_the_executor_is_one_line(monkeypatch):
    from idim_core.runconfig import make_config, preflight

    monkeypatch.setitem(sys.modules, "ray", None)
    with pytest.raises(UserError, match="needs Ray"):
        preflight(make_config(model="mlp", task="digits", executor="ray"))


def test_bad_ray_settings_are_one_line(tmp_path):
    for args, msg in ((["--executor", "ray", "--ray-address", "127.0.0.1:9"], "cannot be reached"),
                      (["--ray-address", "127.0.0.1:6379"], "is for --executor ray"),
                      (["--executor", "ray", "--cpus-per-trial", "0"], "must be a positive number"),
                      (["--executor", "slurm"], "invalid choice")):
        p = run_cli("run", "--model", "mlp", "--task", "digits", *args, "--queue", home=tmp_path, timeout=60)
        assert p.returncode == 2 and len(p.stderr.strip().splitlines()) == 1 and msg in p.stderr, p.stderr
    assert Store(tmp_path).list_runs() == []


def test_auto_search_on_ray_probes_several_d_per_round(tmp_path):
    r = run_cli("run", "--executor", "ray", "--model", "mlp", "--task", "digits", "--dims", "auto", "--json",
                "--quiet", home=tmp_path, timeout=300)
    assert r.returncode == 0, r.stderr[-2000:]
    res = json.loads(r.stdout)
    s = Store(tmp_path)
    search = s.get_run(res["run_id"])["summary"]["search"]
    assert search["per_round"] >= 2 and search["probes"] == len({p["d"] for p in res["points"]})
    assert search["rounds"] < search["probes"]  # several d per round
    assert any("parallel d90 search" in e["message"] for e in s.events(res["run_id"], 50))
    s.close()
    assert res["d90_status"] in ("found", "below_grid")


def test_resources_the_cluster_cannot_give_are_one_line(tmp_path):
    p = run_cli("run", "--executor", "ray", "--cpus-per-trial", "512", "--model", "mlp", "--task", "digits",
                "--dims", "10", "--quiet", home=tmp_path, timeout=300)
    # refused by the preflight before a run row exists (the local instance has this machine's CPUs)
    lines = p.stderr.strip().splitlines()
    assert p.returncode == 2 and len(lines) == 1 and "lower --cpus-per-trial" in lines[0], p.stderr[-1500:]
    s = Store(tmp_path)
    assert s.list_runs() == []
    s.close()


def test_a_trial_lost_after_its_retries_fails_the_run_naming_it_and_resume_reruns_it(tmp_path):
    """Every attempt of the d = 100 trial dies (a real os._exit): the run must not end "done" with a
    d90 that ignores the unmeasured d; it fails naming the trial, and `idim resume` reruns it."""
    home = tmp_path / "h"
    r = run_cli("run", "--executor", "ray", "--model", "mlp", "--task", "digits", "--dims", "10,100", "--seeds", "1",
                "--refine", "0", "--json", "--quiet", home=home, timeout=400, env_extra={"IDIM_RAY_TEST_KILL_D": "100"})
    assert r.returncode == 2, r.stderr[-2000:]
    last = r.stderr.strip().splitlines()[-1]
    assert "d=100 seed 0 was lost" in last and "idim resume" in last and "Traceback" not in r.stderr, last
    s = Store(home)
    (run,) = s.list_runs()
    assert run["status"] == "failed" and "d=100" in run["error"]
    assert {(t["d"], t["status"]) for t in s.trials(run["id"]) if t["kind"] == "subspace"} == {(10, "done"),
                                                                                            (100, "failed")}
    s.close()
    again = run_cli("resume", run["id"], "--json", "--quiet", home=home, timeout=400)
    assert again.returncode == 0, again.stderr[-2000:]
    res = json.loads(again.stdout)
    assert res["status"] == "done" and [p["d"] for p in res["points"]] == [10, 100]


def test_a_retried_trial_never_stores_its_curve_twice(tmp_path):
    """A Ray worker killed (-9) in the middle of a trial: Ray reruns the trial from its first step,
    and the store keeps one curve for it (the red-team pass found 63 duplicate points)."""
    import psutil

    home = tmp_path / "h"
    env = dict(os.environ, IDIM_HOME=str(home))
    proc = subprocess.Popen([sys.executable, "-m", "idim_core.cli", "run", "--executor", "ray", "--model", "mlp",
                             "--task", "mnist5k", "--dims", "10", "--seeds", "1", "--epochs", "12", "--threads", "1",
                             "--no-baseline-lr-search", "--json",
                             "--quiet"], cwd=ROOT, env=env, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
    killed = False
    try:
        deadline = time.time() + 300
        while time.time() < deadline and not killed and proc.poll() is None:
            time.sleep(0.1)  # a quiet machine trains a trial in seconds: look often
            if not (home / "idim.db").exists():
                continue
            s = Store(home)
            n = s._q("SELECT count(*) FROM points p JOIN trials t ON t.id = p.trial_id WHERE t.status='running'")[0][0]
            s.close()
            if n < 10:
                continue
            for p in psutil.Process(proc.pid).children(recursive=True):
                try:
                    if "_node_trial" in " ".join(p.cmdline()) or "_node_trial" in p.name():
                        p.kill()
                        killed = True
                except psutil.Error:
                    pass
        assert killed, "no Ray worker was found training a trial"
        out, err = proc.communicate(timeout=400)
        assert proc.returncode == 0, err[-2000:]
    finally:
        if proc.poll() is None:
            proc.kill()
    s = Store(home)
    rows = s._q("SELECT trial_id, step, count(*) AS n FROM points GROUP BY trial_id, step HAVING n > 1")
    assert rows == [], [tuple(r) for r in rows]
    for t in s.trials(json.loads(out)["run_id"]):
        steps = [p["step"] for p in s.points(t["id"])]
        assert steps == sorted(set(steps)) and steps[-1] == t["steps"], (t["kind"], t["d"], steps[:20])
    s.close()


def test_a_local_ray_instance_listens_on_the_loopback_interface_only(tmp_path):
    code = (
        "import psutil, sys\n"
        "from idim_core.executors.ray_exec import connect\n"
        "connect(None, cpus=1)\n"
        "me = psutil.Process()\n"
        "seen = set()\n"
        "for p in [me, *me.children(recursive=True)]:\n"
        "    try:\n"
        "        seen |= {c.laddr.ip for c in p.net_connections(kind='inet') if c.status == psutil.CONN_LISTEN}\n"
        "    except psutil.Error:\n"
        "        pass\n"
        "print(sorted(seen))\n"
    )
    p = subprocess.run([sys.executable, "-c", code], cwd=ROOT, capture_output=True, text=True, timeout=300)
    assert p.returncode == 0, p.stderr[-2000:]
    seen = eval(p.stdout.strip().splitlines()[-1])
    assert seen and all(ip in ("127.0.0.1", "::ffff:127.0.0.1", "::1") for ip in seen), seen
